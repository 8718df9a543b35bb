import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from captum_contrastive.attacks.foolbox_attacks import FGSM
from captum_contrastive.presets.base import Preset
from captum_contrastive.presets.checkpoints import (
    WeightsUnavailableError,
    resolve_weights,
    weights_cache_path,
)
from captum_contrastive.presets.image_folder import ImageFilesDataset
from captum_contrastive.presets.imagenet import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    imagenet_preset,
)

ARCH = "squeezenet1_1"


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch) -> list[str]:
    """An empty hub cache and a network that fails like an offline machine."""
    calls: list[str] = []

    def urlopen(url: str, timeout: float | None = None):
        calls.append(url)
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return calls


@pytest.fixture
def cached() -> dict:
    torch.manual_seed(0)
    state = torchvision.models.get_model(ARCH, weights=None).state_dict()
    path = weights_cache_path(resolve_weights(ARCH, "IMAGENET1K_V1"))
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    return state


def user_checkpoint(tmp_path: Path, num_classes: int) -> Path:
    torch.manual_seed(1)
    model = torchvision.models.get_model(ARCH, weights=None, num_classes=num_classes)
    path = tmp_path / "mine.pt"
    torch.save(model.state_dict(), path)
    return path


def image_folder(root: Path, classes: list[str], per_class: int = 1) -> Path:
    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def test_default_preset_is_vgg16_on_foolbox_samples(offline) -> None:
    with pytest.raises(WeightsUnavailableError, match="vgg16-397923af.pth"):
        imagenet_preset()
    assert offline == [resolve_weights("vgg16", "IMAGENET1K_V1").url]


def test_offline_preset_fails_fast(offline) -> None:
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as info:
        imagenet_preset(ARCH)
    assert time.perf_counter() - start < 5
    assert str(weights_cache_path(resolve_weights(ARCH, "IMAGENET1K_V1"))) in str(
        info.value
    )


def test_preset_from_cached_weights(cached, offline) -> None:
    preset = imagenet_preset(ARCH)
    assert isinstance(preset, Preset)
    assert offline == []
    assert preset.name == f"imagenet-{ARCH}"
    assert preset.mean == IMAGENET_MEAN and preset.std == IMAGENET_STD
    categories = torchvision.models.SqueezeNet1_1_Weights.IMAGENET1K_V1.meta[
        "categories"
    ]
    assert preset.class_names == categories and preset.num_classes == 1000
    assert not preset.model.training
    for key, value in cached.items():
        assert torch.equal(preset.model.state_dict()[key], value)
    assert len(preset.dataset) == 20
    item = preset.dataset[0]
    assert item.image.shape == (3, 224, 224) and item.label == 243
    assert preset.preprocessing() == {
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
        "axis": -3,
    }
    assert preset.extra["weights"] == "SqueezeNet1_1_Weights.IMAGENET1K_V1"


def test_preset_feeds_the_attacks(cached) -> None:
    preset = imagenet_preset(ARCH)
    items = [preset.dataset[i] for i in (0, 1)]
    images = torch.stack([item.image for item in items])
    labels = torch.tensor([item.label for item in items])
    batch = FGSM(epsilon=4 / 255)(
        preset.model,
        images,
        labels,
        preprocessing=preset.preprocessing(),
        indices=[0, 1],
    )
    with torch.no_grad():
        expected = preset.pixel_model()(batch.adversarial).argmax(1)
    assert torch.equal(batch.adversarial_predictions, expected)


def test_user_checkpoint_with_an_image_folder(tmp_path) -> None:
    root = image_folder(tmp_path / "data", ["ant", "bee", "cat"])
    preset = imagenet_preset(ARCH, weights_path=user_checkpoint(tmp_path, 3), data=root)
    assert preset.class_names == ["ant", "bee", "cat"]
    assert preset.dataset[2].label == 2
    with torch.no_grad():
        logits = preset.pixel_model()(preset.dataset[0].image[None])
    assert logits.shape == (1, 3)


def test_folder_class_count_must_match_the_model(tmp_path) -> None:
    root = image_folder(tmp_path / "data", ["ant", "bee"])
    with pytest.raises(ValueError, match="2 classes but the model has 3 outputs"):
        imagenet_preset(ARCH, weights_path=user_checkpoint(tmp_path, 3), data=root)


def test_labels_file_beyond_the_model(tmp_path) -> None:
    root = image_folder(tmp_path / "data", ["x"], per_class=2)
    labels = tmp_path / "labels.txt"
    labels.write_text("0\n5\n")
    with pytest.raises(ValueError, match="label 5 but the model has only 3"):
        imagenet_preset(
            ARCH,
            weights_path=user_checkpoint(tmp_path, 3),
            data=root / "x",
            labels_file=labels,
        )


def test_flat_directory_with_labels_file(tmp_path, cached) -> None:
    root = image_folder(tmp_path / "data", ["x"], per_class=3)
    labels = tmp_path / "labels.txt"
    labels.write_text("1.png 7\n0.png 3\n2.png 999\n")
    preset = imagenet_preset(ARCH, data=root / "x", labels_file=labels)
    assert isinstance(preset.dataset, ImageFilesDataset)
    assert preset.dataset.labels == [3, 7, 999]
    assert preset.class_names[7] == "cock"


def test_any_dataset_object_is_used_as_is(cached) -> None:
    dataset = ImageFilesDataset([Path("a.png")], [1])
    assert imagenet_preset(ARCH, data=dataset).dataset is dataset


def test_data_errors_come_before_loading_weights(tmp_path, offline) -> None:
    with pytest.raises(ValueError, match="no class subfolders"):
        (tmp_path / "empty").mkdir()
        imagenet_preset(data=tmp_path / "empty")
    with pytest.raises(ValueError, match="`labels_file` needs `data`"):
        imagenet_preset(labels_file=tmp_path / "labels.txt")
    assert offline == []
