"""What every preset provides: a classifier, its normalization, and indexed images."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor, nn

__all__ = ["ImageDataset", "LabeledImage", "Normalize", "Preset"]


@dataclass(frozen=True)
class LabeledImage:
    """One image in pixel space.

    Attributes:
        image: ``(3, H, W)`` float tensor in ``[0, 1]``.
        label: class index (the first object's class for multi-object images).
        mask: ``(H, W)`` bool object mask, or ``None`` when unknown.
        labels: every class present (multi-object images); ``(label,)`` otherwise.
        masks: ``(K, H, W)`` bool masks, one per entry of ``labels``, or ``None``.
    """

    image: Tensor
    label: int
    mask: Tensor | None = None
    labels: tuple[int, ...] = ()
    masks: Tensor | None = None


class ImageDataset(Protocol):
    """Images addressed by a stable integer index (for sharded, resumable runs).

    A dataset that knows its labels without reading an image may also have a
    ``labels`` attribute (or method): one class index per image, in index order
    (:class:`~captum_contrastive.presets.image_folder.ImageFilesDataset` has it).
    The benchmark then balances its random sample across classes
    (:mod:`~captum_contrastive.pipeline.sample_order`); without it the sample is
    one seeded permutation.
    """

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> LabeledImage: ...


def _channel_column(values: Sequence[float]) -> Tensor:
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1)


class Normalize(nn.Module):
    """``(x - mean) / std`` over the channel axis (dim 1)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer(
            "mean", torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        )
        self.register_buffer(
            "std", torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


@dataclass
class Preset:
    """A classifier and a dataset that belong together.

    ``model`` takes *normalized* images (as torchvision models do); attacks pass
    ``mean``/``std`` to foolbox as ``preprocessing``. :meth:`pixel_model` is the same
    classifier taking ``[0, 1]`` images, which is what attributions are computed on.
    """

    name: str
    model: nn.Module
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    class_names: list[str]
    dataset: ImageDataset
    description: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def pixel_model(self) -> nn.Module:
        """``Normalize(mean, std)`` followed by ``model``, in eval mode."""
        return nn.Sequential(Normalize(self.mean, self.std), self.model).eval()

    def preprocessing(self) -> dict:
        """The foolbox ``preprocessing`` dict for :attr:`model`."""
        return {"mean": list(self.mean), "std": list(self.std), "axis": -3}
