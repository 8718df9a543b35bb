"""Speed and peak memory of the contrastive methods against their naive equivalents.

Variants (the letters are those of the project's issue 5):

==================  ===  =============================================================
``egbp``            (a)  :class:`captum_contrastive.EnhancedGuidedBackprop`: one
                         forward pass, two guided backward passes.
``captum_gbp_x2``   (b)  two :class:`captum.attr.GuidedBackprop` calls (class k, then
                         m), then :func:`captum_contrastive.contrast_maps`.
``floor``           (c)  plain autograd: one forward, two ``torch.autograd.grad``
                         calls with ``retain_graph``; no guiding, no normalization.
``gbp``             (d)  :class:`captum_contrastive.GuidedBackprop`, class k.
``captum_gbp``      (d)  :class:`captum.attr.GuidedBackprop`, class k.
``contrastive_ig``  (e)  ``ContrastiveAttribution(IntegratedGradients(model))``.
``captum_ig_x2``    (e)  two :class:`captum.attr.IntegratedGradients` calls, then
                         :func:`captum_contrastive.contrast_maps`.
``egbp_chunked``    (a)  ``egbp`` with ``internal_batch_size`` (only when given).
``gbp_chunked``     (d)  ``gbp`` with ``internal_batch_size`` (only when given).
==================  ===  =============================================================

Every variant gets the same explicit ``target`` (k) and ``contrast_target`` (m)
tensors, computed once beforehand from the model's prediction (top-1 and top-2), so
no variant pays for choosing the classes.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from captum_contrastive.profiling.memory import (
    measure_peak_memory,
    measure_peak_rss,
    run_child,
    settle_allocator,
)
from captum_contrastive.profiling.timing import TimingResult, time_interleaved

__all__ = [
    "ALL_VARIANTS",
    "COMPARISONS",
    "GUIDED_VARIANTS",
    "MODEL_PRESETS",
    "Comparison",
    "ModelPreset",
    "TIMING_GROUPS",
    "TinyCNN",
    "build_variants",
    "environment_info",
    "format_results",
    "load_benchmark_model",
    "make_inputs",
    "run_speed_benchmark",
    "write_json_atomic",
]

VARIANT_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "egbp": ("a", "EnhancedGuidedBackprop (1 forward, 2 guided backward)"),
    "captum_gbp_x2": ("b", "2 x captum GuidedBackprop (k, m) + contrast_maps"),
    "floor": ("c", "plain autograd: 1 forward, 2 autograd.grad, no guiding"),
    "gbp": ("d", "captum_contrastive.GuidedBackprop (k)"),
    "captum_gbp": ("d", "captum.attr.GuidedBackprop (k)"),
    "contrastive_ig": ("e", "ContrastiveAttribution(IntegratedGradients)"),
    "captum_ig_x2": ("e", "2 x captum IntegratedGradients (k, m) + contrast_maps"),
    "egbp_chunked": ("a", "EnhancedGuidedBackprop, internal_batch_size"),
    "gbp_chunked": ("d", "captum_contrastive.GuidedBackprop, internal_batch_size"),
}

#: Variants (a)-(d): guided backpropagation and its floor.
GUIDED_VARIANTS: tuple[str, ...] = (
    "egbp",
    "captum_gbp_x2",
    "floor",
    "gbp",
    "captum_gbp",
)
#: Variants (a)-(e).
ALL_VARIANTS: tuple[str, ...] = (*GUIDED_VARIANTS, "contrastive_ig", "captum_ig_x2")

_CHUNKED = {"egbp": "egbp_chunked", "gbp": "gbp_chunked"}

# Messages of Captum's own warnings that are expected in these runs.
_CAPTUM_WARNINGS = (
    r"Setting backward hooks on ReLU activations",
    r"Internal batch size cannot be less than the number of input examples",
    r"This method computes finite differences between evaluations",
    r"Input Tensor \d+ did not already require gradients",
)


@dataclass(frozen=True)
class Comparison:
    r"""A ratio of two variants' medians (``metric="time"``) or peaks
    (``metric="memory"``), with an optional target ``ratio <= target``."""

    numerator: str
    denominator: str
    metric: str
    target: float | None = None

    @property
    def name(self) -> str:
        return f"{self.numerator} / {self.denominator}"


#: The ratios reported; those with a target are the project's goals.
COMPARISONS: tuple[Comparison, ...] = (
    Comparison("egbp", "captum_gbp_x2", "time", 0.80),
    Comparison("egbp", "floor", "time", 1.10),
    Comparison("gbp", "captum_gbp", "time", 1.05),
    Comparison("egbp", "floor", "memory", 1.20),
    Comparison("egbp", "captum_gbp_x2", "memory"),
    Comparison("gbp", "captum_gbp", "memory"),
    Comparison("contrastive_ig", "captum_ig_x2", "time"),
    Comparison("contrastive_ig", "captum_ig_x2", "memory"),
    Comparison("egbp_chunked", "egbp", "time"),
    Comparison("egbp_chunked", "egbp", "memory"),
    Comparison("gbp_chunked", "gbp", "time"),
    Comparison("gbp_chunked", "gbp", "memory"),
)

#: Variants timed together (interleaved) and compared with each other. The long
#: Integrated Gradients calls (seconds, hundreds of MiB each) are kept out of the
#: rounds of the guided variants (tens of milliseconds on small models).
TIMING_GROUPS: dict[str, tuple[str, ...]] = {
    "guided": (*GUIDED_VARIANTS, "egbp_chunked", "gbp_chunked"),
    "integrated_gradients": ("contrastive_ig", "captum_ig_x2"),
}

# Pairs of variants that must return the same maps, up to float rounding relative to
# the largest value (chunking changes the batch size, so oneDNN may pick another
# convolution algorithm: vgg16 chunked maps differ by about 1e-5 of the maximum).
_AGREEMENT_RTOL = 1e-4
_AGREEMENT_CHECKS: tuple[tuple[str, str], ...] = (
    ("egbp", "captum_gbp_x2"),
    ("gbp", "captum_gbp"),
    ("egbp_chunked", "egbp"),
    ("gbp_chunked", "gbp"),
    ("contrastive_ig", "captum_ig_x2"),
)


# --------------------------------------------------------------------------- models


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


# ------------------------------------------------------------------------- variants


@contextmanager
def quiet_captum() -> Iterator[None]:
    r"""Silence Captum's expected warnings (hooks on ReLU, internal batch size)."""
    with warnings.catch_warnings():
        for message in _CAPTUM_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        yield


