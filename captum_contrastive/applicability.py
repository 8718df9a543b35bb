"""Which saliency methods apply to a model: probe each on one seeded image.

A method *fails* when it raises on the model (Captum's DeepLift on a model that
calls one activation module twice; Grad-CAM on a model without ``nn.Conv2d``). It
is *degenerate* when it runs but computes something else: Captum's DeepLift equals
InputXGradient when none of the model's nonlinearities is a module of a type it
hooks; Captum's GuidedBackprop and Deconvolution equal the plain gradient (or mix
the two) when ReLUs are ``F.relu`` calls; every guided method equals a gradient on
a model without ReLU (GELU, SiLU, ReLU6 are not guided); Grad-CAM on a model whose
only ``nn.Conv2d`` is its input layer (a ViT's patch embedding) is a map of that
layer, not of late features. The probe costs a few forward and backward passes on
one image, so it can run before a study instead of failing late in it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from captum.attr._core.deep_lift import SUPPORTED_NON_LINEAR
from torch import Tensor, nn

from captum_contrastive.guided import UnsupportedActivationWarning, guided_relu
from captum_contrastive.methods import (
    CAPTUM,
    DEFAULT_METHODS,
    Kind,
    LayerNotFoundError,
    MethodSettings,
    MethodSpec,
    build_methods,
    cam_layer,
    compute_maps,
)

__all__ = [
    "PROBE_SETTINGS",
    "STATUSES",
    "Applicability",
    "applicability_table",
    "markdown_table",
    "method_applicability",
]

#: The statuses, best first.
STATUSES: tuple[str, ...] = ("ok", "degenerate", "fails")
#: Cheap sampling settings for the probe (the status does not depend on them).
PROBE_SETTINGS = MethodSettings(ig_steps=2, smoothgrad_samples=2)


@dataclass(frozen=True)
class Applicability:
    """Whether one method applies to one model.

    Attributes:
        method: the method's registry key.
        status: ``"ok"``, ``"degenerate"`` (runs, but computes another method) or
            ``"fails"`` (raises).
        reason: why, for ``"degenerate"`` and ``"fails"``; a note or ``""`` for
            ``"ok"``.
    """

    method: str
    status: str
    reason: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"`status` must be one of {STATUSES}, got {self.status!r}")

    def __str__(self) -> str:
        return f"{self.method}: {self.status}" + (
            f" ({self.reason})" if self.reason else ""
        )


@dataclass(frozen=True)
class _Probe:
    """What one forward pass tells about the model."""

    image: Tensor
    target: int
    contrast: int
    relu_calls: int  # every ReLU call path (what our engine guides)
    relu_module_calls: int  # calls of nn.ReLU modules (what Captum's GBP hooks)
    unsupported: tuple[str, ...]  # rectifier-like activations nobody guides
    reused: tuple[str, ...]  # DeepLift-hooked modules called more than once
    deeplift_hooked: int  # calls of modules whose exact type DeepLift hooks
    deeplift_subclasses: tuple[str, ...]  # subclasses DeepLift does not hook
    first_layer: nn.Module | None  # the first module with parameters to run


def _probe(model: nn.Module, image_shape: Sequence[int], seed: int) -> _Probe:
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(1, *image_shape, generator=generator).to(device)

    calls: dict[nn.Module, int] = {}
    order: list[nn.Module] = []
    names = {
        module: name or type(module).__name__ for name, module in model.named_modules()
    }

    def count(module: nn.Module, args: tuple, output: object) -> None:
        calls[module] = calls.get(module, 0) + 1
        if next(module.parameters(recurse=False), None) is not None:
            order.append(module)

    handles = [m.register_forward_hook(count) for m in model.modules()]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnsupportedActivationWarning)
            with torch.enable_grad(), guided_relu("guided") as mode:
                logits = model(image.clone().requires_grad_())
    finally:
        for handle in handles:
            handle.remove()
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(
            f"the model must return (N, classes) logits with 2 classes or more, got "
            f"shape {tuple(logits.shape)}"
        )
    top = logits.detach()[0].topk(2).indices.tolist()
    hooked = tuple(SUPPORTED_NON_LINEAR)
    return _Probe(
        image=image,
        target=top[0],
        contrast=top[1],
        relu_calls=mode.relu_calls,
        relu_module_calls=sum(n for m, n in calls.items() if isinstance(m, nn.ReLU)),
        unsupported=tuple(sorted(mode.unsupported_seen)),
        reused=tuple(names[m] for m, n in calls.items() if type(m) in hooked and n > 1),
        deeplift_hooked=sum(n for m, n in calls.items() if type(m) in hooked),
        deeplift_subclasses=tuple(
            sorted(
                {
                    type(m).__name__
                    for m in calls
                    if isinstance(m, hooked) and type(m) not in hooked
                }
            )
        ),
        first_layer=order[0] if order else None,
    )


def method_applicability(
    model: nn.Module,
    spec_or_name: MethodSpec | str,
    image_shape: Sequence[int] = (3, 224, 224),
    num_classes: int | None = None,
    settings: MethodSettings | None = None,
    seed: int = 0,
    rtol: float = 1e-6,
) -> Applicability:
    """Probe one method on ``model`` with one seeded random image.

    Args:
        model (nn.Module): the pixel-space classifier, in eval mode.
        spec_or_name (MethodSpec or str): the method, or its registry key.
        image_shape (sequence of int): ``(C, H, W)`` of the model's input.
            Default: ``(3, 224, 224)``
        num_classes (int, optional): the number of classes the model should
            output; a model that outputs another number fails every method.
        settings (MethodSettings, optional): settings for methods named by key.
            Default: :data:`PROBE_SETTINGS` (2 IG steps, 2 SmoothGrad samples)
        seed (int): seeds the image and the methods' noise. Default: 0
        rtol (float): a map equals its degenerate twin when
            ``max|a - b| <= rtol * max|b|``. Default: 1e-6

    Returns:
        :class:`Applicability`.
    """
    return applicability_table(
        model, [spec_or_name], image_shape, num_classes, settings, seed, rtol
    )[0]


def applicability_table(
    model: nn.Module,
    methods: Sequence[MethodSpec | str] = DEFAULT_METHODS,
    image_shape: Sequence[int] = (3, 224, 224),
    num_classes: int | None = None,
    settings: MethodSettings | None = None,
    seed: int = 0,
    rtol: float = 1e-6,
) -> list[Applicability]:
    """:func:`method_applicability` for each of ``methods``, sharing one probe.

    Args:
        model (nn.Module): the pixel-space classifier, in eval mode.
        methods (sequence of MethodSpec or str): the methods. Default:
            :data:`~captum_contrastive.methods.DEFAULT_METHODS`
        image_shape, num_classes, settings, seed, rtol: as in
            :func:`method_applicability`.

    Returns:
        One :class:`Applicability` per method, in order.
    """
    specs = build_methods(settings or PROBE_SETTINGS)
    chosen = [m if isinstance(m, MethodSpec) else _spec(specs, m) for m in methods]
    try:
        probe = _probe(model, image_shape, seed)
    except Exception as exc:  # noqa: BLE001 - the model itself does not run
        reason = f"the model does not run on {tuple(image_shape)} images: {_text(exc)}"
        return [Applicability(spec.name, "fails", reason) for spec in chosen]
    if num_classes is not None:
        found = _num_outputs(model, probe.image)
        if found != num_classes:
            reason = f"the model outputs {found} classes, not {num_classes}"
            return [Applicability(spec.name, "fails", reason) for spec in chosen]
    return [_assess(model, spec, specs, probe, seed, rtol) for spec in chosen]


def _spec(specs: Mapping[str, MethodSpec], name: str) -> MethodSpec:
    if name not in specs:
        raise ValueError(f"unknown method {name!r}; registered: {', '.join(specs)}")
    return specs[name]


def _num_outputs(model: nn.Module, image: Tensor) -> int:
    with torch.no_grad():
        return int(model(image).shape[-1])


def _maps(
    spec: MethodSpec,
    model: nn.Module,
    probe: _Probe,
    seed: int,
    options: dict | None = None,
) -> Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsupportedActivationWarning)
        return compute_maps(
            spec,
            model,
            probe.image,
            [probe.target],
            [0],
            seed,
            contrast=[probe.contrast],
            options=options,
        )


def _equal(a: Tensor, b: Tensor, rtol: float) -> bool:
    scale = max(float(b.abs().max()), torch.finfo(torch.float32).tiny)
    return float((a - b).abs().max()) <= rtol * scale


def _text(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    first = first if len(first) <= 200 else first[:197] + "..."
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _activations(probe: _Probe) -> str:
    return ", ".join(probe.unsupported) if probe.unsupported else "none seen"


def _guided_by_captum(spec: MethodSpec) -> bool:
    """Captum's modified-ReLU methods, which hook ``nn.ReLU`` modules only."""
    return Kind.GUIDED in spec.kind and spec.owner == CAPTUM


