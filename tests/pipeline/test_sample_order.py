"""A fair sample (seeded, class-balanced order) and the measured mean-colour fill."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from PIL import Image
from torch import Tensor, nn

from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.sample_order import SampleOrder, dataset_labels
from captum_contrastive.pipeline.stages import StageContext, select_correct
from captum_contrastive.presets.base import LabeledImage, Normalize, Preset
from captum_contrastive.presets.image_folder import (
    CenterCropTransform,
    ImageFolderDataset,
)

#: One colour per class; the colour model predicts the nearest one.
CENTRES = torch.tensor(
    [[0.9, 0.1, 0.1], [0.1, 0.9, 0.1], [0.1, 0.1, 0.9], [0.6, 0.6, 0.2]]
)


class ColourModel(nn.Module):
    """Logits: minus the squared distance of the image's mean colour to each
    class colour (no weights, so it is deterministic and batch-independent)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("centres", CENTRES.clone())

    def forward(self, x: Tensor) -> Tensor:
        colour = x.mean(dim=(2, 3))
        return -((colour[:, None, :] - self.centres[None]) ** 2).sum(dim=2)


class ColourDataset:
    """Constant-colour 4x4 images, sorted by class like an ImageFolder; images in
    ``wrong`` show another class's colour than their label."""

    def __init__(
        self, counts: tuple[int, ...], wrong: tuple[int, ...] = (), labels=True
    ) -> None:
        self._labels = [c for c, n in enumerate(counts) for _ in range(n)]
        self.wrong = set(wrong)
        self.known = labels

    @property
    def labels(self) -> list[int] | None:
        return list(self._labels) if self.known else None

    def colour(self, index: int) -> Tensor:
        label = self._labels[index]
        shown = (label + 1) % len(CENTRES) if index in self.wrong else label
        return CENTRES[shown] + 0.001 * (index % 7)

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index: int) -> LabeledImage:
        image = self.colour(index).view(3, 1, 1).expand(3, 4, 4).clone()
        return LabeledImage(image, self._labels[index])


def _preset(dataset, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)) -> Preset:
    return Preset("colours", ColourModel(), mean, std, list("abcd"), dataset)


def _select(tmp_path, dataset, n, **options):
    context = StageContext.for_preset(_preset(dataset), tmp_path, progress=False)
    return select_correct(context, n, **options)


def _spread(labels: list[int]) -> int:
    counts = Counter(labels)
    return max(counts.values()) - min(counts.get(c, 0) for c in set(labels))


def test_a_class_sorted_image_folder_is_sampled_balanced(tmp_path) -> None:
    root = tmp_path / "folder"
    for c, name in enumerate(["ant", "bee", "cat"]):
        (root / name).mkdir(parents=True)
        for i in range(5):
            pixel = tuple(int(255 * v) for v in CENTRES[c])
            Image.new("RGB", (6, 6), pixel).save(root / name / f"{i}.png")
    dataset = ImageFolderDataset(root, CenterCropTransform(resize=4, crop=4))
    assert dataset_labels(dataset) == [0] * 5 + [1] * 5 + [2] * 5
    selection = _select(tmp_path / "cache", dataset, 6)
    chosen = [dataset.labels[i] for i in selection.indices]
    assert sorted(chosen[:3]) == [0, 1, 2] and sorted(chosen[3:]) == [0, 1, 2]
    assert "class-balanced" in selection.order and "3 classes" in selection.order
    old = _select(tmp_path / "cache", dataset, 6, order="index")
    assert old.indices == [0, 1, 2, 3, 4, 5] and old.order.startswith("index")


def test_every_prefix_is_balanced_until_a_class_runs_out() -> None:
    dataset = ColourDataset((9, 2, 6, 5))
    order = SampleOrder.build(dataset, "random", seed=3)
    assert sorted(order.indices) == list(range(len(dataset)))
    labels = [dataset.labels[i] for i in order.indices]
    totals = Counter(labels)
    for k in range(1, len(labels) + 1):
        counts = Counter(labels[:k])
        most = max(counts.values())
        # round-robin: a class lags at most one round, unless it has run out
        assert all(counts[c] >= min(totals[c], most - 1) for c in totals)
    assert _spread(labels[:8]) == 0 and Counter(labels[:12])[1] == 2
    assert labels[-3:] == [0, 0, 0]  # the largest class fills the last rounds


def test_the_order_is_seeded() -> None:
    dataset = ColourDataset((6, 6, 6))
    first = SampleOrder.build(dataset, "random", seed=0)
    assert first == SampleOrder.build(dataset, "random", seed=0)
    other = SampleOrder.build(dataset, "random", seed=1)
    assert other.indices != first.indices and other.key() != first.key()
    unlabelled = SampleOrder.build(ColourDataset((6, 6, 6), labels=False), seed=0)
    assert unlabelled.classes is None and unlabelled.indices != list(range(18))
    assert "not balanced" in unlabelled.describe()
    assert SampleOrder.build(dataset, "index").indices == list(range(18))


def test_labels_of_the_wrong_length_are_refused() -> None:
    class Bad(ColourDataset):
        labels = [0, 1]

    with pytest.raises(ValueError, match="one integer per image"):
        dataset_labels(Bad((3, 3)))
    with pytest.raises(ValueError, match="sample_order"):
        SampleOrder.build(ColourDataset((3,)), "shuffled")