def build_variants(
    model: Callable[..., Tensor],
    inputs: Tensor,
    target: Tensor,
    contrast_target: Tensor,
    names: Sequence[str] = GUIDED_VARIANTS,
    internal_batch_size: int | None = None,
    ig_n_steps: int = 32,
    ig_internal_batch_size: int | None = None,
) -> dict[str, Callable[[], Any]]:
    r"""Zero-argument callables, one per variant, over the same inputs and classes.

    The attribution objects are built here, once; each callable only runs
    ``attribute`` (and the normalization where the variant has one).

    Args:
        model (Callable[..., Tensor]): returns ``(N, num_classes)`` logits.
        inputs (Tensor): ``(N, C, H, W)`` images.
        target (Tensor): ``(N,)`` class k per example.
        contrast_target (Tensor): ``(N,)`` class m per example.
        names (Sequence[str]): variant names (see the module docstring).
            Default: :data:`GUIDED_VARIANTS`
        internal_batch_size (int, optional): chunk size of ``egbp_chunked`` and
            ``gbp_chunked``. Default: None
        ig_n_steps (int): Integrated Gradients steps. Default: 32
        ig_internal_batch_size (int, optional): Captum's ``internal_batch_size``
            for Integrated Gradients (counts expanded examples, batch x steps).
            Default: None (``8 * N``)

    Returns:
        *dict[str, Callable[[], Any]]* name -> callable.

    Examples::

        >>> model = TinyCNN().eval()
        >>> x = torch.rand(2, 3, 16, 16)
        >>> calls = build_variants(model, x, torch.tensor([0, 1]),
        ...                        torch.tensor([2, 3]), ["egbp", "floor"])
        >>> maps = calls["egbp"]()
    """
    import captum.attr as captum_attr

    from captum_contrastive import (
        ContrastiveAttribution,
        EnhancedGuidedBackprop,
        GuidedBackprop,
        contrast_maps,
    )

    k = target
    m = contrast_target
    batch = inputs.shape[0]
    ig_batch = ig_internal_batch_size or 8 * batch
    egbp = EnhancedGuidedBackprop(model)
    gbp = GuidedBackprop(model)
    captum_gbp = captum_attr.GuidedBackprop(model)
    captum_ig = captum_attr.IntegratedGradients(model)
    contrastive_ig = ContrastiveAttribution(captum_attr.IntegratedGradients(model))
    k_column, m_column = k.view(-1, 1), m.view(-1, 1)

    def floor() -> tuple[Tensor, Tensor]:
        with torch.enable_grad():
            leaf = inputs.detach().requires_grad_(True)
            logits = model(leaf)
            (grad_k,) = torch.autograd.grad(
                logits.gather(1, k_column).sum(), leaf, retain_graph=True
            )
            (grad_m,) = torch.autograd.grad(logits.gather(1, m_column).sum(), leaf)
        return grad_k, grad_m

    def two_captum_gbp() -> Tensor:
        return contrast_maps(
            captum_gbp.attribute(inputs, target=k),
            captum_gbp.attribute(inputs, target=m),
        )

    def two_captum_ig() -> Tensor:
        return contrast_maps(
            captum_ig.attribute(
                inputs, target=k, n_steps=ig_n_steps, internal_batch_size=ig_batch
            ),
            captum_ig.attribute(
                inputs, target=m, n_steps=ig_n_steps, internal_batch_size=ig_batch
            ),
        )

    table: dict[str, Callable[[], Any]] = {
        "egbp": lambda: egbp.attribute(inputs, target=k, contrast_target=m),
        "captum_gbp_x2": two_captum_gbp,
        "floor": floor,
        "gbp": lambda: gbp.attribute(inputs, target=k),
        "captum_gbp": lambda: captum_gbp.attribute(inputs, target=k),
        "contrastive_ig": lambda: contrastive_ig.attribute(
            inputs,
            target=k,
            contrast_target=m,
            n_steps=ig_n_steps,
            internal_batch_size=ig_batch,
        ),
        "captum_ig_x2": two_captum_ig,
        "egbp_chunked": lambda: egbp.attribute(
            inputs,
            target=k,
            contrast_target=m,
            internal_batch_size=internal_batch_size,
        ),
        "gbp_chunked": lambda: gbp.attribute(
            inputs, target=k, internal_batch_size=internal_batch_size
        ),
    }
    unknown = [name for name in names if name not in table]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; choose from {list(table)}")
    if internal_batch_size is None and any(n.endswith("_chunked") for n in names):
        raise ValueError("the *_chunked variants need `internal_batch_size`")
    return {name: table[name] for name in names}


