"""Every public attribution class of the package, registered once with its
oracle. The matrix (``cases.py``) crosses each entry with every composition,
target form and input form; register a new method here and it is covered."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from captum.attr import (
    Attribution,
    DeepLift,
    GuidedGradCam,
    InputXGradient,
    IntegratedGradients,
    LayerGradCam,
    Saliency,
)
from captum.attr import Deconvolution as CaptumDeconvolution
from captum.attr import GuidedBackprop as CaptumGuidedBackprop
from torch import Tensor, nn

from captum_contrastive import (
    ContrastiveAttribution,
    Deconvolution,
    EnhancedGuidedBackprop,
    GuidedBackprop,
)

Formula = Callable[[Tensor, Tensor], Tensor]


def _channel_energy(maps: Tensor) -> Tensor:
    energy = maps.sum(dim=(2, 3), keepdim=True)
    return torch.where(energy > 0, maps / torch.where(energy > 0, energy, 1), 0)


def paper_contrast(map_k: Tensor, map_m: Tensor) -> Tensor:
    """The paper, written out: positive parts, each channel divided by its L1
    energy, positive difference."""
    k, m = map_k.clamp_min(0), map_m.clamp_min(0)
    return (_channel_energy(k) - _channel_energy(m)).clamp_min(0)


def keras_reference_contrast(map_k: Tensor, map_m: Tensor) -> Tensor:
    """The author's Keras code, written out: the unclipped difference summed
    over channels, divided by its maximum (by the largest magnitude where the
    maximum is not positive; zeros stay zeros)."""
    k, m = map_k.clamp_min(0), map_m.clamp_min(0)
    summed = (_channel_energy(k) - _channel_energy(m)).sum(dim=1, keepdim=True)
    peak = summed.amax(dim=(1, 2, 3), keepdim=True)
    largest = summed.abs().amax(dim=(1, 2, 3), keepdim=True)
    scale = torch.where(peak > 0, peak, largest)
    return torch.where(scale > 0, summed / torch.where(scale > 0, scale, 1), 0)


@dataclass(frozen=True)
class ConformanceMethod:
    """A public attribution class under test and the oracle it must equal.

    Attributes:
        name: the entry's id in test names.
        build: the method under test, from the model.
        captum_twin: for a drop-in replacement, Captum's class it must equal.
        base: for a contrastive method, the Captum method that gives one
            class's map for the per-example oracle.
        formula: for a contrastive method, how two maps are contrasted.
        kwargs: extra ``attribute`` arguments for both (``n_steps``).
        layer_map: the base map is a layer's, upsampled to the input.
    """

    name: str
    build: Callable[[nn.Module], Attribution]
    captum_twin: Callable[[nn.Module], Attribution] | None = None
    base: Callable[[nn.Module], Attribution] | None = None
    formula: Formula | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    layer_map: bool = False

    @property
    def contrastive(self) -> bool:
        return self.base is not None

    def accepts(self, argument: str, model: nn.Module) -> bool:
        """Whether ``attribute`` takes ``argument``: for ContrastiveAttribution,
        the wrapped Captum method's ``attribute``, which receives it."""
        method = self.build(model)
        inner = method.method if isinstance(method, ContrastiveAttribution) else method
        return argument in inspect.signature(inner.attribute).parameters


REGISTRY: dict[str, ConformanceMethod] = {}


def register(entry: ConformanceMethod) -> ConformanceMethod:
    if entry.name in REGISTRY:
        raise ValueError(f"{entry.name} is registered twice")
    REGISTRY[entry.name] = entry
    return entry


def _layer(model: nn.Module) -> nn.Module:
    return model.conv2


for _name, _build, _twin in (
    ("GuidedBackprop", GuidedBackprop, CaptumGuidedBackprop),
    ("Deconvolution", Deconvolution, CaptumDeconvolution),
):
    register(ConformanceMethod(_name, _build, captum_twin=_twin))

register(
    ConformanceMethod(
        "EnhancedGuidedBackprop",
        EnhancedGuidedBackprop,
        base=CaptumGuidedBackprop,
        formula=paper_contrast,
    )
)
register(
    ConformanceMethod(
        "EnhancedGuidedBackprop(keras_reference)",
        lambda m: EnhancedGuidedBackprop(m, variant="keras_reference"),
        base=CaptumGuidedBackprop,
        formula=keras_reference_contrast,
    )
)
for _base, _kwargs in (
    (Saliency, {}),
    (InputXGradient, {}),
    (IntegratedGradients, {"n_steps": 4}),
    (DeepLift, {}),
):
    register(
        ConformanceMethod(
            f"ContrastiveAttribution({_base.__name__})",
            lambda m, base=_base: ContrastiveAttribution(base(m)),
            base=_base,
            formula=paper_contrast,
            kwargs=_kwargs,
        )
    )
for _base in (GuidedGradCam, LayerGradCam):
    register(
        ConformanceMethod(
            f"ContrastiveAttribution({_base.__name__})",
            lambda m, base=_base: ContrastiveAttribution(base(m, _layer(m))),
            base=lambda m, base=_base: base(m, _layer(m)),
            formula=paper_contrast,
            layer_map=_base is LayerGradCam,
        )
    )


def upsampled(attribution: Tensor, like: Tensor) -> Tensor:
    """A layer map at the input's spatial size (bilinear, as the package)."""
    if attribution.shape[2:] == like.shape[2:]:
        return attribution
    return F.interpolate(
        attribution, size=like.shape[2:], mode="bilinear", align_corners=False
    )
