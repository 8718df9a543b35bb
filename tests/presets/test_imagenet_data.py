from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from captum_contrastive.presets.base import LabeledImage
from captum_contrastive.presets.image_folder import (
    CenterCropTransform,
    ImageFilesDataset,
    ImageFolderDataset,
    ImageReadError,
    foolbox_imagenet_samples,
    load_image,
    read_label_file,
    read_label_sets,
)

SMALL = CenterCropTransform(resize=20, crop=16)


def write_image(path: Path, mode: str = "RGB", size=(30, 24), seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode).save(path)
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "folder"
    write_image(root / "cat" / "b.png", "RGB", seed=1)
    write_image(root / "cat" / "a.jpg", "L", seed=2)
    write_image(root / "dog" / "nested" / "c.png", "RGBA", seed=3)
    write_image(root / "ant" / "d.bmp", seed=4)
    (root / "cat" / "README.txt").write_text("not an image")
    return root


@pytest.fixture
def flat(tmp_path) -> Path:
    directory = tmp_path / "val"
    for i, name in enumerate(["v3.png", "v1.jpg", "v2.png"]):
        write_image(directory / name, seed=i)
    (directory / "notes.txt").write_text("ignored")
    return directory


def test_center_crop_transform_defaults_to_imagenet() -> None:
    image = Image.new("RGB", (500, 375), (255, 0, 0))
    tensor = CenterCropTransform()(image)
    assert tensor.shape == (3, 224, 224)
    assert tensor.dtype == torch.float32
    assert torch.allclose(tensor[0], torch.ones(224, 224))
    assert tensor[1:].abs().max() == 0


def test_image_folder(folder) -> None:
    dataset = ImageFolderDataset(folder, SMALL)
    assert dataset.classes == ["ant", "cat", "dog"]
    assert dataset.class_to_idx == {"ant": 0, "cat": 1, "dog": 2}
    assert dataset.num_classes == 3
    assert [f.name for f in dataset.files] == ["d.bmp", "a.jpg", "b.png", "c.png"]
    assert dataset.labels == [0, 1, 1, 2]
    assert len(dataset) == 4
    item = dataset[1]
    assert isinstance(item, LabeledImage)
    assert item.label == 1 and item.labels == (1,) and item.mask is None
    assert item.image.shape == (3, 16, 16)
    assert 0 <= item.image.min() and item.image.max() <= 1
    assert dataset[-1].label == 2
    assert dataset[np.int64(2)].label == 1


def test_grayscale_and_rgba_become_rgb(folder) -> None:
    gray = load_image(folder / "cat" / "a.jpg", SMALL)
    assert gray.shape == (3, 16, 16)
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2])
    assert load_image(folder / "dog" / "nested" / "c.png", SMALL).shape == (3, 16, 16)


def test_index_out_of_range(folder) -> None:
    dataset = ImageFolderDataset(folder, SMALL)
    with pytest.raises(IndexError):
        dataset[4]
    assert len(list(dataset)) == 4


