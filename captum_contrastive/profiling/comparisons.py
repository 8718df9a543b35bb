"""The ratios of two variants' times or peak memory reported, and their targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from captum_contrastive.profiling.timing import TimingResult

__all__ = ["COMPARISONS", "Comparison", "compare_variants"]


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


def compare_variants(
    names: Sequence[str],
    timing: TimingResult,
    memories: Mapping[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    r"""The ratios of :data:`COMPARISONS` whose two variants both ran.

    A memory ratio is left out when either peak is missing or the denominator's
    peak is not positive.

    Args:
        names (Sequence[str]): the variants that ran.
        timing (TimingResult): their times.
        memories (Mapping[str, dict]): variant -> its memory measurement
            (``peak_bytes``); may be empty.

    Returns:
        *list[dict]*, JSON-ready, with ``name``, ``numerator``, ``denominator``,
        ``metric``, ``target``, ``ratio`` (time: also ``paired_ratio`` and
        ``cpu_ratio``) and ``holds`` (None without a target).
    """
    comparisons = []
    for comparison in COMPARISONS:
        if comparison.numerator not in names or comparison.denominator not in names:
            continue
        if comparison.metric == "time":
            ratios = _time_ratios(comparison, timing)
        else:
            ratios = _memory_ratio(comparison, memories)
        if ratios is None:
            continue
        entry: dict[str, Any] = {
            "name": comparison.name,
            "numerator": comparison.numerator,
            "denominator": comparison.denominator,
            "metric": comparison.metric,
            "target": comparison.target,
            **ratios,
        }
        target = comparison.target
        entry["holds"] = None if target is None else entry["ratio"] <= target
        comparisons.append(entry)
    return comparisons


def _time_ratios(comparison: Comparison, timing: TimingResult) -> dict[str, float]:
    top, bottom = comparison.numerator, comparison.denominator
    return {
        "ratio": timing.ratio(top, bottom),
        "paired_ratio": timing.paired_ratio(top, bottom),
        "cpu_ratio": timing.ratio(top, bottom, cpu=True),
    }


def _memory_ratio(
    comparison: Comparison, memories: Mapping[str, dict[str, Any]]
) -> dict[str, float] | None:
    top = memories.get(comparison.numerator)
    bottom = memories.get(comparison.denominator)
    if top is None or bottom is None or bottom["peak_bytes"] <= 0:
        return None
    return {"ratio": top["peak_bytes"] / bottom["peak_bytes"]}