def _merge_timings(results: Iterable[TimingResult]) -> TimingResult:
    merged = TimingResult({}, {}, {}, [], {}, {})
    for result in results:
        merged.times.update(result.times)
        merged.warmup_times.update(result.warmup_times)
        merged.number.update(result.number)
        merged.order.extend(result.order)
        merged.outputs.update(result.outputs)
        merged.cpu_times.update(result.cpu_times)
    return merged


def _expand_variants(
    names: Sequence[str], internal_batch_size: int | None
) -> list[str]:
    expanded = list(dict.fromkeys(names))
    if internal_batch_size is not None:
        for base, chunked in _CHUNKED.items():
            if base in expanded and chunked not in expanded:
                expanded.append(chunked)
    return expanded


def _class_pair(model: Callable[..., Tensor], inputs: Tensor) -> tuple[Tensor, Tensor]:
    with torch.no_grad():
        top2 = model(inputs).topk(2, dim=1).indices
    return top2[:, 0].contiguous(), top2[:, 1].contiguous()


def _max_abs_difference(a: Any, b: Any) -> tuple[float, float]:
    a_tensor = a[0] if isinstance(a, tuple) else a
    b_tensor = b[0] if isinstance(b, tuple) else b
    difference = (a_tensor.double() - b_tensor.double()).abs().max().item()
    scale = max(a_tensor.abs().max().item(), b_tensor.abs().max().item())
    return float(difference), float(scale)


