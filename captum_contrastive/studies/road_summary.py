"""The ROAD study's summary in ``results.json``, typed.

:class:`RoadSummary` holds, per ranking (each method's clean maps and the
random baseline), a :class:`RoadMethodSummary`: what
:func:`~captum_contrastive.metrics.road.road_summary` returns (mean curves, the
MoRF and LeRF AUCs with intervals, their paired gap), with the unmodified
images' accuracy and an interval per removed fraction.
:func:`~captum_contrastive.typed_json.to_json` writes it into ``results.json``'s
keys, in their order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from captum_contrastive.metrics.intervals import Interval, PairedDifference
from captum_contrastive.typed_json import from_json, to_json

__all__ = ["RoadMethodSummary", "RoadSummary"]


@dataclass
class RoadMethodSummary:
    """One ranking's MoRF and LeRF curves.

    Attributes:
        auc_of: what the AUCs integrate, ``"accuracy"`` or ``"probability"``.
        n: images.
        fractions: the removed fractions.
        morf_accuracy, lerf_accuracy: the mean accuracy per fraction.
        morf_auc, lerf_auc: the AUCs' intervals.
        gap: the paired ``AUC(LeRF) - AUC(MoRF)``.
        base_accuracy: the accuracy on the unmodified images.
        morf_accuracy_ci, lerf_accuracy_ci: per fraction, the accuracy's
            interval.
    """

    auc_of: Literal["accuracy", "probability"]
    n: int
    fractions: list[float]
    morf_accuracy: list[float]
    lerf_accuracy: list[float]
    morf_auc: Interval
    lerf_auc: Interval
    gap: PairedDifference
    base_accuracy: float
    morf_accuracy_ci: list[Interval]
    lerf_accuracy_ci: list[Interval]

    @classmethod
    def of(
        cls,
        summary: Mapping[str, Any],
        base_accuracy: float,
        morf_accuracy_ci: Sequence[Interval],
        lerf_accuracy_ci: Sequence[Interval],
    ) -> RoadMethodSummary:
        """The dict of :func:`~captum_contrastive.metrics.road.road_summary`,
        typed, with the base accuracy and the per-fraction intervals."""
        return from_json(
            cls,
            {
                **summary,
                "base_accuracy": base_accuracy,
                "morf_accuracy_ci": [to_json(ci) for ci in morf_accuracy_ci],
                "lerf_accuracy_ci": [to_json(ci) for ci in lerf_accuracy_ci],
            },
        )

    def accuracy_intervals(self, order: str) -> list[Interval]:
        """The per-fraction intervals of ``order`` (``"morf"`` or ``"lerf"``)."""
        if order not in ("morf", "lerf"):
            raise ValueError(f"`order` must be 'morf' or 'lerf', got {order!r}")
        return self.morf_accuracy_ci if order == "morf" else self.lerf_accuracy_ci


@dataclass
class RoadSummary:
    """The ROAD unit's summary.

    Attributes:
        fractions: the removed fractions.
        n: images.
        methods: per ranking (the methods and ``"random"``), its curves.
        protocol: the MoRF curve's protocol (free-form: the settings in words,
            as :class:`~captum_contrastive.metrics.road.RoadCurve` states them).
    """

    fractions: list[float]
    n: int
    methods: dict[str, RoadMethodSummary]
    protocol: dict[str, Any]
