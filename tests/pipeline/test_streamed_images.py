"""A run's images stay in the cache: the selection's image shards, each attack
run's stored batch and the noise controls are read a shard at a time, and give
the tensors a run held before."""

from __future__ import annotations

import pytest
import torch

from captum_contrastive.attacks.noise_control import equal_norm_noise
from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.memory_plan import held_bytes_bound
from captum_contrastive.pipeline.runner import run_benchmark
from captum_contrastive.pipeline.stages import StoredBatch
from captum_contrastive.pipeline.stored_maps import (
    KEPT_SHARDS,
    StoredImages,
    forget_kept_shards,
    kept_shards,
    take_rows,
)
from tests.fake_preset import fake_preset


def _stored(sizes=(3, 3, 2)) -> tuple[StoredImages, torch.Tensor, list[int]]:
    whole = torch.rand(sum(sizes), 3, 2, 2, generator=torch.Generator().manual_seed(0))
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    reads: list[int] = []

    def load_shard(part: int) -> torch.Tensor:
        reads.append(part)
        return whole[starts[part] : starts[part] + sizes[part]].clone()

    return StoredImages.of_shards(sizes, (3, 2, 2), load_shard), whole, reads


def test_rows_taken_with_brackets_are_read_and_a_view_stays_stored() -> None:
    stored, whole, reads = _stored()
    assert torch.equal(stored[2:5], whole[2:5]) and reads == [0, 1]
    assert torch.equal(stored[-1], whole[-1]) and torch.equal(stored[0], whole[0])
    assert stored.shape == whole.shape and len(stored) == 8
    assert stored.row_bytes == whole[0].nbytes
    reads.clear()
    mask = torch.tensor([1, 0, 0, 1, 1, 0, 0, 1], dtype=torch.bool)
    view = stored.view(mask)
    assert isinstance(view, StoredImages) and reads == []
    assert torch.equal(view[1:3], whole[mask][1:3]) and reads == [1]
    assert isinstance(take_rows(stored, mask), StoredImages)
    assert torch.equal(take_rows(whole, mask), whole[mask])
    with pytest.raises(IndexError):
        stored[8]


def test_a_process_keeps_a_few_shards_of_every_loader_together() -> None:
    forget_kept_shards()
    reads: list[tuple[str, int]] = []
    loaders = {
        name: kept_shards(lambda position, name=name: reads.append((name, position)))
        for name in ("a", "b")
    }
    loaders["a"](0)
    loaders["a"](0)
    loaders["b"](0)
    assert reads == [("a", 0), ("b", 0)], "a kept shard is read once"
    for position in range(1, KEPT_SHARDS + 1):
        loaders["b"](position)
    loaders["b"](KEPT_SHARDS)
    loaders["a"](0)  # pushed out by the others: read again
    assert reads.count(("a", 0)) == 2 and reads.count(("b", KEPT_SHARDS)) == 1
    forget_kept_shards()


@pytest.fixture(scope="module")
def streamed(tmp_path_factory):
    config = BenchmarkConfig(
        out=tmp_path_factory.mktemp("streamed"),
        n_images=10,
        shard_size=4,
        methods=("saliency", "enhanced_gbp"),
        studies=("adversarial", "localization"),
        attacks=("fgsm",),
        control_runs=("fgsm",),
        recovery_attacks=(),
        n_resamples=20,
        grid_images=1,
        progress=False,
    )
    preset = fake_preset()
    return run_benchmark(config, preset), preset


def test_a_run_holds_no_image(streamed) -> None:
    run, preset = streamed
    data = run.data
    assert isinstance(data.images, StoredImages)
    assert isinstance(data.masks, StoredImages)
    assert isinstance(data.attacks["fgsm"].batch, StoredBatch)
    assert isinstance(data.noise["fgsm"], StoredImages)
    assert run.held_bytes <= held_bytes_bound(10, 1) and run.held_bytes < 2**20
    assert run.held_bytes < data.images.row_bytes * 2, "two images' worth at most"
    items = [preset.dataset[i] for i in data.selection.indices]
    assert torch.equal(data.images.load(), torch.stack([i.image for i in items]))
    assert torch.equal(data.masks.load(), torch.stack([i.mask for i in items]))
    stored = data.config.out / "cache" / "images"
    assert len(list(stored.glob("*/shard_*.pt"))) == 3  # 10 images in shards of 4


def test_stored_attacks_and_noise_give_the_tensors_of_the_whole_run(
    streamed,
) -> None:
    run, _ = streamed
    data = run.data
    batch = data.attacks["fgsm"].batch
    whole = batch.load()
    assert torch.equal(whole.clean, data.images.load())
    assert len(batch) == 10 and batch.success_rate == whole.success_rate
    noise = data.noise["fgsm"]
    assert torch.equal(noise.load(), equal_norm_noise(whole, data.config.seed))
    successful = batch.successful()
    assert isinstance(successful.adversarial, StoredImages)
    assert torch.equal(successful.adversarial.load(), whole.adversarial[whole.success])
    assert torch.equal(successful.indices, whole.indices[whole.success])
    shard = data.cut(data.selection.indices[4:8])
    assert torch.equal(shard.images, whole.clean[4:8])
    assert torch.equal(shard.attacks["fgsm"].batch.adversarial, whole.adversarial[4:8])
    assert torch.equal(shard.noise["fgsm"], noise.load()[4:8])