# --------------------------------------------------------------------------- memory


def _memory_child(args: Sequence[str], result_path: str) -> None:
    """Entry point of a fresh process measuring one variant (see ``run_child``)."""
    payload_path, name = args
    payload = torch.load(payload_path, weights_only=False)
    torch.set_num_threads(payload["num_threads"])
    model, inputs = payload["model"], payload["inputs"]
    k, m = payload["target"], payload["contrast_target"]
    options = payload["options"]
    with quiet_captum():
        # Warm up on one example: loads the kernels and library state, whose
        # one-time memory is not the variant's, at 1/N of the cost.
        warm = build_variants(model, inputs[:1], k[:1], m[:1], [name], **options)
        start = time.perf_counter()
        output = warm[name]()
        warmup_s = time.perf_counter() - start
        del output, warm
        call = build_variants(model, inputs, k, m, [name], **options)[name]
        measurement, output = measure_peak_rss(call)
    del output
    result = measurement.to_dict()
    result["warmup_s"] = warmup_s
    Path(result_path).write_text(json.dumps(result))


def _measure_memory_subprocess(
    model: nn.Module,
    inputs: Tensor,
    target: Tensor,
    contrast_target: Tensor,
    names: Sequence[str],
    options: dict[str, Any],
    progress: Callable[[str], None] | None,
) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="cc-speed-") as tmp:
        payload_path = Path(tmp) / "payload.pt"
        torch.save(
            {
                "model": model,
                "inputs": inputs,
                "target": target,
                "contrast_target": contrast_target,
                "options": options,
                "num_threads": torch.get_num_threads(),
            },
            payload_path,
        )
        for name in names:
            entry = "captum_contrastive.profiling.speed:_memory_child"
            results[name] = run_child(entry, [str(payload_path), name])
            if progress is not None:
                mib = results[name]["peak_bytes"] / 2**20
                progress(f"memory {name}: {mib:.1f} MiB (fresh process)")
    return results


# ---------------------------------------------------------------------------- run