def test_index_order_reproduces_the_first_correct_in_index_order(tmp_path) -> None:
    dataset = ColourDataset((5, 5, 5), wrong=(0, 2, 6, 7))
    selection = _select(tmp_path, dataset, 5, order="index")
    assert selection.indices == [1, 3, 4, 5, 8] and selection.scanned == 9


def test_a_class_without_correct_images_does_not_block(tmp_path) -> None:
    dataset = ColourDataset((4, 4, 4), wrong=(0, 1, 2, 3))
    selection = _select(tmp_path, dataset, 8, seed=5)
    assert sorted(dataset.labels[i] for i in selection.indices) == [1] * 4 + [2] * 4


def test_the_selection_does_not_depend_on_the_scan_shard_size(tmp_path) -> None:
    dataset = ColourDataset((7, 5, 6), wrong=(1, 8, 13))
    found = [
        _select(tmp_path, dataset, 9, scan_shard_size=size, seed=2)
        for size in (1, 4, 64)
    ]
    for other in found[1:]:
        assert other.indices == found[0].indices
        assert other.mean_colour == found[0].mean_colour
        assert other.mean_colour_images == found[0].mean_colour_images


def test_the_key_holds_the_order(tmp_path) -> None:
    dataset = ColourDataset((6, 6, 6))
    digests = {
        _select(tmp_path, dataset, 4, **options).key.digest
        for options in ({"seed": 0}, {"seed": 1}, {"order": "index"})
    }
    assert len(digests) == 3
    again = _select(tmp_path, dataset, 4, seed=0)
    assert again.key.digest in digests
    assert again.key.parts["mean_colour"] == list(again.mean_colour)


def test_the_mean_fill_is_the_measured_mean_of_the_scanned_images(tmp_path) -> None:
    dataset = ColourDataset((3, 3), wrong=(1,))
    selection = _select(tmp_path, dataset, 2, order="index")
    # chosen 0 and 2; image 1 (misclassified) was scanned on the way and counts
    assert selection.indices == [0, 2] and selection.mean_colour_images == 3
    assert selection.scanned == 3
    expected = (dataset.colour(0) + dataset.colour(1) + dataset.colour(2)) / 3
    assert selection.mean_colour == pytest.approx(expected.tolist(), abs=1e-6)
    record = selection.mean_colour_record()
    assert record["images"] == 3 and "pixel space" in record["rule"]


def test_a_model_normalizing_inside_gets_the_data_mean_not_black(tmp_path) -> None:
    from captum_contrastive.pipeline.runner import run_benchmark
    from tests.fake_preset import fake_preset

    inner = fake_preset()
    # the same classifier with its normalization inside: mean 0, std 1 outside
    inside = nn.Sequential(Normalize(inner.mean, inner.std), inner.model).eval()
    preset = Preset("inside", inside, (0.0,) * 3, (1.0,) * 3, inner.class_names,
                    inner.dataset)  # fmt: skip
    config = BenchmarkConfig(
        out=tmp_path, n_images=4, methods=("saliency",), attacks=("fgsm",),
        fgsm_epsilon=0.2, recovery_attacks=("fgsm",), studies=("recovery",),
        failure_run=None, control_runs=(), n_resamples=20, progress=False,
    )  # fmt: skip
    run = run_benchmark(config, preset)
    selection = run.data.selection
    scanned = SampleOrder.build(inner.dataset, seed=0).indices
    scanned = scanned[: scanned.index(selection.indices[-1]) + 1]
    expected = inner.dataset.images[scanned].double().mean(dim=(0, 2, 3))
    assert selection.mean_colour == pytest.approx(expected.tolist(), abs=1e-9)
    assert min(selection.mean_colour) > 0.4  # uniform images: about 0.5, not 0
    protocol = run.results["recovery"].summary["fgsm"].protocol
    assert protocol["mean"] == pytest.approx(list(selection.mean_colour), abs=1e-6)
    assert protocol["mean_measured"]["images"] == len(scanned)


def test_the_command_line_sets_the_sample_order() -> None:
    from captum_contrastive.pipeline.cli import build_parser, config_from_args

    args = build_parser("x", "out").parse_args(["--sample-order", "index"])
    assert config_from_args(args)[0].sample_order == "index"
    assert BenchmarkConfig().sample_order == "random"
    with pytest.raises(ValueError, match="sample_order"):
        BenchmarkConfig(sample_order="sorted")


def test_attack_strength_counts_the_images_scanned_in_the_order(tmp_path) -> None:
    from captum_contrastive.attacks.foolbox_attacks import FGSM
    from captum_contrastive.pipeline.attack_strength import attack_strength
    from tests.fake_preset import fake_preset

    preset = fake_preset(wrong_labels=(0, 1, 2, 3, 4, 5))
    found = attack_strength(
        preset, {"fgsm": FGSM(epsilon=0.1)}, 3, tmp_path, progress=False
    )
    order = SampleOrder.build(preset.dataset, seed=0).indices
    wrong = sum(1 for i in order[: found["scanned"]] if i < 6)
    assert found["n_images"] == 3 and found["scanned"] == 3 + wrong
    assert found["sample_order"].startswith("random")
