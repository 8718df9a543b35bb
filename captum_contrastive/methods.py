"""The saliency methods a study compares, by name, with the settings it records."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
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
from captum_contrastive.attr.guided_backprop import (
    Deconvolution as ExactDeconvolution,
)
from captum_contrastive.attr.guided_backprop import (
    GuidedBackprop as ExactGuidedBackprop,
)
from captum_contrastive.captum_warnings import quiet_captum
from captum_contrastive.devices import model_device
from captum_contrastive.palette import OKABE_ITO, TOL_MUTED
from captum_contrastive.random_streams import stream_seed

__all__ = [
    "CAPTUM",
    "DEFAULT_METHODS",
    "Kind",
    "OURS",
    "Style",
    "Twin",
    "METHODS",
    "MethodSettings",
    "MethodSpec",
    "build_methods",
    "register_method",
    "compute_maps",
    "LayerNotFoundError",
    "cam_layer",
    "last_conv_layer",
    "registered_methods",
]

Attribute = Callable[..., Tensor]


class LayerNotFoundError(ValueError):
    """A method needs a layer the model does not have (names ``--cam-layer``)."""


def last_conv_layer(model: nn.Module) -> nn.Module:
    """The last ``nn.Conv2d`` in ``model`` (the Grad-CAM layer)."""
    convolutions = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convolutions:
        raise LayerNotFoundError(
            "Grad-CAM methods need a model with an nn.Conv2d layer; name the "
            "layer with `--cam-layer` (config `cam_layer`) or drop layer_gradcam "
            "and guided_gradcam from `--methods`"
        )
    return convolutions[-1]


def cam_layer(model: nn.Module, name: str | None) -> nn.Module:
    """The Grad-CAM layer: ``name`` in ``model`` or, for the pixel-space model
    (``Sequential(Normalize, classifier)``), in its classifier; by default the
    last ``nn.Conv2d``."""
    if name is None:
        return last_conv_layer(model)
    candidates = [model]
    if isinstance(model, nn.Sequential) and len(model) == 2:
        candidates.append(model[1])
    for root in candidates:
        try:
            return root.get_submodule(name)
        except AttributeError:
            continue
    raise LayerNotFoundError(f"`--cam-layer` {name!r} is not a submodule of the model")


@dataclass(frozen=True)
class MethodSettings:
    """The sampling settings shared by the methods that sample.

    Attributes:
        ig_steps: Integrated-Gradients steps (also for its contrastive form).
        smoothgrad_samples: noisy samples per image for SmoothGrad.
        smoothgrad_stdev: SmoothGrad noise, in pixel units (``[0, 1]``).
        cam_layer: the Grad-CAM layer's name in the classifier (``None``: the
            last ``nn.Conv2d``).
        rows_per_pass: the most image rows one forward and backward pass may
            hold, to bound memory: Integrated Gradients' steps, SmoothGrad's
            samples and every method's batch are split to fit (``None``: no
            bound). It is part of every method's key: a split can change float
            rounding.
    """

    ig_steps: int = 16
    smoothgrad_samples: int = 8
    smoothgrad_stdev: float = 0.15
    cam_layer: str | None = None
    rows_per_pass: int | None = None

    def __post_init__(self) -> None:
        for name in ("ig_steps", "smoothgrad_samples"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}")
        rows = self.rows_per_pass
        if rows is not None and (
            isinstance(rows, bool) or not isinstance(rows, int) or rows < 1
        ):
            raise ValueError(
                f"`rows_per_pass` must be a positive integer or None, got {rows!r}"
            )
        if not self.smoothgrad_stdev > 0:
            raise ValueError(
                f"`smoothgrad_stdev` must be positive, got {self.smoothgrad_stdev!r}"
            )


class Kind(enum.Flag):
    """What a method is, as the tables that treat methods alike ask it.

    ``GUIDED``: modifies the backward pass of the ReLUs (GuidedBP,
    Deconvolution); ``CONTRASTIVE``: explains a class *against* a contrast
    class (default: the runner-up); ``LAYER``: needs a layer of the model
    (``--cam-layer``; Grad-CAM); ``RESCALE``: DeepLift's rules on the
    nonlinearity modules it hooks. A method may be several (Enhanced GBP is
    guided and contrastive) or none (Saliency).
    """

    PLAIN = 0
    GUIDED = enum.auto()
    CONTRASTIVE = enum.auto()
    LAYER = enum.auto()
    RESCALE = enum.auto()


@dataclass(frozen=True)
class Style:
    """How a method is drawn in every figure (see :mod:`captum_contrastive.plots`).

    Attributes:
        color: hex colour, from :mod:`captum_contrastive.palette`.
        marker: matplotlib marker.
        linestyle: matplotlib line style. Default: ``"-"``
        highlighted: drawn in full colour and first (the paper's subjects).
    """

    color: str
    marker: str
    linestyle: str = "-"
    highlighted: bool = False


@dataclass(frozen=True)
class Twin:
    """What a method silently computes on some models: its degenerate twin.

    Attributes:
        method: the twin's registry key (e.g. ``"saliency"``).
        options: keyword arguments of the twin's ``attribute`` call (e.g.
            ``{"abs": False}`` for the signed gradient).
        exact: our implementation that does not degenerate, if there is one.
    """

    method: str
    options: dict[str, Any] = field(default_factory=dict)
    exact: str | None = None

    def describe(self) -> str:
        """The twin as a call: ``saliency(abs=False)``."""
        if not self.options:
            return self.method
        options = ", ".join(f"{k}={v}" for k, v in self.options.items())
        return f"{self.method}({options})"


#: The owner of an implementation whose class path starts ``captum.``.
CAPTUM = "Captum"
#: The owner of an implementation of this package.
OURS = "ours"


@dataclass(frozen=True)
class MethodSpec:
    """A named saliency method: one row of the method table.

    Every table that treats methods alike reads these rows: the figures'
    labels and styles (:mod:`captum_contrastive.plots.style`), the
    applicability probe, the baseline checks and the runner.

    Attributes:
        name: registry key (the ``method`` column of ``summary.csv``).
        label: the display name, the same in the report, the figures, the
            profiling and the docs; it names the owner
            (``"GuidedBP (Captum)"``, ``"GuidedBP (ours)"``) where the benchmark
            has the method from both.
        implementation: the class that computes it (Captum's or ours), so two
            implementations of one idea never share a key.
        build: ``build(model) -> attribute(images, targets, contrast=None,
            **options) -> maps``; ``contrast`` is used by contrastive methods only.
        signed: whether maps take both signs (then an ``|map|`` ranking is also
            reported).
        per_image_noise: draws noise; run image by image from the image's stream.
        settings: what is recorded in the protocol (and in the cache key).
        kind: what the method is (:class:`Kind`).
        style: how the figures draw it; ``None``: a style hashed from the name.
        twin: what it degenerates to on some models (:class:`Twin`), if anything.
    """

    name: str
    label: str
    implementation: str
    build: Callable[[nn.Module], Attribute]
    signed: bool
    per_image_noise: bool = False
    settings: dict[str, Any] = field(default_factory=dict)
    kind: Kind = Kind.PLAIN
    style: Style | None = None
    twin: Twin | None = None

    @property
    def contrastive(self) -> bool:
        """Explains a class *against* a contrast class (default: the runner-up)."""
        return Kind.CONTRASTIVE in self.kind

    @property
    def needs_layer(self) -> bool:
        """Needs a layer of the model (``--cam-layer``, default the last Conv2d)."""
        return Kind.LAYER in self.kind

    @property
    def owner(self) -> str:
        """Whose implementation it is: :data:`CAPTUM` or :data:`OURS`."""
        return CAPTUM if self.implementation.startswith("captum.") else OURS

    def key(self) -> dict[str, Any]:
        """What the maps depend on, for cache keys."""
        return {
            "name": self.name,
            "implementation": self.implementation,
            "settings": self.settings,
        }


def _ig_rows(settings: MethodSettings) -> dict[str, int]:
    """Integrated Gradients' steps in chunks of at most ``rows_per_pass`` rows."""
    rows = settings.rows_per_pass
    return {} if rows is None else {"internal_batch_size": rows}


def _noise_rows(settings: MethodSettings) -> dict[str, int]:
    """SmoothGrad's samples (of one image) in chunks of ``rows_per_pass``."""
    rows = settings.rows_per_pass
    if rows is None or rows >= settings.smoothgrad_samples:
        return {}
    return {"nt_samples_batch_size": rows}


MethodFactory = Callable[[MethodSettings], MethodSpec]
_FACTORIES: dict[str, MethodFactory] = {}


def register_method(name: str) -> Callable[[MethodFactory], MethodFactory]:
    """Add ``factory(settings) -> MethodSpec`` to the registry under ``name``."""

    def add(factory: MethodFactory) -> MethodFactory:
        if name in _FACTORIES:
            raise ValueError(f"method {name!r} is registered twice")
        _FACTORIES[name] = factory
        return factory

    return add


def _adapter(
    method: Callable[[nn.Module], Any], contrastive: bool, kwargs: dict[str, Any]
) -> Callable:
    """``build(model)`` of a Captum-style attribution: the benchmark's call
    ``(images, targets, contrast, **options)`` as ``attribute(images,
    target=targets, **kwargs, **options)``, with ``contrast_target=contrast``
    for a contrastive method."""

    def build(model: nn.Module) -> Attribute:
        attribution = method(model)

        def attribute(
            images: Tensor, targets: list[int], contrast: Any = None, **options: Any
        ) -> Tensor:
            if contrastive:
                options = {"contrast_target": contrast, **options}
            return attribution.attribute(
                images, target=targets, **{**kwargs, **options}
            )

        return attribute

    return build


def _captum(method: Callable[[nn.Module], Any], **kwargs: Any) -> Callable:
    return _adapter(method, False, kwargs)


def _contrastive(method: Callable[[nn.Module], Any], **kwargs: Any) -> Callable:
    return _adapter(method, True, kwargs)


def _grad_cam(layer_name: str | None) -> Callable[[nn.Module], Attribute]:
    return lambda model: _grad_cam_on(model, layer_name)


def _grad_cam_on(model: nn.Module, layer_name: str | None) -> Attribute:
    cam = LayerGradCam(model, cam_layer(model, layer_name))

    def attribute(
        images: Tensor, targets: list[int], contrast: Any = None, **options: Any
    ) -> Tensor:
        maps = cam.attribute(images, target=targets, relu_attributions=True)
        return LayerAttribution.interpolate(maps, images.shape[-2:], "bilinear")

    return attribute


# The rows of the method table, in the order of the report.
_GRADIENT = Twin("saliency", {"abs": False})


@register_method("enhanced_gbp")
def _enhanced_gbp(settings: MethodSettings) -> MethodSpec:
    return MethodSpec(
        "enhanced_gbp",
        "Enhanced GBP",
        "captum_contrastive.EnhancedGuidedBackprop",
        _contrastive(EnhancedGuidedBackprop),
        signed=False,
        settings={"contrast": "runner-up", "normalization": "channel_energy"},
        kind=Kind.GUIDED | Kind.CONTRASTIVE,
        style=Style(OKABE_ITO["vermillion"], "o", highlighted=True),
    )


def _register_plain(
    name: str,
    label: str,
    implementation: str,
    method: Callable[[nn.Module], Any],
    signed: bool,
    **row: Any,
) -> None:
    """Register a method that is one attribution class with no settings."""
    register_method(name)(
        lambda settings: MethodSpec(
            name, label, implementation, _captum(method), signed, **row
        )
    )


_register_plain(
    "saliency",
    "Saliency",
    "captum.attr.Saliency",
    Saliency,
    signed=False,
    style=Style(OKABE_ITO["orange"], "^"),
)
_register_plain(
    "guided_backprop",
    "GuidedBP (Captum)",
    "captum.attr.GuidedBackprop",
    GuidedBackprop,
    signed=True,
    kind=Kind.GUIDED,
    style=Style(OKABE_ITO["blue"], "s", highlighted=True),
    twin=replace(_GRADIENT, exact="guided_backprop_exact"),
)
_register_plain(
    "deconvolution",
    "Deconvolution (Captum)",
    "captum.attr.Deconvolution",
    Deconvolution,
    signed=True,
    kind=Kind.GUIDED,
    style=Style(OKABE_ITO["reddish_purple"], "v"),
    twin=replace(_GRADIENT, exact="deconvolution_exact"),
)
_register_plain(
    "guided_backprop_exact",
    "GuidedBP (ours)",
    "captum_contrastive.GuidedBackprop",
    ExactGuidedBackprop,
    signed=True,
    kind=Kind.GUIDED,
)
_register_plain(
    "deconvolution_exact",
    "Deconvolution (ours)",
    "captum_contrastive.Deconvolution",
    ExactDeconvolution,
    signed=True,
    kind=Kind.GUIDED,
)
_register_plain(
    "input_x_gradient",
    "Input×Gradient",
    "captum.attr.InputXGradient",
    InputXGradient,
    signed=True,
    style=Style(OKABE_ITO["sky_blue"], "D"),
)


@register_method("integrated_gradients")
def _integrated_gradients(settings: MethodSettings) -> MethodSpec:
    return MethodSpec(
        "integrated_gradients",
        "Integrated Gradients",
        "captum.attr.IntegratedGradients",
        _captum(IntegratedGradients, n_steps=settings.ig_steps, **_ig_rows(settings)),
        signed=True,
        settings={"n_steps": settings.ig_steps, "baseline": "zeros (black image)"},
        style=Style(TOL_MUTED["indigo"], "P"),
    )


@register_method("deeplift")
def _deeplift(settings: MethodSettings) -> MethodSpec:
    return MethodSpec(
        "deeplift",
        "DeepLIFT",
        "captum.attr.DeepLift",
        _captum(DeepLift),
        signed=True,
        settings={"baseline": "zeros (black image)"},
        kind=Kind.RESCALE,
        style=Style(TOL_MUTED["olive"], "X"),
        twin=Twin("input_x_gradient"),
    )


@register_method("smoothgrad")
def _smoothgrad(settings: MethodSettings) -> MethodSpec:
    noise = {
        "nt_type": "smoothgrad",
        "nt_samples": settings.smoothgrad_samples,
        "stdevs": settings.smoothgrad_stdev,
    }
    return MethodSpec(
        "smoothgrad",
        "SmoothGrad",
        "captum.attr.NoiseTunnel(Saliency)",
        _captum(lambda m: NoiseTunnel(Saliency(m)), **noise, **_noise_rows(settings)),
        signed=False,
        per_image_noise=True,
        settings=dict(noise, stdev_units="pixel range [0, 1]"),
        style=Style(TOL_MUTED["sand"], "h"),
    )


@register_method("guided_gradcam")
def _guided_gradcam(settings: MethodSettings) -> MethodSpec:
    return MethodSpec(
        "guided_gradcam",
        "Guided Grad-CAM",
        "captum.attr.GuidedGradCam",
        _captum(lambda m: GuidedGradCam(m, cam_layer(m, settings.cam_layer))),
        signed=True,
        settings={"layer": settings.cam_layer or "last Conv2d"},
        kind=Kind.GUIDED | Kind.LAYER,
        style=Style(TOL_MUTED["wine"], "<"),
    )


@register_method("layer_gradcam")
def _layer_gradcam(settings: MethodSettings) -> MethodSpec:
    return MethodSpec(
        "layer_gradcam",
        "Grad-CAM",
        "captum.attr.LayerGradCam",
        _grad_cam(settings.cam_layer),
        signed=False,
        settings={
            "layer": settings.cam_layer or "last Conv2d",
            "relu_attributions": True,
            "upsampling": "bilinear",
        },
        kind=Kind.LAYER,
        style=Style(TOL_MUTED["teal"], ">"),
    )


@register_method("contrastive_saliency")
def _contrastive_saliency(settings: MethodSettings) -> MethodSpec:
    return MethodSpec(
        "contrastive_saliency",
        "Contrastive Saliency",
        "captum_contrastive.ContrastiveAttribution(Saliency)",
        _contrastive(lambda m: ContrastiveAttribution(Saliency(m)), abs=False),
        signed=False,
        settings={"abs": False, "contrast": "runner-up"},
        kind=Kind.CONTRASTIVE,
        style=Style(TOL_MUTED["rose"], "p"),
    )


@register_method("contrastive_ig")
def _contrastive_ig(settings: MethodSettings) -> MethodSpec:
    return MethodSpec(
        "contrastive_ig",
        "Contrastive IG",
        "captum_contrastive.ContrastiveAttribution(IntegratedGradients)",
        _contrastive(
            lambda m: ContrastiveAttribution(IntegratedGradients(m)),
            n_steps=settings.ig_steps,
            **_ig_rows(settings),
        ),
        signed=False,
        settings={"n_steps": settings.ig_steps, "contrast": "runner-up"},
        kind=Kind.CONTRASTIVE,
        style=Style(TOL_MUTED["green"], "d"),
    )


def registered_methods() -> list[str]:
    """The names of every registered method, also those registered after import."""
    return list(_FACTORIES)


def build_methods(settings: MethodSettings | None = None) -> dict[str, MethodSpec]:
    """Every registered method, built with the given sampling settings.

    Args:
        settings (MethodSettings, optional): IG steps and SmoothGrad sampling.
            Default: ``MethodSettings()``

    Returns:
        dict from method name to :class:`MethodSpec`, in registration order.
    """
    settings = settings or MethodSettings()
    specs = {name: factory(settings) for name, factory in _FACTORIES.items()}
    if settings.rows_per_pass is None:
        return specs
    rows = {"rows_per_pass": settings.rows_per_pass}
    return {
        name: replace(spec, settings={**spec.settings, **rows})
        for name, spec in specs.items()
    }


class _DefaultMethods(Mapping[str, MethodSpec]):
    """Every registered method with the default settings, read from the registry
    at each access: a method registered after import is in it too."""

    def __init__(self) -> None:
        self._built: dict[str, MethodSpec] = {}

    def __getitem__(self, name: str) -> MethodSpec:
        if name not in _FACTORIES:
            raise KeyError(name)
        if name not in self._built:
            self._built[name] = _FACTORIES[name](MethodSettings())
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(list(_FACTORIES))

    def __len__(self) -> int:
        return len(_FACTORIES)

    def __repr__(self) -> str:
        return f"METHODS({', '.join(self)})"


#: Every registered method with the default :class:`MethodSettings`, by key;
#: read live, so it also holds the methods registered after import.
METHODS: Mapping[str, MethodSpec] = _DefaultMethods()
#: The methods of a default run, in report order. ``guided_backprop`` and
#: ``deconvolution`` are Captum's; the ``*_exact`` entries are ours.
DEFAULT_METHODS: tuple[str, ...] = (
    "enhanced_gbp",
    "saliency",
    "guided_backprop",
    "deconvolution",
    "input_x_gradient",
    "integrated_gradients",
    "deeplift",
    "smoothgrad",
    "guided_gradcam",
    "layer_gradcam",
    "contrastive_saliency",
    "contrastive_ig",
)


def compute_maps(
    spec: MethodSpec,
    model: nn.Module,
    images: Tensor,
    targets: Tensor | Sequence[int],
    indices: Sequence[int],
    seed: int,
    batch_size: int = 64,
    contrast: Tensor | Sequence[int] | None = None,
    options: dict[str, Any] | None = None,
) -> Tensor:
    """Maps of ``images`` for ``targets``, batched; noise drawn per image.

    A method with ``per_image_noise`` runs image by image with the global RNG seeded
    from the image's stream ``(seed, index, "noise:<name>")`` (and restored after),
    so a sharded run draws the same noise.

    Args:
        spec (MethodSpec): the method.
        model (nn.Module): the classifier on pixel-space inputs, in eval mode.
        images (Tensor): ``(N, C, H, W)``, on any device: each chunk is moved
            to the model's.
        targets (Tensor or sequence of int): ``(N,)`` classes to explain.
        indices (sequence of int): dataset indices of the images.
        seed (int): the run's seed.
        batch_size (int): images per attribution call. Default: 64
        contrast (Tensor or sequence of int, optional): ``(N,)`` contrast classes
            of contrastive methods; default: each image's runner-up. Ignored by
            the other methods.
        options (dict, optional): extra keyword arguments of the method's
            ``attribute`` call (e.g. ``{"abs": False}`` for signed Saliency).

    Returns:
        ``(N, C', H, W)`` detached maps on the CPU.
    """
    attribute = spec.build(model)
    device = model_device(model, images.device)
    n = images.shape[0]
    targets = [int(t) for t in targets]
    indices = [int(i) for i in indices]
    contrasts = None if contrast is None else [int(c) for c in contrast]
    if len(targets) != n or len(indices) != n:
        raise ValueError("`targets` and `indices` need one entry per image")
    if contrasts is not None and len(contrasts) != n:
        raise ValueError("`contrast` needs one entry per image")
    options = options or {}
    batch_size = min(batch_size, spec.settings.get("rows_per_pass") or batch_size)

    def run(rows: slice) -> Tensor:
        # Detached at once: a method whose output still hangs on the autograd
        # graph (LayerGradCam when the weights require grad) would otherwise
        # keep every chunk's activations alive until the last chunk is done.
        part = None if contrasts is None else contrasts[rows]
        chunk = images[rows].to(device)
        return attribute(chunk, targets[rows], part, **options).detach().cpu()

    parts = []
    with quiet_captum():
        if spec.per_image_noise:
            for row, index in enumerate(indices):
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(stream_seed(seed, index, f"noise:{spec.name}"))
                    parts.append(run(slice(row, row + 1)))
        else:
            for start in range(0, n, batch_size):
                parts.append(run(slice(start, start + batch_size)))
    return torch.cat(parts)