def test_labels_one_per_line_in_sorted_file_order(flat, tmp_path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("5\n7\n9\n\n")
    dataset = ImageFilesDataset.from_label_file(flat, labels, SMALL)
    assert [f.name for f in dataset.files] == ["v1.jpg", "v2.png", "v3.png"]
    assert dataset.labels == [5, 7, 9]
    assert dataset.num_classes is None
    assert dataset[2].label == 9


def test_labels_with_file_names_in_any_order(flat, tmp_path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("val/v3.png 9\nv1.jpg   5\nv2.png\t7\n")
    dataset = ImageFilesDataset.from_label_file(flat, labels, SMALL)
    assert dataset.labels == [5, 7, 9]
    assert dataset.label_sets is None and dataset.multi_label_indices() == []
    assert dataset[0].labels == (5,)


def test_multi_label_lines_give_every_class_present(flat, tmp_path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("v3.png 9 4\nv1.jpg 5\nv2.png 7 7 2\n")
    dataset = ImageFilesDataset.from_label_file(flat, labels, SMALL)
    assert dataset.labels == [5, 7, 9]
    assert dataset.label_sets == [(5,), (7, 7, 2), (9, 4)]
    assert dataset[2].labels == (9, 4) and dataset[2].label == 9
    assert dataset.multi_label_indices() == [1, 2]
    assert read_label_sets(labels, ["v1.jpg", "v2.png", "v3.png"])[2] == (9, 4)
    assert "label_sets" in dataset.identity()
    spaced = tmp_path / "spaced.txt"
    spaced.write_text("my 2.png 3 4\n")
    assert read_label_sets(spaced, ["my 2.png"]) == [(3, 4)]


def test_label_sets_must_start_with_the_label(flat) -> None:
    files = sorted(flat.glob("*.png"))
    with pytest.raises(ValueError, match="must start with the file's label 1"):
        ImageFilesDataset(files, [1, 2], SMALL, label_sets=[(3, 1), (2,)])
    with pytest.raises(ValueError, match="1 label sets for 2"):
        ImageFilesDataset(files, [1, 2], SMALL, label_sets=[(1,)])


@pytest.mark.parametrize(
    "content, match",
    [
        ("5\n7\n", "has 2 labels but there are 3 images"),
        ("5\n7\n9\n11\n", "has 4 labels but there are 3 images"),
        ("5\nv2.png 7\n9\n", "mixes lines"),
        ("5\nseven\n9\n", "line 2: 'seven' is not an integer"),
        ("5\n-1\n9\n", "line 2: label -1 is negative"),
        ("v1.jpg 5\nv2.png 7\n", r"images without a label \['v3.png'\]"),
        ("v1.jpg 5\nv2.png 7\nv3.png 9\nv4.png 1\n", r"not found \['v4.png'\]"),
        ("v1.jpg 5\nv1.jpg 6\nv3.png 9\n", "'v1.jpg' listed twice"),
        ("\n\n", "is empty"),
        ("v1.jpg 5\n2 7\nv3.png 9\n", r"not found \['2'\]"),
    ],
)
def test_bad_label_files(flat, tmp_path, content, match) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        ImageFilesDataset.from_label_file(flat, labels)
    assert "labels.txt" in str(info.value)


def test_missing_label_file(flat, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_label_file(tmp_path / "nope.txt", ["a.png"])


def test_empty_directories(tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no class subfolders"):
        ImageFolderDataset(empty)
    labels = tmp_path / "labels.txt"
    labels.write_text("1\n")
    with pytest.raises(ValueError, match="has no image files"):
        ImageFilesDataset.from_label_file(empty, labels)
    (empty / "cat").mkdir()
    write_image(empty / "dog" / "a.png")
    with pytest.raises(ValueError, match=r"without image files .* \['cat'\]"):
        ImageFolderDataset(empty)
    with pytest.raises(FileNotFoundError, match="missing"):
        ImageFolderDataset(tmp_path / "missing")


def test_files_and_labels_must_pair_up(tmp_path) -> None:
    with pytest.raises(ValueError, match="no image files"):
        ImageFilesDataset([], [])
    with pytest.raises(ValueError, match="2 labels for 1 image files"):
        ImageFilesDataset([tmp_path / "a.png"], [1, 2])
    with pytest.raises(ValueError, match="not an integer"):
        ImageFilesDataset([tmp_path / "a.png"], [1.5])


@pytest.mark.parametrize(
    "name, payload",
    [
        ("random.jpg", b"\x00\x01 definitely not a jpeg" * 10),
        ("empty.png", b""),
        ("truncated.png", None),
    ],
)
def test_corrupt_images_name_the_file(folder, name, payload) -> None:
    path = folder / "cat" / name
    if payload is None:
        good = write_image(folder / "tmp.png", size=(64, 64)).read_bytes()
        payload = good[: len(good) // 2]
    path.write_bytes(payload)
    dataset = ImageFolderDataset(folder, SMALL)
    index = [f.name for f in dataset.files].index(name)
    with pytest.raises(ImageReadError, match=name) as info:
        dataset[index]
    assert isinstance(info.value, ValueError)
    assert info.value.__cause__ is None
    with pytest.raises(ImageReadError, match=f"1 of {len(dataset)}"):
        dataset.verify()


def test_missing_image_file_names_it(tmp_path) -> None:
    dataset = ImageFilesDataset([tmp_path / "gone.png"], [0])
    with pytest.raises(ImageReadError, match="gone.png"):
        dataset[0]


def test_verify_passes_on_good_images(folder) -> None:
    ImageFolderDataset(folder, SMALL).verify()


def test_foolbox_samples() -> None:
    samples = foolbox_imagenet_samples()
    assert len(samples) == 20
    assert samples.labels[:3] == [243, 559, 438]
    for path, label in zip(samples.files, samples.labels, strict=True):
        assert path.name.startswith("imagenet_")
        assert path.stem.endswith(f"_{label}")
    indices = [int(p.stem.split("_")[1]) for p in samples.files]
    assert indices == list(range(20))
    item = samples[0]
    assert item.label == 243
    assert item.image.shape == (3, 224, 224)
    assert 0 <= item.image.min() and item.image.max() <= 1
    assert item.image.std() > 0.05
