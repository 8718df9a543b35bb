"""Typed estimates with confidence intervals, as the studies report them.

:func:`~captum_contrastive.metrics.stats.bootstrap_ci`,
:func:`~captum_contrastive.metrics.stats.paired_bootstrap_diff` and
:func:`~captum_contrastive.metrics.stats.compare_to_reference` return plain
dicts (``results.json``'s format); these dataclasses are the same values with
names, read with :meth:`Interval.of` (or
:func:`~captum_contrastive.typed_json.from_json`) and written back with
:func:`~captum_contrastive.typed_json.to_json` into the same keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeVar

from captum_contrastive.typed_json import from_json, to_json

__all__ = ["ReferenceComparison", "Interval", "PairedDifference"]

_Typed = TypeVar("_Typed", bound="_FromStats")


class _FromStats:
    """``of`` and ``to_json`` for the interval types."""

    @classmethod
    def of(cls: type[_Typed], values: dict[str, Any]) -> _Typed:
        """The dict a :mod:`~captum_contrastive.metrics.stats` function
        returned, typed."""
        return from_json(cls, values)

    def to_json(self) -> dict[str, Any]:
        return to_json(self)


@dataclass(frozen=True)
class Interval(_FromStats):
    """A mean and its percentile bootstrap interval.

    Attributes:
        mean: the mean of the kept values (NaN when none).
        ci_low, ci_high: the interval's ends (NaN when ``n < 2``).
        n: the values kept; ``n_nan`` the NaNs dropped.
        confidence: the interval's level; ``n_resamples`` the resamples drawn.
    """

    mean: float
    ci_low: float
    ci_high: float
    n: int
    n_nan: int = 0
    confidence: float = 0.95
    n_resamples: int = 2000

    @property
    def known(self) -> bool:
        """Whether the mean is a number (not NaN)."""
        return not math.isnan(self.mean)

    @property
    def half_width(self) -> float:
        """Half the interval's width (NaN without an interval)."""
        return (self.ci_high - self.ci_low) / 2.0


@dataclass(frozen=True)
class PairedDifference(_FromStats):
    """A paired bootstrap of ``mean(a - b)`` over the same images.

    Attributes:
        mean_diff: the mean difference; ``ci_low``/``ci_high`` its interval.
        p_value: the two-sided percentile bootstrap p-value.
        n, n_nan, confidence, n_resamples: as in :class:`Interval`.
    """

    mean_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    n_nan: int = 0
    confidence: float = 0.95
    n_resamples: int = 2000

    def as_interval(self) -> Interval:
        """The difference as an :class:`Interval` (its mean is ``mean_diff``),
        for a ``summary.csv`` row."""
        return Interval(
            self.mean_diff,
            self.ci_low,
            self.ci_high,
            self.n,
            self.n_nan,
            self.confidence,
            self.n_resamples,
        )


@dataclass(frozen=True)
class ReferenceComparison(_FromStats):
    """One method against a reference on the same images, Holm-corrected
    (a row of :func:`~captum_contrastive.metrics.stats.compare_to_reference`).

    Attributes:
        method, reference: the two compared.
        n, n_nan: images kept and dropped.
        mean, reference_mean: their means.
        mean_diff, ci_low, ci_high, p_value: the paired difference.
        alpha: the family-wise level; ``p_holm`` the adjusted p-value.
        higher_is_better: the score's direction.
        verdict: ``"beats"``, ``"ties"`` or ``"loses"``.
    """

    method: str
    reference: str
    n: int
    n_nan: int
    mean: float
    reference_mean: float
    mean_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    alpha: float
    higher_is_better: bool
    confidence: float
    n_resamples: int
    p_holm: float
    verdict: str
