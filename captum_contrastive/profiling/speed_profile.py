"""One benchmark run: time and measure the variants on one model and batch.

:func:`run_speed_benchmark` proceeds in five steps:

1. ``target`` / ``contrast_target`` default to the top-1 / top-2 classes,
   computed once; every variant gets these same tensors.
2. :func:`~captum_contrastive.profiling.timing.time_interleaved`: one
   warm-up call per variant, then ``repeats`` rounds, each variant once per
   round in a shuffled order, within each group of
   :data:`~captum_contrastive.profiling.grouped_timing.TIMING_GROUPS`
   (variants that are compared with each other).
3. The warm-up outputs of variants that must agree (``egbp`` and
   ``captum_gbp_x2``, ``gbp`` and ``captum_gbp``, chunked and unchunked, ...)
   are compared (:mod:`~captum_contrastive.profiling.agreement`).
4. Peak memory per variant (:mod:`~captum_contrastive.profiling.variant_peak_memory`).
5. The ratios of :data:`~captum_contrastive.profiling.comparisons.COMPARISONS`
   whose variants both ran.

Captum's own hook and batching warnings are silenced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from captum_contrastive.profiling.agreement import check_agreement
from captum_contrastive.profiling.comparisons import compare_variants
from captum_contrastive.profiling.grouped_timing import (
    merge_timings,
    time_variant_groups,
)
from captum_contrastive.profiling.timing import TimingResult
from captum_contrastive.profiling.variant_peak_memory import (
    measure_variant_memory,
    resolve_memory_mode,
)
from captum_contrastive.profiling.variants import (
    GUIDED_VARIANTS,
    VARIANT_DESCRIPTIONS,
    build_variants,
    expand_variants,
)

__all__ = ["run_speed_benchmark"]


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
    r"""Time and measure the peak memory of the variants on one model and batch
    (the steps are listed in :mod:`~captum_contrastive.profiling.speed_profile`).

    Args:
        model (nn.Module): returns ``(N, num_classes)`` logits; moved to ``device``
            and put in eval mode.
        inputs (Tensor): ``(N, C, H, W)`` images.
        variants (Sequence[str], optional): variant names (see
            :mod:`~captum_contrastive.profiling.variants`). Default: None
            (:data:`~captum_contrastive.profiling.variants.GUIDED_VARIANTS`). With
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
            :func:`~captum_contrastive.profiling.call_peak_memory.settle_allocator`
            before
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
    memory = resolve_memory_mode(memory, device)
    model, inputs = model.to(device).eval(), inputs.to(device)
    classes = _classes(model, inputs, target, contrast_target)
    names = expand_variants(variants or GUIDED_VARIANTS, internal_batch_size)
    options = {
        "internal_batch_size": internal_batch_size,
        "ig_n_steps": ig_n_steps,
        "ig_internal_batch_size": ig_internal_batch_size,
    }
    settle_malloc = settle_malloc and device.type == "cpu"
    calls = build_variants(model, inputs, *classes, names, **options)
    timings = time_variant_groups(
        calls, repeats, min_sample_time, device, settle_malloc, progress, seed
    )
    del calls
    timing = merge_timings(timings.values())
    checks = check_agreement(timing.outputs)
    timing.outputs.clear()
    memories = measure_variant_memory(
        memory, model, inputs, *classes, names, options, progress
    )
    schedule = {"repeats": repeats, "seed": seed, "settle_malloc": settle_malloc}
    return {
        "settings": _settings(
            device, inputs, schedule, timings, min_sample_time, options, memory, classes
        ),
        "variants": _variant_rows(names, timing, memories),
        "order": _call_orders(timings),
        "comparisons": compare_variants(names, timing, memories),
        "checks": checks,
    }


def _classes(
    model: Callable[..., Tensor],
    inputs: Tensor,
    target: Tensor | None,
    contrast_target: Tensor | None,
) -> tuple[Tensor, Tensor]:
    """``target`` and ``contrast_target`` as ``(N,)`` tensors on the inputs'
    device; a missing one is the model's top-1 / top-2 class."""
    if target is None or contrast_target is None:
        with torch.no_grad():
            top2 = model(inputs).topk(2, dim=1).indices
        top1, second = top2[:, 0].contiguous(), top2[:, 1].contiguous()
        target = top1 if target is None else target
        contrast_target = second if contrast_target is None else contrast_target
    return (
        torch.as_tensor(target, device=inputs.device).view(-1),
        torch.as_tensor(contrast_target, device=inputs.device).view(-1),
    )


def _settings(
    device: torch.device,
    inputs: Tensor,
    schedule: Mapping[str, Any],
    timings: Mapping[str, TimingResult],
    min_sample_time: float,
    options: Mapping[str, Any],
    memory: str,
    classes: tuple[Tensor, Tensor],
) -> dict[str, Any]:
    """The ``settings`` of a result: input, schedule (``repeats``, ``seed``,
    ``settle_malloc``), options and classes."""
    return {
        "device": str(device),
        "input_shape": list(inputs.shape),
        "batch": int(inputs.shape[0]),
        "repeats": schedule["repeats"],
        "warmup": 1,
        "schedule": "shuffle",
        "seed": schedule["seed"],
        "settle_malloc": bool(schedule["settle_malloc"]),
        "timing_groups": {group: list(r.times) for group, r in timings.items()},
        "min_sample_time_s": min_sample_time,
        **options,
        "ig_internal_batch_size": options["ig_internal_batch_size"]
        or 8 * int(inputs.shape[0]),
        "memory_mode": memory,
        "target": classes[0].tolist(),
        "contrast_target": classes[1].tolist(),
    }


def _variant_rows(
    names: Sequence[str],
    timing: TimingResult,
    memories: Mapping[str, dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """Per variant: letter, description, raw and median times, memory."""
    rows = {}
    for name in names:
        letter, description = VARIANT_DESCRIPTIONS[name]
        rows[name] = {
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
    return rows


def _call_orders(timings: Mapping[str, TimingResult]) -> dict[str, list[list[Any]]]:
    """Per timing group: the ``[round, variant]`` calls in the order they ran."""
    return {
        group: [[round_, name] for round_, name in result.order]
        for group, result in timings.items()
    }
