"""The models and inputs the speed benchmark runs on, and their default sizes."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from captum_contrastive.profiling.variants import ALL_VARIANTS, GUIDED_VARIANTS

__all__ = [
    "MODEL_PRESETS",
    "ModelPreset",
    "TinyCNN",
    "load_benchmark_model",
    "make_inputs",
]


class TinyCNN(nn.Module):
    r"""conv-ReLU-pool-conv-ReLU-pool-linear: a model for smoke runs and tests.

    Args:
        num_classes (int): number of logits. Default: 10
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(4),
        )
        self.classifier = nn.Linear(16 * 4 * 4, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x).flatten(1))


@dataclass(frozen=True)
class ModelPreset:
    r"""Default sizes of one benchmark model (each can be overridden).

    Attributes:
        batch, size, repeats: the full run.
        quick_batch, quick_size, quick_repeats: the ``--quick`` smoke run.
        variants: the variants measured by default.
    """

    batch: int
    size: int
    repeats: int
    quick_batch: int
    quick_size: int
    quick_repeats: int
    variants: tuple[str, ...]


#: Integrated Gradients on vgg16 at batch 8 costs 2 x 32 x 8 = 512 image
#: forward/backward passes per call pair (minutes on a CPU), so it is measured on the
#: small models only by default.
MODEL_PRESETS: dict[str, ModelPreset] = {
    "vgg16": ModelPreset(8, 224, 5, 2, 64, 3, GUIDED_VARIANTS),
    "shapes": ModelPreset(64, 32, 7, 16, 32, 3, ALL_VARIANTS),
    "tiny": ModelPreset(4, 32, 5, 2, 16, 2, ALL_VARIANTS),
}


def load_benchmark_model(name: str, seed: int = 0) -> tuple[nn.Module | None, str]:
    r"""Build a benchmark model in eval mode.

    Args:
        name (str): ``"vgg16"`` (torchvision, ``weights=None``), ``"shapes"`` (the
            shapes preset's model, with its shipped weights when they load, else a
            random initialization) or ``"tiny"`` (:class:`TinyCNN`).
        seed (int): seed of random initializations. Default: 0

    Returns:
        *(model or None, note)*: ``None`` when the model is not available (the
        shapes preset is not importable), with the reason in ``note``.
    """
    torch.manual_seed(seed)
    if name == "vgg16":
        import torchvision

        return torchvision.models.vgg16(weights=None).eval(), "random init"
    if name == "tiny":
        return TinyCNN().eval(), "random init"
    if name == "shapes":
        try:
            from captum_contrastive.presets.shapes_model import (
                ShapesVGG,
                load_shapes_model,
            )
        except ImportError as error:
            return None, f"shapes preset not importable ({error}); skipped"
        try:
            return load_shapes_model().eval(), "shipped weights"
        except (OSError, RuntimeError, KeyError) as error:
            torch.manual_seed(seed)
            reason = f"{type(error).__name__}: {error}".splitlines()[0][:120]
            return ShapesVGG().eval(), f"random init (weights did not load: {reason})"
    raise ValueError(f"unknown model {name!r}; choose from {sorted(MODEL_PRESETS)}")


def make_inputs(name: str, batch: int, size: int, seed: int = 0) -> Tensor:
    r"""A seeded batch of normalized images for model ``name``.

    Args:
        name (str): the model name (``"shapes"`` renders shapes images when the
            preset is importable; the others draw uniform noise).
        batch (int): number of images.
        size (int): height and width.
        seed (int): seed. Default: 0

    Returns:
        *Tensor* of shape ``(batch, 3, size, size)``.
    """
    if name == "shapes":
        try:
            from captum_contrastive.presets.shapes import MEAN, STD, ShapesDataset

            images = ShapesDataset(batch, seed=seed, image_size=size).batch(
                range(batch)
            )[0]
            mean = torch.tensor(MEAN).view(1, 3, 1, 1)
            std = torch.tensor(STD).view(1, 3, 1, 1)
            return ((images - mean) / std).contiguous()
        except ImportError:
            pass
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 3, size, size, generator=generator)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return (images - mean) / std
