"""Procedural "shapes" images: an offline world with known object masks.

Every image is drawn from its own random stream,
``image_rng(seed, index, f"shapes/{split}")`` (``"multishapes/..."`` for the
multi-object variant), so any index can be generated alone, on any process, in any
order, and gives the same pixels (see :mod:`captum_contrastive.random_streams`). The
split name is part of the stream's purpose string, so the ``"train"``, ``"val"`` and
``"test"`` splits are independent draws.

An image is a textured background (a random base colour, a smooth low-frequency
pattern and a sinusoidal grating) with one or more flat-coloured, anti-aliased shapes,
plus Gaussian pixel noise over everything. Each shape has a random position, size,
rotation and a colour chosen far from the background's base colour. Masks are the
pixels at least half covered by a shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from captum_contrastive.presets.base import LabeledImage
from captum_contrastive.random_streams import image_rng

__all__ = [
    "IMAGE_SIZE",
    "MEAN",
    "SHAPE_CLASSES",
    "SPLITS",
    "STD",
    "MultiShapesDataset",
    "ShapesBatch",
    "ShapesDataset",
]

IMAGE_SIZE = 32
SPLITS = ("train", "val", "test")
SHAPE_CLASSES = [
    "circle",
    "square",
    "triangle",
    "star",
    "cross",
    "ring",
    "crescent",
    "heart",
]
MEAN = (0.4982, 0.4990, 0.5022)
STD = (0.2499, 0.2511, 0.2500)

_SINGLE_RADIUS = (0.16, 0.40)
_MULTI_RADIUS = (0.18, 0.27)
_NOISE_STD = (0.02, 0.08)
_MIN_COLOUR_DISTANCE = 0.45
_PLACEMENT_TRIES = 40

ShapeFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _box(u: np.ndarray, v: np.ndarray, half_u: float, half_v: float) -> np.ndarray:
    return np.maximum(np.abs(u) - half_u, np.abs(v) - half_v)


def _circle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.sqrt(u * u + v * v) - 1.0


def _square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return _box(u, v, 0.7, 0.7)


_TRIANGLE_NORMALS = np.array(
    [[np.cos(a), np.sin(a)] for a in (-np.pi / 2, np.pi / 6, 5 * np.pi / 6)]
)


def _triangle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    n = _TRIANGLE_NORMALS
    d0 = n[0, 0] * u + n[0, 1] * v
    d1 = n[1, 0] * u + n[1, 1] * v
    d2 = n[2, 0] * u + n[2, 1] * v
    return np.maximum(np.maximum(d0, d1), d2) - 0.5


_STAR_POINTS = 5
_STAR_INNER = 0.45


def _star_edge() -> tuple[np.ndarray, float]:
    half = np.pi / _STAR_POINTS
    outer = np.array([1.0, 0.0])
    inner = _STAR_INNER * np.array([np.cos(half), np.sin(half)])
    edge = inner - outer
    normal = np.array([edge[1], -edge[0]]) / np.hypot(*edge)
    if normal @ outer < 0:
        normal = -normal
    return normal, float(normal @ outer)


_STAR_NORMAL, _STAR_OFFSET = _star_edge()


def _star(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    sector = 2 * np.pi / _STAR_POINTS
    rho = np.sqrt(u * u + v * v)
    phi = np.abs(np.mod(np.arctan2(v, u) + sector / 2, sector) - sector / 2)
    return (
        _STAR_NORMAL[0] * rho * np.cos(phi)
        + _STAR_NORMAL[1] * rho * np.sin(phi)
        - _STAR_OFFSET
    )


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.minimum(_box(u, v, 0.95, 0.3), _box(u, v, 0.3, 0.95))


def _ring(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.abs(np.sqrt(u * u + v * v) - 0.72) - 0.28


def _crescent(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    bite = np.sqrt((u - 0.5) ** 2 + v * v) - 0.8
    return np.maximum(_circle(u, v), -bite)


def _heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    half, centre = 0.75, -0.15
    diamond = (np.abs(u) + np.abs(v - centre) - half) / np.sqrt(2.0)
    lobe = np.sqrt((np.abs(u) - half / 2) ** 2 + (v - centre - half / 2) ** 2)
    return np.minimum(diamond, lobe - half / np.sqrt(2.0))


_SHAPE_FNS: dict[str, ShapeFn] = {
    "circle": _circle,
    "square": _square,
    "triangle": _triangle,
    "star": _star,
    "cross": _cross,
    "ring": _ring,
    "crescent": _crescent,
    "heart": _heart,
}


@dataclass(frozen=True)
class _Object:
    label: int
    x: float
    y: float
    radius: float
    angle: float
    colour: np.ndarray


@dataclass(frozen=True)
class _Sample:
    image: np.ndarray
    labels: tuple[int, ...]
    masks: np.ndarray


@dataclass(frozen=True)
class ShapesBatch:
    """Several rendered images, as tensors.

    Attributes:
        images: ``(N, 3, S, S)`` float32 images in ``[0, 1]``.
        labels: ``(N,)`` int64, the first object's class.
        masks: ``(N, S, S)`` bool, the union of the object masks.
        targets: ``(N, num_classes)`` float32 multi-hot vector of the classes present.
        object_labels: per image, the class of every object.
        object_masks: per image, a ``(K, S, S)`` bool mask per object.
    """

    images: Tensor
    labels: Tensor
    masks: Tensor
    targets: Tensor
    object_labels: list[tuple[int, ...]]
    object_masks: list[Tensor]


@lru_cache(maxsize=8)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    coords = np.arange(size, dtype=np.float64) + 0.5
    return np.meshgrid(coords, coords, indexing="xy")


@lru_cache(maxsize=8)
def _upsampler(size: int, cells: int) -> np.ndarray:
    positions = (np.arange(size) + 0.5) / size * (cells - 1)
    lower = np.clip(np.floor(positions).astype(int), 0, cells - 2)
    frac = positions - lower
    matrix = np.zeros((size, cells))
    matrix[np.arange(size), lower] = 1 - frac
    matrix[np.arange(size), lower + 1] = frac
    return matrix


def _background(rng: np.random.Generator, size: int, base: np.ndarray) -> np.ndarray:
    cells = int(rng.integers(3, 6))
    upsample = _upsampler(size, cells)
    smooth = upsample @ rng.uniform(-1.0, 1.0, (3, cells, cells)) @ upsample.T
    xx, yy = _grid(size)
    direction = rng.uniform(0, 2 * np.pi)
    frequency = rng.uniform(1.0, 4.0) * 2 * np.pi / size
    phase = rng.uniform(0, 2 * np.pi)
    grating = np.sin(
        frequency * (np.cos(direction) * xx + np.sin(direction) * yy) + phase
    )
    grating_colour = rng.uniform(-1.0, 1.0, 3)
    return (
        base[:, None, None]
        + rng.uniform(0.05, 0.15) * smooth
        + rng.uniform(0.0, 0.1) * grating_colour[:, None, None] * grating
    )


def _object_colour(rng: np.random.Generator, base: np.ndarray) -> np.ndarray:
    colour = rng.uniform(0.0, 1.0, 3)
    for _ in range(_PLACEMENT_TRIES):
        if np.linalg.norm(colour - base) >= _MIN_COLOUR_DISTANCE:
            break
        colour = rng.uniform(0.0, 1.0, 3)
    return colour


def _coverage(obj: _Object, size: int) -> np.ndarray:
    xx, yy = _grid(size)
    dx, dy = xx - obj.x, yy - obj.y
    cos, sin = np.cos(obj.angle), np.sin(obj.angle)
    u = (cos * dx + sin * dy) / obj.radius
    v = (cos * dy - sin * dx) / obj.radius
    distance = _SHAPE_FNS[SHAPE_CLASSES[obj.label]](u, -v) * obj.radius
    return np.clip(0.5 - distance, 0.0, 1.0)


def _place(
    rng: np.random.Generator,
    size: int,
    radii: np.ndarray,
) -> np.ndarray | None:
    centres = np.empty((0, 2))
    for k, radius in enumerate(radii):
        low, high = radius + 0.5, size - radius - 0.5
        candidates = rng.uniform(low, high, (_PLACEMENT_TRIES, 2))
        gaps = np.linalg.norm(candidates[:, None] - centres[None], axis=-1)
        free = (gaps >= radius + radii[:k] + 1.0).all(axis=1)
        if not free.any():
            return None
        centres = np.vstack([centres, candidates[np.argmax(free)]])
    return centres


def _draw_objects(
    rng: np.random.Generator,
    size: int,
    num_objects: int,
    radius_range: tuple[float, float],
    base: np.ndarray,
) -> list[_Object]:
    labels = rng.choice(len(SHAPE_CLASSES), size=num_objects, replace=False)
    radii = rng.uniform(*radius_range, num_objects) * size
    centres = _place(rng, size, radii)
    while centres is None:
        radii = radii * 0.9
        centres = _place(rng, size, radii)
    angles = rng.uniform(0.0, 2 * np.pi, num_objects)
    return [
        _Object(
            int(label), x, y, float(radius), float(angle), _object_colour(rng, base)
        )
        for label, (x, y), radius, angle in zip(
            labels, centres, radii, angles, strict=True
        )
    ]


def _render(
    rng: np.random.Generator,
    size: int,
    num_objects: int,
    radius_range: tuple[float, float],
) -> _Sample:
    base = rng.uniform(0.1, 0.9, 3)
    image = _background(rng, size, base)
    objects = _draw_objects(rng, size, num_objects, radius_range, base)
    masks = np.empty((num_objects, size, size), dtype=bool)
    for k, obj in enumerate(objects):
        coverage = _coverage(obj, size)
        image += coverage * (obj.colour[:, None, None] - image)
        masks[k] = coverage >= 0.5
    image += rng.normal(0.0, rng.uniform(*_NOISE_STD), image.shape)
    image = np.clip(image, 0.0, 1.0).astype(np.float32)
    return _Sample(image, tuple(obj.label for obj in objects), masks)


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return split


class ShapesDataset:
    """Single-object shapes images, addressed by a stable index.

    Image ``index`` is drawn from ``image_rng(seed, index, f"shapes/{split}")``, so
    it does not depend on which other indices are generated, or in which order.

    Args:
        size: number of images (valid indices are ``0 .. size - 1``).
        seed: seed of the random streams.
        split: ``"train"``, ``"val"`` or ``"test"``; the splits are independent
            draws (the split is part of every image's stream).
        image_size: height and width of the square images.
    """

    purpose = "shapes"
    objects: tuple[int, ...] = (1,)
    radius_range = _SINGLE_RADIUS

    def __init__(
        self,
        size: int,
        seed: int = 0,
        split: str = "test",
        image_size: int = IMAGE_SIZE,
    ) -> None:
        if size < 0:
            raise ValueError(f"size must be non-negative, got {size}")
        self.size = int(size)
        self.seed = int(seed)
        self.split = _check_split(split)
        self.image_size = int(image_size)
        self.class_names = list(SHAPE_CLASSES)

    def __len__(self) -> int:
        return self.size

    def identity(self) -> dict:
        """What the images are: the generator's settings and its source code."""
        import inspect
        import sys

        from captum_contrastive.fingerprint import digest

        return {
            "purpose": self.purpose,
            "size": self.size,
            "seed": self.seed,
            "split": self.split,
            "image_size": self.image_size,
            "objects": list(self.objects),
            "generator": digest(inspect.getsource(sys.modules[__name__])),
        }

    def _sample(self, index: int) -> _Sample:
        index = int(index)
        if not 0 <= index < self.size:
            raise IndexError(f"index {index} out of range for {self.size} images")
        rng = image_rng(self.seed, index, f"{self.purpose}/{self.split}")
        low, high = min(self.objects), max(self.objects)
        num_objects = int(rng.integers(low, high + 1))
        return _render(rng, self.image_size, num_objects, self.radius_range)

    def __getitem__(self, index: int) -> LabeledImage:
        """Render image ``index``.

        Args:
            index: image index in ``[0, len(self))``.

        Returns:
            A :class:`LabeledImage` with the ``(3, S, S)`` image, the first object's
            class and the union mask, plus every object's class and ``(K, S, S)``
            masks.
        """
        sample = self._sample(index)
        masks = torch.from_numpy(sample.masks)
        return LabeledImage(
            image=torch.from_numpy(sample.image),
            label=sample.labels[0],
            mask=masks.any(dim=0),
            labels=sample.labels,
            masks=masks,
        )

    def render(self, indices: Sequence[int]) -> ShapesBatch:
        """Render several images with every per-object annotation.

        Args:
            indices: image indices.

        Returns:
            A :class:`ShapesBatch`.
        """
        samples = [self._sample(i) for i in indices]
        size = self.image_size
        targets = torch.zeros(len(samples), len(SHAPE_CLASSES))
        for row, sample in enumerate(samples):
            targets[row, list(sample.labels)] = 1.0
        object_masks = [torch.from_numpy(s.masks) for s in samples]
        return ShapesBatch(
            images=torch.from_numpy(
                np.stack([s.image for s in samples])
                if samples
                else np.empty((0, 3, size, size), dtype=np.float32)
            ),
            labels=torch.tensor([s.labels[0] for s in samples], dtype=torch.int64),
            masks=(
                torch.stack([m.any(dim=0) for m in object_masks])
                if samples
                else torch.empty((0, size, size), dtype=torch.bool)
            ),
            targets=targets,
            object_labels=[s.labels for s in samples],
            object_masks=object_masks,
        )

    def batch(self, indices: Sequence[int]) -> tuple[Tensor, Tensor, Tensor]:
        """Render several images as stacked tensors.

        Args:
            indices: image indices.

        Returns:
            ``(images, labels, masks)``: ``(N, 3, S, S)`` float32, ``(N,)`` int64
            (the first object's class) and ``(N, S, S)`` bool (union of the objects).
        """
        rendered = self.render(indices)
        return rendered.images, rendered.labels, rendered.masks


class MultiShapesDataset(ShapesDataset):
    """Images with several objects of distinct classes, placed without overlap.

    Each image holds ``objects[0]`` to ``objects[1]`` shapes (drawn uniformly) of
    distinct classes, whose bounding circles do not touch, so the per-object masks are
    disjoint. Placement is rejection sampling on the image's own stream (shrinking
    the objects when they do not fit), so it stays deterministic. Objects are smaller
    than in :class:`ShapesDataset`.

    Args:
        size: number of images.
        seed: seed of the random streams (``image_rng(seed, index,
            f"multishapes/{split}")``).
        split: ``"train"``, ``"val"`` or ``"test"``.
        objects: ``(min, max)`` number of objects per image.
        image_size: height and width of the square images.
    """

    purpose = "multishapes"
    radius_range = _MULTI_RADIUS

    def __init__(
        self,
        size: int,
        seed: int = 0,
        split: str = "test",
        objects: tuple[int, int] = (2, 3),
        image_size: int = IMAGE_SIZE,
    ) -> None:
        super().__init__(size, seed=seed, split=split, image_size=image_size)
        low, high = objects
        if not 1 <= low <= high <= len(SHAPE_CLASSES):
            raise ValueError(f"invalid number of objects {objects}")
        self.objects = (int(low), int(high))