@dataclass(frozen=True)
class _Case:
    """One method's maps on the probe, and what its checks may compute."""

    model: nn.Module
    spec: MethodSpec
    specs: Mapping[str, MethodSpec]
    probe: _Probe
    seed: int
    rtol: float
    maps: Tensor

    def maps_of(self, name: str, options: dict | None = None) -> Tensor:
        return _maps(self.specs[name], self.model, self.probe, self.seed, options)

    def equal(self, other: Tensor) -> bool:
        return _equal(self.maps, other, self.rtol)


def _assess(
    model: nn.Module,
    spec: MethodSpec,
    specs: Mapping[str, MethodSpec],
    probe: _Probe,
    seed: int,
    rtol: float,
) -> Applicability:
    try:
        maps = _maps(spec, model, probe, seed)
    except LayerNotFoundError as exc:
        return Applicability(spec.name, "fails", f"no Grad-CAM layer: {exc}")
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        return Applicability(spec.name, "fails", _failure(spec, probe, exc))
    if not bool(torch.isfinite(maps).all()):
        return Applicability(spec.name, "fails", "the map has NaN or infinite values")
    case = _Case(model, spec, specs, probe, seed, rtol, maps)
    for check in (_no_relu, _twin, _input_layer, _captum_guided_inside):
        reason = check(case)
        if reason is not None:
            return Applicability(spec.name, "degenerate", reason)
    return Applicability(spec.name, "ok", _note(spec, probe))


