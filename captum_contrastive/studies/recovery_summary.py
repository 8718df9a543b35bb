"""The perturbation-recovery study's summary, typed.

:func:`~captum_contrastive.studies.recovery.summarize_recovery` returns plain
JSON values (``results.json``'s ``recovery`` entry, one per attack run);
:class:`RecoveryRunSummary` is the same tree with names, read with
:func:`~captum_contrastive.typed_json.from_json` and written back with
:func:`~captum_contrastive.typed_json.to_json` into the same keys, in the same
order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from captum_contrastive.metrics.intervals import Interval, ReferenceComparison

__all__ = ["RankingRecovery", "RecoveryRunSummary", "RecoverySummary"]


@dataclass(frozen=True)
class RankingRecovery:
    """How one ranking's top pixels restore the true label.

    Attributes:
        n: the successful attacks evaluated.
        auc: the recovery curve's area (accuracy against the share of pixels
            replaced, divided by the largest share), with its interval.
        accuracy: the accuracy at each of the run's ``fractions``.
        base_accuracy: the accuracy on the unmodified adversarial images
            (``None`` without images).
    """

    n: int
    auc: Interval
    accuracy: list[Interval]
    base_accuracy: float | None


@dataclass(frozen=True)
class RecoveryRunSummary:
    """The recovery study on one attack run.

    Attributes:
        protocol: how the curves were made, in words and settings (free-form:
            it is the curves' own protocol plus the study's, and its keys
            depend on the fill).
        n: the successful attacks evaluated.
        fractions: the shares of pixels replaced.
        methods: per ranking (each method, ``"<method> |abs|"`` of the signed
            ones, ``"random"`` and the oracle): its recovery.
        comparisons: each ranking but the oracle against the reference method,
            paired on the same images and Holm-corrected (empty when the
            reference is not ranked).
        energy_share: per map, the share of the perturbation's energy in its
            top-q pixels, by ``q`` as written (``"0.05"``).
    """

    protocol: dict[str, Any]
    n: int
    fractions: list[float]
    methods: dict[str, RankingRecovery]
    comparisons: list[ReferenceComparison]
    energy_share: dict[str, dict[str, Interval]]

    def auc(self, method: str) -> Interval | None:
        """``method``'s AUC, ``None`` when it was not ranked in this run."""
        found = self.methods.get(method)
        return None if found is None else found.auc


#: The study's summary: attack run -> its summary.
RecoverySummary = dict[str, RecoveryRunSummary]
