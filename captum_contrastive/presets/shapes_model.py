"""A small VGG-style classifier for the shapes world, and its shipped weights.

The shipped weights (``weights/shapes_vgg.pt``) were trained with
:func:`captum_contrastive.presets.shapes_training.train_shapes_model` (see
``weights/shapes_vgg.json`` for the metrics, the hyper-parameters and the command).
They are a multi-label model: trained with a binary cross-entropy loss on a mixture of
single-object and multi-object images, so that *every* shape present scores high (the
class-discriminativity analysis of the paper's Fig. 1 explains each present class in
turn), while the argmax still classifies single-object images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from captum_contrastive.presets.base import Preset
from captum_contrastive.presets.shapes import (
    IMAGE_SIZE,
    MEAN,
    SHAPE_CLASSES,
    STD,
    MultiShapesDataset,
    ShapesDataset,
)

__all__ = [
    "DEFAULT_WIDTHS",
    "SHAPES_WEIGHTS",
    "ShapesVGG",
    "load_shapes_model",
    "shapes_preset",
]

DEFAULT_WIDTHS = (16, 32, 64)
SHAPES_WEIGHTS = Path(__file__).with_name("weights") / "shapes_vgg.pt"


class ShapesVGG(nn.Module):
    """VGG16-BN scaled down to 32x32 inputs.

    ``features`` holds one block per entry of ``widths``: two 3x3 convolutions, each
    followed by a ``BatchNorm2d`` (as in torchvision's ``vgg16_bn``; optional) and
    ``nn.ReLU(inplace=True)``, then a 2x2 max-pool. ``avgpool`` makes the feature map
    ``(widths[-1], pooled_size, pooled_size)`` whatever the input size, and
    ``classifier`` is Linear - ReLU - Dropout - Linear, as in torchvision's VGG (with
    one hidden layer instead of two). The model takes *normalized* images.
    Convolutions are initialized as in torchvision's VGG (Kaiming normal, fan-out).

    Batch normalization is on by default because it made training from scratch on a
    CPU converge in far fewer steps (in eval mode it is a fixed per-channel affine map,
    so gradients and attributions go through it unchanged in kind).

    With ``functional_relu=True``, every ReLU module is replaced by an ``nn.Identity``
    and the forward pass calls ``F.relu`` after the corresponding layer instead. The
    parameter names and shapes are identical, so one state dict loads into both
    variants and they compute the same logits; hook-based attribution methods that only
    see ``nn.ReLU`` modules (Captum's GuidedBackprop) silently degrade on this variant.

    Args:
        num_classes: number of output logits.
        widths: number of channels of each convolutional block.
        hidden: width of the hidden fully connected layer.
        dropout: dropout probability before the last layer.
        pooled_size: output size of ``avgpool`` (the classifier sees
            ``widths[-1] * pooled_size**2`` features).
        batch_norm: put a ``BatchNorm2d`` after every convolution (as torchvision's
            ``vgg16_bn``); the shipped weights use it.
        functional_relu: call ``F.relu`` in ``forward`` instead of ReLU modules.
    """

    def __init__(
        self,
        num_classes: int = len(SHAPE_CLASSES),
        widths: Sequence[int] = DEFAULT_WIDTHS,
        hidden: int = 128,
        dropout: float = 0.5,
        pooled_size: int = 4,
        batch_norm: bool = True,
        functional_relu: bool = False,
    ) -> None:
        super().__init__()
        self.functional_relu = functional_relu
        layers: list[nn.Module] = []
        channels = 3
        for width in widths:
            for _ in range(2):
                layers.append(nn.Conv2d(channels, width, 3, padding=1))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(width))
                layers.append(self._relu())
                channels = width
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((pooled_size, pooled_size))
        self.classifier = nn.Sequential(
            nn.Linear(channels * pooled_size**2, hidden),
            self._relu(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
                nn.init.zeros_(module.bias)

    def _relu(self) -> nn.Module:
        return nn.Identity() if self.functional_relu else nn.ReLU(inplace=True)

    def _run(self, layers: nn.Sequential, x: Tensor) -> Tensor:
        if not self.functional_relu:
            return layers(x)
        for layer in layers:
            x = F.relu(x) if isinstance(layer, nn.Identity) else layer(x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        """Logits of normalized images.

        Args:
            x: ``(N, 3, H, W)`` normalized images.

        Returns:
            ``(N, num_classes)`` logits.
        """
        x = self._run(self.features, x)
        x = torch.flatten(self.avgpool(x), 1)
        return self._run(self.classifier, x)


def load_shapes_model(
    functional_relu: bool = False,
    device: str | torch.device = "cpu",
    weights_path: str | Path | None = None,
) -> ShapesVGG:
    """The trained shapes classifier, in eval mode.

    Args:
        functional_relu: build the ``F.relu`` variant of :class:`ShapesVGG` (same
            weights, same logits, no ``nn.ReLU`` module).
        device: device to put the model on.
        weights_path: a state dict saved by
            :func:`~captum_contrastive.presets.shapes_training.train_shapes_model`;
            the shipped weights when ``None``.

    Returns:
        The model, taking normalized ``(N, 3, 32, 32)`` images.
    """
    path = Path(weights_path) if weights_path is not None else SHAPES_WEIGHTS
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {name: tensor.float() for name, tensor in state.items()}
    model = ShapesVGG(functional_relu=functional_relu, **_architecture(state))
    model.load_state_dict(state)
    return model.to(device).eval()


def _architecture(state: dict[str, Tensor]) -> dict:
    convs = [
        tensor
        for name, tensor in state.items()
        if name.startswith("features.") and tensor.dim() == 4
    ]
    linears = [
        state[name]
        for name in state
        if name.startswith("classifier.") and name.endswith(".weight")
    ]
    widths = tuple(int(w.shape[0]) for w in convs[1::2])
    return {
        "num_classes": int(linears[-1].shape[0]),
        "widths": widths,
        "hidden": int(linears[0].shape[0]),
        "pooled_size": math.isqrt(int(linears[0].shape[1]) // widths[-1]),
        "batch_norm": any(name.endswith(".running_mean") for name in state),
    }


def shapes_preset(
    split: str = "test",
    size: int = 2000,
    seed: int = 0,
    multi_object: bool = False,
    functional_relu: bool = False,
    device: str | torch.device = "cpu",
) -> Preset:
    """The shapes world: shipped classifier and procedural images with masks.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``; the shipped model's accuracy was
            measured on ``"test"`` (seed 0), which it never saw.
        size: number of images.
        seed: seed of the image streams.
        multi_object: use :class:`MultiShapesDataset` (2-3 objects of distinct
            classes per image, one mask per object) instead of :class:`ShapesDataset`.
        functional_relu: load the ``F.relu`` variant of the model.
        device: device of the model.

    Returns:
        A :class:`Preset` named ``"shapes"`` or ``"shapes-multi"``.
    """
    dataset: ShapesDataset
    if multi_object:
        dataset = MultiShapesDataset(size, seed=seed, split=split)
    else:
        dataset = ShapesDataset(size, seed=seed, split=split)
    kind = "multi-object" if multi_object else "single-object"
    return Preset(
        name="shapes-multi" if multi_object else "shapes",
        model=load_shapes_model(functional_relu=functional_relu, device=device),
        mean=MEAN,
        std=STD,
        class_names=list(SHAPE_CLASSES),
        dataset=dataset,
        description=(
            f"{size} procedural {kind} {IMAGE_SIZE}x{IMAGE_SIZE} shapes images "
            f"({split} split, seed {seed}) and a small VGG-style CNN"
        ),
        extra={
            "image_size": IMAGE_SIZE,
            "weights": str(SHAPES_WEIGHTS),
            "functional_relu": functional_relu,
            "split": split,
            "seed": seed,
        },
    )