def run_speed_benchmark(
    model: nn.Module,
    inputs: Tensor,
    variants: Sequence[str] | None = None,
    repeats: int = 5,
    device: str | torch.device = "cpu",
    target: Tensor | None = None,
    contrast_target: Tensor | None = None,
    internal_batch_size: int | None = None,
    ig_n_steps: int = 32,
    ig_internal_batch_size: int | None = None,
    memory: str = "auto",
    min_sample_time: float = 0.0,
    progress: Callable[[str], None] | None = None,
    seed: int = 0,
    settle_malloc: bool = True,
) -> dict[str, Any]:
    r"""Time and measure the peak memory of the variants on one model and batch.

    1. ``target`` / ``contrast_target`` default to the top-1 / top-2 classes,
       computed once; every variant gets these same tensors.
    2. :func:`~captum_contrastive.profiling.timing.time_interleaved`: one
       warm-up call per variant, then ``repeats`` rounds, each variant once per
       round in a shuffled order, within each group of :data:`TIMING_GROUPS`
       (variants that are compared with each other).
    3. The warm-up outputs of variants that must agree (``egbp`` and
       ``captum_gbp_x2``, ``gbp`` and ``captum_gbp``, chunked and unchunked, ...)
       are compared.
    4. Peak memory per variant (see :mod:`captum_contrastive.profiling.memory`).
    5. The ratios of :data:`COMPARISONS` whose variants both ran.

    Captum's own hook and batching warnings are silenced.

    Args:
        model (nn.Module): returns ``(N, num_classes)`` logits; moved to ``device``
            and put in eval mode.
        inputs (Tensor): ``(N, C, H, W)`` images.
        variants (Sequence[str], optional): variant names (see the module
            docstring). Default: None (:data:`GUIDED_VARIANTS`). With
            ``internal_batch_size``, ``egbp_chunked`` / ``gbp_chunked`` are added
            for ``egbp`` / ``gbp``.
        repeats (int): timed rounds. Default: 5
        device (str or torch.device): ``"cpu"`` or ``"cuda"``. Default: ``"cpu"``
        target (Tensor, optional): ``(N,)`` class k. Default: None (top-1)
        contrast_target (Tensor, optional): ``(N,)`` class m. Default: None (top-2)
        internal_batch_size (int, optional): chunk size for the chunked variants.
            Default: None
        ig_n_steps (int): Integrated Gradients steps. Default: 32
        ig_internal_batch_size (int, optional): Captum's ``internal_batch_size``
            for Integrated Gradients. Default: None (``8 * N``)
        memory (str): ``"subprocess"`` (CPU: one fresh process per variant, the
            robust choice), ``"inprocess"`` (quick, may under-count memory the C
            allocator kept from earlier calls), ``"off"``, or ``"auto"``
            (``"subprocess"`` on the CPU, ``"inprocess"`` on CUDA, where the
            allocator's statistics are exact). Default: ``"auto"``
        min_sample_time (float): see
            :func:`~captum_contrastive.profiling.timing.time_interleaved`.
            Default: 0.0
        progress (Callable[[str], None], optional): receives progress lines.
            Default: None
        seed (int): seed of the shuffled order of each round. Default: 0
        settle_malloc (bool): on the CPU, call
            :func:`~captum_contrastive.profiling.memory.settle_allocator` before
            timing, so the times do not depend on what ran earlier in the process.
            Default: True

    Returns:
        *dict*, JSON-ready, with ``settings``, ``variants`` (per variant: letter,
        description, ``times_s``, ``median_s``, ``warmup_s``, ``memory``),
        ``order`` (the call order), ``comparisons`` (ratios, targets, whether they
        hold) and ``checks`` (maximum differences between variants that must
        agree).

    Examples::

        >>> model = TinyCNN().eval()
        >>> result = run_speed_benchmark(model, torch.rand(2, 3, 16, 16),
        ...                              repeats=3, memory="inprocess")
        >>> print(format_results(result))  # doctest: +SKIP
    """
    device = torch.device(device)
    if memory not in ("auto", "subprocess", "inprocess", "off"):
        raise ValueError(f"unknown memory mode {memory!r}")
    if memory == "auto":
        memory = "inprocess" if device.type == "cuda" else "subprocess"
    model = model.to(device).eval()
    inputs = inputs.to(device)
    if target is None or contrast_target is None:
        top1, top2 = _class_pair(model, inputs)
        target = top1 if target is None else target
        contrast_target = top2 if contrast_target is None else contrast_target
    target = torch.as_tensor(target, device=device).view(-1)
    contrast_target = torch.as_tensor(contrast_target, device=device).view(-1)
    names = _expand_variants(variants or GUIDED_VARIANTS, internal_batch_size)
    options = {
        "internal_batch_size": internal_batch_size,
        "ig_n_steps": ig_n_steps,
        "ig_internal_batch_size": ig_internal_batch_size,
    }
    calls = build_variants(model, inputs, target, contrast_target, names, **options)
    synchronize = torch.cuda.synchronize if device.type == "cuda" else None
    if settle_malloc and device.type == "cpu":
        settle_allocator()

    def report(round_: int, name: str, seconds: float) -> None:
        if progress is not None:
            label = "warm-up" if round_ < 0 else f"round {round_ + 1}/{repeats}"
            progress(f"{label} {name}: {seconds:.3f} s")

    groups = [
        (group, [name for name in names if name in members])
        for group, members in TIMING_GROUPS.items()
    ]
    grouped = {name for _, members in groups for name in members}
    groups += [(name, [name]) for name in names if name not in grouped]
    timings: dict[str, TimingResult] = {}
    with quiet_captum():
        for group, members in groups:
            if members:
                timings[group] = time_interleaved(
                    {name: calls[name] for name in members},
                    repeats=repeats,
                    min_sample_time=min_sample_time,
                    synchronize=synchronize,
                    keep_outputs=True,
                    progress=report,
                    seed=seed,
                )
    timing = _merge_timings(timings.values())
    checks = []
    for a, b in _AGREEMENT_CHECKS:
        if a in timing.outputs and b in timing.outputs:
            outputs = timing.outputs
            difference, scale = _max_abs_difference(outputs[a], outputs[b])
            checks.append(
                {
                    "variants": [a, b],
                    "max_abs_difference": difference,
                    "max_abs_value": scale,
                    "agree": difference <= _AGREEMENT_RTOL * max(scale, 1e-30),
                }
            )
    timing.outputs.clear()
    del calls

    memories: dict[str, dict[str, Any]] = {}
    if memory == "subprocess":
        memories = _measure_memory_subprocess(
            model.cpu() if device.type != "cpu" else model,
            inputs.cpu(),
            target.cpu(),
            contrast_target.cpu(),
            names,
            options,
            progress,
        )
        model.to(device)
    elif memory == "inprocess":
        with quiet_captum():
            for name in names:
                call = build_variants(
                    model, inputs, target, contrast_target, [name], **options
                )[name]
                measurement, output = measure_peak_memory(call, device)
                del output
                memories[name] = measurement.to_dict()
                if progress is not None:
                    mib = measurement.peak_bytes / 2**20
                    progress(f"memory {name}: {mib:.1f} MiB (in-process)")

    per_variant = {}
    for name in names:
        letter, description = VARIANT_DESCRIPTIONS[name]
        per_variant[name] = {
            "letter": letter,
            "description": description,
            "times_s": timing.times[name],
            "median_s": timing.median(name),
            "cpu_times_s": timing.cpu_times[name],
            "cpu_median_s": timing.median(name, cpu=True),
            "warmup_s": timing.warmup_times[name],
            "calls_per_sample": timing.number[name],
            "memory": memories.get(name),
        }
    comparisons = []
    for comparison in COMPARISONS:
        if comparison.numerator not in names or comparison.denominator not in names:
            continue
        entry: dict[str, Any] = {
            "name": comparison.name,
            "numerator": comparison.numerator,
            "denominator": comparison.denominator,
            "metric": comparison.metric,
            "target": comparison.target,
        }
        if comparison.metric == "time":
            entry["ratio"] = timing.ratio(comparison.numerator, comparison.denominator)
            entry["paired_ratio"] = timing.paired_ratio(
                comparison.numerator, comparison.denominator
            )
            entry["cpu_ratio"] = timing.ratio(
                comparison.numerator, comparison.denominator, cpu=True
            )
        else:
            top = memories.get(comparison.numerator)
            bottom = memories.get(comparison.denominator)
            if top is None or bottom is None or bottom["peak_bytes"] <= 0:
                continue
            entry["ratio"] = top["peak_bytes"] / bottom["peak_bytes"]
        entry["holds"] = (
            None if comparison.target is None else entry["ratio"] <= comparison.target
        )
        comparisons.append(entry)

    return {
        "settings": {
            "device": str(device),
            "input_shape": list(inputs.shape),
            "batch": int(inputs.shape[0]),
            "repeats": repeats,
            "warmup": 1,
            "schedule": "shuffle",
            "seed": seed,
            "settle_malloc": bool(settle_malloc and device.type == "cpu"),
            "timing_groups": {group: list(r.times) for group, r in timings.items()},
            "min_sample_time_s": min_sample_time,
            "internal_batch_size": internal_batch_size,
            "ig_n_steps": ig_n_steps,
            "ig_internal_batch_size": ig_internal_batch_size
            or 8 * int(inputs.shape[0]),
            "memory_mode": memory,
            "target": target.tolist(),
            "contrast_target": contrast_target.tolist(),
        },
        "variants": per_variant,
        "order": {
            group: [[round_, name] for round_, name in result.order]
            for group, result in timings.items()
        },
        "comparisons": comparisons,
        "checks": checks,
    }


