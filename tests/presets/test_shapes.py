import numpy as np
import pytest
import torch

from captum_contrastive.presets.base import LabeledImage
from captum_contrastive.presets.shapes import (
    IMAGE_SIZE,
    MEAN,
    SHAPE_CLASSES,
    STD,
    MultiShapesDataset,
    ShapesDataset,
)

S = IMAGE_SIZE


def test_classes_and_constants() -> None:
    assert len(SHAPE_CLASSES) >= 6
    assert len(set(SHAPE_CLASSES)) == len(SHAPE_CLASSES)
    assert 32 <= S <= 48
    assert len(MEAN) == len(STD) == 3
    assert all(s > 0 for s in STD)


def test_item_types_and_ranges() -> None:
    item = ShapesDataset(4, seed=0)[2]
    assert isinstance(item, LabeledImage)
    assert item.image.shape == (3, S, S) and item.image.dtype == torch.float32
    assert 0.0 <= item.image.min() and item.image.max() <= 1.0
    assert item.mask.shape == (S, S) and item.mask.dtype == torch.bool
    assert item.labels == (item.label,)
    assert torch.equal(item.masks, item.mask[None])
    assert 0 <= item.label < len(SHAPE_CLASSES)


def test_deterministic_and_index_independent() -> None:
    dataset = ShapesDataset(12, seed=3)
    images, labels, masks = dataset.batch(range(12))
    again = ShapesDataset(50, seed=3)
    for i in (0, 5, 11):
        item = again[i]
        assert torch.equal(item.image, images[i])
        assert item.label == labels[i]
        assert torch.equal(item.mask, masks[i])
    shuffled, _, _ = dataset.batch([11, 5, 0])
    assert torch.equal(shuffled, images[[11, 5, 0]])
    other, _, _ = ShapesDataset(12, seed=4).batch(range(12))
    assert not torch.equal(other, images)


def test_masks_non_empty_and_cover_the_object() -> None:
    images, labels, masks = ShapesDataset(64, seed=1).batch(range(64))
    area = masks.float().mean(dim=(1, 2))
    assert (area > 0.02).all() and (area < 0.6).all()
    assert len(set(labels.tolist())) == len(SHAPE_CLASSES)
    inside = (images * masks[:, None]).sum((2, 3)) / masks.sum((1, 2))[:, None]
    outside = (images * ~masks[:, None]).sum((2, 3)) / (~masks).sum((1, 2))[:, None]
    assert (inside - outside).norm(dim=1).mean() > 0.3


def test_splits_are_disjoint() -> None:
    flat = {}
    for split in ("train", "val", "test"):
        images, _, _ = ShapesDataset(40, seed=0, split=split).batch(range(40))
        flat[split] = {img.numpy().tobytes() for img in images}
        assert len(flat[split]) == 40
    assert not flat["train"] & flat["val"]
    assert not flat["train"] & flat["test"]
    assert not flat["val"] & flat["test"]
    with pytest.raises(ValueError):
        ShapesDataset(1, split="dev")


def test_index_out_of_range() -> None:
    dataset = ShapesDataset(3)
    with pytest.raises(IndexError):
        dataset[3]
    assert len(list(iter(dataset))) == 3


def test_multi_object_distinct_classes_and_masks() -> None:
    dataset = MultiShapesDataset(30, seed=0, objects=(2, 3))
    counts = set()
    for i in range(len(dataset)):
        item = dataset[i]
        k = len(item.labels)
        counts.add(k)
        assert 2 <= k <= 3
        assert len(set(item.labels)) == k
        assert item.label == item.labels[0]
        assert item.masks.shape == (k, S, S)
        assert item.masks.flatten(1).any(dim=1).all()
        assert (item.masks.sum(dim=0) <= 1).all()
        assert torch.equal(item.mask, item.masks.any(dim=0))
    assert counts == {2, 3}
    rendered = dataset.render([4, 1])
    assert rendered.targets.shape == (2, len(SHAPE_CLASSES))
    assert rendered.targets.sum(dim=1).tolist() == [
        len(dataset[4].labels),
        len(dataset[1].labels),
    ]
    assert torch.equal(rendered.object_masks[1], dataset[1].masks)


def test_multi_object_differs_from_single() -> None:
    single, _, _ = ShapesDataset(5, seed=0).batch(range(5))
    multi, _, _ = MultiShapesDataset(5, seed=0).batch(range(5))
    assert not torch.equal(single, multi)


def test_generation_is_fast() -> None:
    import time

    start = time.perf_counter()
    ShapesDataset(500, seed=0).batch(range(500))
    assert time.perf_counter() - start < 5.0


def test_channel_statistics_match_constants() -> None:
    images, _, _ = ShapesDataset(300, seed=0, split="train").batch(range(300))
    mean = images.mean(dim=(0, 2, 3)).numpy()
    std = images.std(dim=(0, 2, 3)).numpy()
    assert np.allclose(mean, MEAN, atol=0.05)
    assert np.allclose(std, STD, atol=0.05)
