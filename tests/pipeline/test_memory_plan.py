"""The memory budget: rows per pass from the model's activations, passes split
to fit, the peak recorded; a budget that does not bind changes nothing."""

import json
import warnings
import weakref
from dataclasses import replace

import pytest
import torch
from torch import nn

from captum_contrastive.attacks.foolbox_attacks import CarliniWagnerL2
from captum_contrastive.methods import MethodSettings, build_methods, compute_maps
from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.memory_plan import (
    BACKWARD_FACTOR,
    FORWARD_ROWS_PER_ROW,
    HeldDataWarning,
    MemoryPlan,
    activation_bytes_per_row,
    forward_batch,
    forward_rows,
    held_bytes_bound,
    held_images_bound,
    parse_memory,
    plan_memory,
    warn_if_bound_exceeds,
)
from captum_contrastive.pipeline.report import write_outputs
from captum_contrastive.pipeline.runner import (
    _fit_attack,
    _method_settings,
    run_benchmark,
)
from captum_contrastive.pipeline.stages import StoredBatch
from captum_contrastive.pipeline.stored_maps import StoredImages, StoredMaps
from tests.fake_preset import fake_preset


@pytest.mark.parametrize(
    ("text", "gib"), [("4G", 4.0), ("4GiB", 4.0), ("512M", 0.5), ("2", 2.0), (3, 3.0)]
)
def test_parse_memory(text, gib) -> None:
    assert parse_memory(text) == pytest.approx(gib)


def test_parse_memory_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="not a memory size"):
        parse_memory("lots")


def test_activation_bytes_are_the_leaf_outputs() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten())
    # conv 4x8x8, relu 4x8x8, flatten 256 floats of 4 bytes
    assert activation_bytes_per_row(model, (3, 8, 8)) == 3 * 256 * 4


def test_rows_grow_with_the_budget_and_stay_positive() -> None:
    model = fake_preset().pixel_model()
    small = plan_memory(model, (3, 16, 16), 0.0001)
    large = plan_memory(model, (3, 16, 16), 64.0)
    assert small.rows_per_pass == 1
    assert large.rows_per_pass > 1000
    assert large.row_bytes == int(
        activation_bytes_per_row(model, (3, 16, 16)) * BACKWARD_FACTOR
    )


