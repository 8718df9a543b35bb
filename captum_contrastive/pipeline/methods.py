"""The saliency methods a study compares, by name, with the settings it records."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from captum.attr import (
    Deconvolution,
    DeepLift,
    GuidedBackprop,
    GuidedGradCam,
    InputXGradient,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Saliency,
)
from torch import Tensor, nn

from captum_contrastive.attr.contrastive import ContrastiveAttribution
from captum_contrastive.attr.enhanced_guided_backprop import EnhancedGuidedBackprop
from captum_contrastive.captum_warnings import quiet_captum
from captum_contrastive.random_streams import stream_seed

__all__ = [
    "DEFAULT_METHODS",
    "METHODS",
    "build_methods",
    "MethodSpec",
    "compute_maps",
    "last_conv_layer",
    "quiet_captum",
]

Attribute = Callable[[Tensor, list[int]], Tensor]


def last_conv_layer(model: nn.Module) -> nn.Module:
    """The last ``nn.Conv2d`` in ``model`` (the Grad-CAM layer)."""
    convolutions = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convolutions:
        raise ValueError("Grad-CAM methods need a model with an nn.Conv2d layer")
    return convolutions[-1]


@dataclass(frozen=True)
class MethodSpec:
    """A named saliency method.

    Attributes:
        name: registry key.
        label: display name.
        build: ``build(model) -> attribute(images, targets) -> maps``.
        signed: whether maps take both signs (then an ``|map|`` ranking is also
            reported).
        per_image_noise: draws noise; run image by image from the image's stream.
        settings: what is recorded in the protocol.
    """

    name: str
    label: str
    build: Callable[[nn.Module], Attribute]
    signed: bool
    per_image_noise: bool = False
    settings: dict[str, Any] = field(default_factory=dict)


def _captum(method: Callable[[nn.Module], Any], **kwargs: Any) -> Callable:
    def build(model: nn.Module) -> Attribute:
        attribution = method(model)

        def attribute(images: Tensor, targets: list[int]) -> Tensor:
            return attribution.attribute(images, target=targets, **kwargs)

        return attribute

    return build


def _grad_cam(model: nn.Module) -> Attribute:
    cam = LayerGradCam(model, last_conv_layer(model))

    def attribute(images: Tensor, targets: list[int]) -> Tensor:
        maps = cam.attribute(images, target=targets, relu_attributions=True)
        return LayerAttribution.interpolate(maps, images.shape[-2:], "bilinear")

    return attribute


def _enhanced(model: nn.Module) -> Attribute:
    method = EnhancedGuidedBackprop(model)
    return lambda images, targets: method.attribute(images, target=targets)


def build_methods(
    ig_steps: int = 16, smoothgrad_samples: int = 8, smoothgrad_stdev: float = 0.15
) -> dict[str, MethodSpec]:
    """The registry with the given sampling settings.

    Args:
        ig_steps (int): Integrated-Gradients steps (also for its contrastive form).
        smoothgrad_samples (int): noisy samples per image for SmoothGrad.
        smoothgrad_stdev (float): SmoothGrad noise, in pixel units (``[0, 1]``).

    Returns:
        dict from method name to :class:`MethodSpec`.
    """
    smoothgrad = {
        "nt_type": "smoothgrad",
        "nt_samples": smoothgrad_samples,
        "stdevs": smoothgrad_stdev,
    }
    specs = [
        MethodSpec(
            "enhanced_gbp",
            "Enhanced GuidedBP",
            _enhanced,
            signed=False,
            settings={"contrast": "runner-up", "normalization": "channel_energy"},
        ),
        MethodSpec("saliency", "Saliency", _captum(Saliency), signed=False),
        MethodSpec(
            "guided_backprop", "GuidedBP (Captum)", _captum(GuidedBackprop), True
        ),
        MethodSpec("deconvolution", "Deconvolution", _captum(Deconvolution), True),
        MethodSpec("input_x_gradient", "InputXGradient", _captum(InputXGradient), True),
        MethodSpec(
            "integrated_gradients",
            "IntegratedGradients",
            _captum(IntegratedGradients, n_steps=ig_steps),
            True,
            settings={"n_steps": ig_steps, "baseline": "zeros (black image)"},
        ),
        MethodSpec(
            "deeplift",
            "DeepLift",
            _captum(DeepLift),
            True,
            settings={"baseline": "zeros (black image)"},
        ),
        MethodSpec(
            "smoothgrad",
            "SmoothGrad",
            _captum(lambda m: NoiseTunnel(Saliency(m)), **smoothgrad),
            signed=False,
            per_image_noise=True,
            settings=dict(smoothgrad, stdev_units="pixel range [0, 1]"),
        ),
        MethodSpec(
            "guided_gradcam",
            "GuidedGradCam",
            _captum(lambda m: GuidedGradCam(m, last_conv_layer(m))),
            True,
            settings={"layer": "last Conv2d"},
        ),
        MethodSpec(
            "layer_gradcam",
            "Grad-CAM",
            _grad_cam,
            signed=False,
            settings={
                "layer": "last Conv2d",
                "relu_attributions": True,
                "upsampling": "bilinear",
            },
        ),
        MethodSpec(
            "contrastive_saliency",
            "Contrastive Saliency",
            _captum(lambda m: ContrastiveAttribution(Saliency(m)), abs=False),
            signed=False,
            settings={"abs": False, "contrast": "runner-up"},
        ),
        MethodSpec(
            "contrastive_ig",
            "Contrastive IG",
            _captum(
                lambda m: ContrastiveAttribution(IntegratedGradients(m)),
                n_steps=ig_steps,
            ),
            signed=False,
            settings={"n_steps": ig_steps, "contrast": "runner-up"},
        ),
    ]
    return {spec.name: spec for spec in specs}


METHODS: dict[str, MethodSpec] = build_methods()
DEFAULT_METHODS: tuple[str, ...] = tuple(METHODS)


def compute_maps(
    spec: MethodSpec,
    model: nn.Module,
    images: Tensor,
    targets: Tensor | Sequence[int],
    indices: Sequence[int],
    seed: int,
    batch_size: int = 64,
) -> Tensor:
    """Maps of ``images`` for ``targets``, batched; noise drawn per image.

    A method with ``per_image_noise`` runs image by image with the global RNG seeded
    from the image's stream ``(seed, index, "noise:<name>")`` (and restored after),
    so a sharded run draws the same noise.

    Args:
        spec (MethodSpec): the method.
        model (nn.Module): the classifier on pixel-space inputs, in eval mode.
        images (Tensor): ``(N, C, H, W)``.
        targets (Tensor or sequence of int): ``(N,)`` classes to explain.
        indices (sequence of int): dataset indices of the images.
        seed (int): the run's seed.
        batch_size (int): images per attribution call. Default: 64

    Returns:
        ``(N, C', H, W)`` detached maps on the CPU.
    """
    attribute = spec.build(model)
    targets = [int(t) for t in targets]
    indices = [int(i) for i in indices]
    if len(targets) != images.shape[0] or len(indices) != images.shape[0]:
        raise ValueError("`targets` and `indices` need one entry per image")
    parts = []
    with quiet_captum():
        if spec.per_image_noise:
            for row, index in enumerate(indices):
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(stream_seed(seed, index, f"noise:{spec.name}"))
                    parts.append(
                        attribute(images[row : row + 1], targets[row : row + 1])
                    )
        else:
            for start in range(0, images.shape[0], batch_size):
                rows = slice(start, start + batch_size)
                parts.append(attribute(images[rows], targets[rows]))
    return torch.cat([p.detach().cpu() for p in parts])
