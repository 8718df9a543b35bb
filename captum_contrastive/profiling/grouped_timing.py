"""The variants timed in groups: interleaved within a group, one group after another.

Variants compared with each other are timed together (interleaved, see
:func:`~captum_contrastive.profiling.timing.time_interleaved`); the long
Integrated Gradients calls are kept out of the rounds of the fast guided variants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch

from captum_contrastive.captum_warnings import quiet_captum
from captum_contrastive.profiling.call_peak_memory import settle_allocator
from captum_contrastive.profiling.timing import TimingResult, time_interleaved
from captum_contrastive.profiling.variants import GUIDED_VARIANTS

__all__ = ["TIMING_GROUPS", "merge_timings", "time_variant_groups", "timing_groups"]

#: Variants timed together (interleaved) and compared with each other. The long
#: Integrated Gradients calls (seconds, hundreds of MiB each) are kept out of the
#: rounds of the guided variants (tens of milliseconds on small models).
TIMING_GROUPS: dict[str, tuple[str, ...]] = {
    "guided": (*GUIDED_VARIANTS, "egbp_chunked", "gbp_chunked"),
    "integrated_gradients": ("contrastive_ig", "captum_ig_x2"),
}


def timing_groups(names: Sequence[str]) -> list[tuple[str, list[str]]]:
    r"""``(group, members)`` of :data:`TIMING_GROUPS` restricted to ``names`` (a
    group may be empty), then one group of its own per name in none of them."""
    groups = [
        (group, [name for name in names if name in members])
        for group, members in TIMING_GROUPS.items()
    ]
    grouped = {name for _, members in groups for name in members}
    return groups + [(name, [name]) for name in names if name not in grouped]


def time_variant_groups(
    calls: Mapping[str, Callable[[], Any]],
    repeats: int,
    min_sample_time: float = 0.0,
    device: str | torch.device = "cpu",
    settle_malloc: bool = True,
    progress: Callable[[str], None] | None = None,
    seed: int = 0,
) -> dict[str, TimingResult]:
    r"""Time each non-empty group of :func:`timing_groups`, interleaved, with
    Captum's notices silenced and the warm-up outputs kept.

    On the CPU the C allocator is settled first
    (:func:`~captum_contrastive.profiling.call_peak_memory.settle_allocator`); on
    CUDA the
    clock is read after ``torch.cuda.synchronize``.

    Args:
        calls (Mapping[str, Callable[[], Any]]): variant name -> callable.
        repeats (int): timed rounds.
        min_sample_time (float): see
            :func:`~captum_contrastive.profiling.timing.time_interleaved`.
            Default: 0.0
        device (str or torch.device): where the calls compute. Default: ``"cpu"``
        settle_malloc (bool): on the CPU, settle the allocator before timing, so
            the times do not depend on what ran earlier. Default: True
        progress (Callable[[str], None], optional): receives one line per
            sample. Default: None
        seed (int): seed of the shuffled order of each round. Default: 0

    Returns:
        *dict[str, TimingResult]* group name -> its timings.
    """
    device = torch.device(device)
    if settle_malloc and device.type == "cpu":
        settle_allocator()
    synchronize = torch.cuda.synchronize if device.type == "cuda" else None
    report = _progress_lines(progress, repeats)
    timings: dict[str, TimingResult] = {}
    with quiet_captum():
        for group, members in timing_groups(list(calls)):
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
    return timings


def merge_timings(results: Iterable[TimingResult]) -> TimingResult:
    r"""One :class:`~captum_contrastive.profiling.timing.TimingResult` holding the
    variants of all ``results`` (their call orders one after the other)."""
    merged = TimingResult({}, {}, {}, [], {}, {})
    for result in results:
        merged.times.update(result.times)
        merged.warmup_times.update(result.warmup_times)
        merged.number.update(result.number)
        merged.order.extend(result.order)
        merged.outputs.update(result.outputs)
        merged.cpu_times.update(result.cpu_times)
    return merged


def _progress_lines(
    progress: Callable[[str], None] | None, repeats: int
) -> Callable[[int, str, float], None]:
    def report(round_: int, name: str, seconds: float) -> None:
        if progress is not None:
            label = "warm-up" if round_ < 0 else f"round {round_ + 1}/{repeats}"
            progress(f"{label} {name}: {seconds:.3f} s")

    return report