def test_split_passes_give_the_same_maps() -> None:
    model = fake_preset().pixel_model()
    images = torch.rand(5, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    targets, indices = [0, 1, 2, 3, 0], list(range(5))
    whole = build_methods(MethodSettings(ig_steps=6, smoothgrad_samples=4))
    split = build_methods(
        MethodSettings(ig_steps=6, smoothgrad_samples=4, rows_per_pass=3)
    )
    for name in ("integrated_gradients", "contrastive_ig", "smoothgrad", "saliency"):
        a = compute_maps(whole[name], model, images, targets, indices, 0)
        b = compute_maps(split[name], model, images, targets, indices, 0)
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
        assert split[name].key()["settings"]["rows_per_pass"] == 3
        assert "rows_per_pass" not in whole[name].key()["settings"]


def test_a_chunk_left_on_the_autograd_graph_is_freed_before_the_next() -> None:
    """LayerGradCam on a model whose weights require grad returns maps that
    still hold the chunk's forward graph; kept as they were, every chunk's
    activations stayed alive until the last one (peak RSS grew with N)."""
    model = fake_preset().pixel_model()
    assert any(p.requires_grad for p in model.parameters())
    spec = build_methods(MethodSettings(rows_per_pass=2))["layer_gradcam"]
    built = spec.build
    returned: list[weakref.ref] = []
    alive_at_each_call: list[bool] = []

    def build(model: nn.Module):
        attribute = built(model)

        def tracked(*args, **kwargs):
            alive_at_each_call.append(any(r() is not None for r in returned))
            maps = attribute(*args, **kwargs)
            assert maps.grad_fn is not None  # the case this test is about
            returned.append(weakref.ref(maps))
            return maps

        return tracked

    images = torch.rand(5, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    maps = compute_maps(
        replace(spec, build=build), model, images, [0, 1, 2, 3, 0], range(5), 0
    )
    assert alive_at_each_call == [False, False, False]
    assert maps.grad_fn is None and not maps.requires_grad


def _plan(rows: int) -> MemoryPlan:
    return MemoryPlan(4.0, 1.0, 1000, rows)


def test_a_budget_that_binds_splits_the_methods_only_then() -> None:
    config = BenchmarkConfig(shard_size=8, ig_steps=4, smoothgrad_samples=2)
    assert _method_settings(config, _plan(32)).rows_per_pass is None
    assert _method_settings(config, _plan(31)).rows_per_pass == 31


def test_attacks_lose_threads_then_batch_rows() -> None:
    attack = CarliniWagnerL2(steps=2)
    assert _fit_attack(attack, 2, 8, _plan(16)) == (attack, 2)
    assert _fit_attack(attack, 2, 8, _plan(12)) == (attack, 1)
    smaller, workers = _fit_attack(attack, 2, 8, _plan(5))
    assert workers == 1 and smaller.batch_size == 5
    assert smaller.settings() != attack.settings()


def test_the_held_images_are_a_few_shards_whatever_the_images() -> None:
    image = 3 * 224 * 224 * 4
    one = held_images_bound(image, 32, 1)
    # No argument is the number of images: it is a number of shards.
    assert one % (32 * image) == 0
    assert held_images_bound(image, 64, 1) == 2 * one
    assert held_images_bound(image, 32, 2) == one + 3 * 32 * image
    # A shard smaller than a study's chunk of rows counts as a chunk.
    assert held_images_bound(image, 8, 1) == one


def test_what_is_held_besides_the_images_is_a_few_bytes_per_image() -> None:
    assert held_bytes_bound(0, 6) == held_bytes_bound(0, 0)
    per_image = held_bytes_bound(1000, 6) - held_bytes_bound(0, 6)
    # 16 + 6 x 64 bytes: an eighth of one 16 x 16 RGB image per image.
    assert per_image == 1000 * 400 < 1000 * 3 * 16 * 16 * 4 / 7


def test_a_bound_over_the_budget_warns_and_never_suggests_fewer_images() -> None:
    plan = MemoryPlan(4.0, 1.0, 2**28, 4, reserved_gib=1.0)  # passes: 1 GiB
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fits = warn_if_bound_exceeds(plan, 4, 2**30, 32)
    assert fits == pytest.approx(3.0)
    with pytest.warns(HeldDataWarning, match="over `max_memory`") as found:
        projected = warn_if_bound_exceeds(plan, 4, 5 * 2**29, 32)
    assert projected == pytest.approx(4.5)
    message = str(found[0].message)
    assert "--max-memory to 4.5G" in message and "`shard_size`" in message
    assert "fewer images cannot meet it" in message and "--n-images" not in message


def test_a_tiny_budget_runs_and_records_its_peak(tmp_path) -> None:
    config = BenchmarkConfig(
        out=tmp_path,
        n_images=4,
        methods=("integrated_gradients", "saliency", "enhanced_gbp"),
        studies=("adversarial",),
        attacks=("fgsm",),
        control_runs=(),
        recovery_attacks=(),
        ig_steps=4,
        n_resamples=20,
        grid_images=1,
        progress=False,
        max_memory=0.0001,
    )
    with pytest.warns(HeldDataWarning, match="over `max_memory`"):
        run = run_benchmark(config, fake_preset())
    assert run.memory.rows_per_pass == 1
    # The images and maps stay in the cache; what is held is a few values
    # per image, less than one image.
    assert all(isinstance(m, StoredMaps) for m in run.data.maps.values())
    assert isinstance(run.data.images, StoredImages)
    assert isinstance(run.data.attacks["fgsm"].batch, StoredBatch)
    image = run.data.images[0].nbytes
    assert 0 < run.held_bytes <= held_bytes_bound(4, 1) and run.held_bytes < image
    assert run.data.specs["integrated_gradients"].settings["rows_per_pass"] == 1
    write_outputs(run)
    memory = json.loads((tmp_path / "results.json").read_text())["run"]["memory"]
    assert memory["peak_rss_gib"] > 0 and memory["rows_per_pass_used"] == 1
    assert memory["held_data_gib"] * 2**30 == run.held_bytes
    assert memory["held_images_bound_gib"] * 2**30 == run.held_images_bound
    report = (tmp_path / "report.md").read_text()
    assert "Peak memory:" in report and "split to at most 1 image rows" in report
    assert "the images and maps stay in the cache" in report


def test_forward_passes_hold_a_multiple_of_the_backward_rows() -> None:
    plan = _plan(5)
    assert FORWARD_ROWS_PER_ROW == int(BACKWARD_FACTOR)
    assert plan.forward_rows == forward_rows(5) == 5 * FORWARD_ROWS_PER_ROW


def test_the_forward_batch_comes_from_the_plan_only_when_it_binds() -> None:
    config = BenchmarkConfig(shard_size=32, ig_steps=4, smoothgrad_samples=2)
    split = build_methods(_method_settings(config, _plan(5)))
    whole = build_methods(_method_settings(config, _plan(10_000)))
    settings = [spec.settings for spec in split.values()]
    assert forward_batch(settings, 32) == _plan(5).forward_rows == 15
    assert forward_batch(settings, 8) == 8
    assert forward_batch([spec.settings for spec in whole.values()], 32) == 32


def test_split_forward_passes_give_the_same_curves_and_runner_ups() -> None:
    from captum_contrastive.metrics.road import road_curve
    from captum_contrastive.studies.sanity import _runner_up

    model = fake_preset().pixel_model()
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(7, 3, 16, 16, generator=generator)
    maps = torch.rand(7, 3, 16, 16, generator=generator)
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2])
    common = dict(fractions=(0.25, 0.5), seed=0, indices=list(range(7)))
    whole = road_curve(model, images, labels, maps, batch_size=32, **common)
    split = road_curve(model, images, labels, maps, batch_size=3, **common)
    assert (whole.predictions == split.predictions).all()
    assert (whole.correct == split.correct).all()
    torch.testing.assert_close(
        torch.as_tensor(whole.auc), torch.as_tensor(split.auc), rtol=1e-5, atol=1e-6
    )
    assert torch.equal(
        _runner_up(model, images, labels, 32), _runner_up(model, images, labels, 3)
    )