def _failure(spec: MethodSpec, probe: _Probe, exc: Exception) -> str:
    if Kind.RESCALE in spec.kind and "more than once" in str(exc):
        return (
            "Captum's DeepLift needs each activation module called once; this "
            f"model calls {_some(probe.reused) or 'one'} more than once"
        )
    return _text(exc)


def _no_relu_text(probe: _Probe) -> str:
    return (
        "the model has no ReLU (its activations: "
        f"{_activations(probe)}), so the guided rule changes nothing"
    )


def _no_relu(case: _Case) -> str | None:
    """A guided method (not a layer method) on a model without ReLU."""
    spec = case.spec
    if Kind.GUIDED not in spec.kind or spec.needs_layer or case.probe.relu_calls:
        return None
    if _guided_by_captum(spec):
        return f"{_no_relu_text(case.probe)}: equals the gradient"
    what = "contrastive gradient" if spec.contrastive else "gradient"
    return f"{_no_relu_text(case.probe)}: a plain {what} map"


def _twin(case: _Case) -> str | None:
    """The method equals its degenerate twin; Captum's guided methods also when
    they differ from our exact implementation."""
    twin, probe = case.spec.twin, case.probe
    if twin is None:
        return None
    equal = case.equal(case.maps_of(twin.method, twin.options or None))
    if not _guided_by_captum(case.spec):
        why = _deeplift(probe) if Kind.RESCALE in case.spec.kind else ""
        return f"equals {twin.method}" + (f": {why}" if why else "") if equal else None
    if equal:
        return (
            "equals the gradient: Captum hooks nn.ReLU modules only and the "
            f"model's {probe.relu_calls} ReLU calls are F.relu; use {twin.exact}"
        )
    if twin.exact is not None and not case.equal(case.maps_of(twin.exact)):
        return (
            f"differs from {twin.exact}: Captum guides "
            f"{probe.relu_module_calls} of the model's {probe.relu_calls} ReLU "
            f"calls (the rest are F.relu); use {twin.exact}"
        )
    return None