# ------------------------------------------------------------------------ reports


def environment_info(device: str | torch.device = "cpu") -> dict[str, Any]:
    r"""Versions, thread count and device of this run, for the JSON record.

    Args:
        device (str or torch.device): the benchmark device. Default: ``"cpu"``

    Returns:
        *dict*, JSON-ready.
    """
    import captum

    info: dict[str, Any] = {
        "torch": torch.__version__,
        "captum": captum.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "torch_num_threads": torch.get_num_threads(),
        "torch_num_interop_threads": torch.get_num_interop_threads(),
        "device": str(device),
        "argv": list(sys.argv),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        import torchvision

        info["torchvision"] = torchvision.__version__
    except ImportError:
        info["torchvision"] = None
    if torch.device(device).type == "cuda" and torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name(torch.device(device))
        info["cuda"] = torch.version.cuda
    return info


def _mib(memory: dict[str, Any] | None) -> str:
    return "-" if memory is None else f"{memory['peak_bytes'] / 2**20:.1f}"


def format_results(result: dict[str, Any], title: str = "") -> str:
    r"""A plain-text table of the medians, peak memory and ratios of one result.

    Args:
        result (dict): returned by :func:`run_speed_benchmark`.
        title (str): a heading line. Default: ``""``

    Returns:
        *str* the table.
    """
    settings = result["settings"]
    lines = []
    if title:
        lines.append(title)
    lines.append(
        f"input {tuple(settings['input_shape'])}  device {settings['device']}  "
        f"repeats {settings['repeats']} (+1 warm-up)  "
        f"threads {torch.get_num_threads()}  memory {settings['memory_mode']}  "
        f"internal_batch_size {settings['internal_batch_size']}"
    )
    header = (
        f"{'':3} {'variant':<15} {'median s':>9} {'min s':>8} {'max s':>8} "
        f"{'cpu s':>8} {'peak MiB':>9}  description"
    )
    lines += [header, "-" * len(header)]
    for name, row in result["variants"].items():
        times = row["times_s"]
        lines.append(
            f"({row['letter']}) {name:<15} {row['median_s']:>9.3f} "
            f"{min(times):>8.3f} {max(times):>8.3f} {row['cpu_median_s']:>8.3f} "
            f"{_mib(row['memory']):>9}  {row['description']}"
        )
    lines.append("")
    header = (
        f"{'ratio':<31} {'metric':<6} {'median':>6} {'paired':>7} {'cpu':>6} "
        f"{'target':>8}  holds"
    )
    lines += [header, "-" * len(header)]

    def number(value: float | None, width: int) -> str:
        return f"{'' if value is None else f'{value:.3f}':>{width}}"

    for entry in result["comparisons"]:
        target = entry["target"]
        holds = {True: "yes", False: "NO", None: ""}[entry["holds"]]
        lines.append(
            f"{entry['name']:<31} {entry['metric']:<6} {entry['ratio']:>6.3f} "
            f"{number(entry.get('paired_ratio'), 7)} "
            f"{number(entry.get('cpu_ratio'), 6)} "
            f"{'' if target is None else f'<= {target:.2f}':>8}  {holds}"
        )
    lines.append(
        "median: ratio of wall-clock medians (the target's measure); paired: median "
        "of per-round ratios; cpu: ratio of CPU-time medians"
    )
    if result["checks"]:
        lines.append("")
        for check in result["checks"]:
            a, b = check["variants"]
            verdict = "agree" if check["agree"] else "DIFFER"
            lines.append(
                f"check {a} vs {b}: max |diff| {check['max_abs_difference']:.2e} "
                f"(max |value| {check['max_abs_value']:.2e}) -> {verdict}"
            )
    return "\n".join(lines)


def write_json_atomic(data: Any, path: str | Path) -> Path:
    r"""Write ``data`` as JSON to ``path`` atomically: a temporary file in the same
    folder, flushed and fsynced, then renamed over ``path``.

    Args:
        data (Any): JSON-serializable data.
        path (str or Path): the destination; parent folders are created.

    Returns:
        *Path* the destination.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(handle, "w") as tmp:
            json.dump(data, tmp, indent=2)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path