def _input_layer(case: _Case) -> str | None:
    """A layer method whose layer is the model's input layer (a ViT's patch
    embedding)."""
    if not case.spec.needs_layer:
        return None
    name = case.spec.settings.get("layer")
    layer = cam_layer(case.model, None if name == "last Conv2d" else name)
    if layer is not case.probe.first_layer:
        return None
    return (
        "the last nn.Conv2d is the model's input layer (a patch embedding): "
        "the map is of that layer, not of late features"
    )


def _captum_guided_inside(case: _Case) -> str | None:
    """A layer method with Captum's GuidedBackprop inside (Guided Grad-CAM) on a
    model without ReLU, or whose ReLUs are (partly) F.relu calls."""
    probe = case.probe
    if not (case.spec.needs_layer and _guided_by_captum(case.spec)):
        return None
    if probe.relu_calls == 0:
        return f"{_no_relu_text(probe)}: gradient x Grad-CAM"
    if probe.relu_module_calls == 0:
        return (
            "gradient x Grad-CAM: Captum's GuidedBackprop inside it hooks "
            f"nn.ReLU modules only and the model's {probe.relu_calls} ReLU calls "
            "are F.relu"
        )
    if probe.relu_module_calls < probe.relu_calls:
        return (
            f"Captum's GuidedBackprop inside it guides {probe.relu_module_calls} "
            f"of the model's {probe.relu_calls} ReLU calls (the rest are F.relu)"
        )
    return None


def _note(spec: MethodSpec, probe: _Probe) -> str:
    """What an applicable method passes over: activations without a rule."""
    if Kind.RESCALE in spec.kind and spec.owner == CAPTUM:
        unhooked = [*probe.unsupported, *probe.deeplift_subclasses]
        if probe.relu_calls > probe.relu_module_calls:
            unhooked.append(
                f"F.relu ({probe.relu_calls - probe.relu_module_calls} of "
                f"{probe.relu_calls} ReLU calls)"
            )
        if unhooked:
            return (
                f"Captum's DeepLift has no rule for {', '.join(unhooked)}: "
                "the gradient passes through unmodified"
            )
    if probe.unsupported and Kind.GUIDED in spec.kind and not spec.needs_layer:
        return f"also {_activations(probe)}, passed through unguided"
    return ""


def _some(names: Sequence[str], shown: int = 2) -> str:
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} (and {len(names) - shown} others)"


def markdown_table(rows: Mapping[str, Sequence[Applicability]]) -> str:
    """A Markdown table: one row per model, one column per method, footnoted.

    Args:
        rows (Mapping[str, sequence of Applicability]): model name -> its
            :func:`applicability_table` (the same methods in the same order).

    Returns:
        The table, then one numbered footnote per distinct reason.
    """
    methods = [a.method for a in next(iter(rows.values()), [])]
    notes: dict[str, int] = {}
    lines = [
        "| model | " + " | ".join(methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    for model, results in rows.items():
        if [a.method for a in results] != methods:
            raise ValueError(f"{model}: every row needs the methods {methods}")
        cells = []
        for a in results:
            if a.reason:
                number = notes.setdefault(a.reason, len(notes) + 1)
                cells.append(f"{a.status} [{number}]")
            else:
                cells.append(a.status)
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"[{n}] {reason}" for reason, n in notes.items()]
    return "\n".join(lines) + "\n"


def _deeplift(probe: _Probe) -> str:
    causes = []
    if probe.deeplift_subclasses:
        causes.append(
            f"its activations are subclasses ({', '.join(probe.deeplift_subclasses)}),"
            " which Captum's DeepLift does not hook (it matches exact types)"
        )
    if probe.unsupported:
        causes.append(
            f"{', '.join(probe.unsupported)}: not a DeepLift nonlinearity in Captum"
        )
    if probe.relu_calls > probe.relu_module_calls:
        causes.append("its ReLUs are F.relu calls, which DeepLift cannot hook")
    if probe.deeplift_hooked:
        causes = [
            f"Captum's DeepLift hooks {probe.deeplift_hooked} nonlinearity calls, yet "
            "the maps are equal: with a zero baseline DeepLift-Rescale is exactly "
            "input x gradient on a network whose biases are all zero (e.g. freshly "
            "initialised)",
            *causes,
        ]
    elif not causes:
        causes.append("Captum's DeepLift hooks none of its nonlinearities")
    return "; ".join(causes)
