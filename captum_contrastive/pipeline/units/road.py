"""ROAD (Rong et al., ICML 2022) as a unit, next to the paper's recovery metric.

On the first ``road_images`` selected clean images, each method's clean map (true
class) ranks the pixels; MoRF imputes the highest-ranked first, LeRF the lowest,
with noisy linear imputation of every channel
(:func:`~captum_contrastive.metrics.road.road_curve`). A seeded random ranking is
the baseline. A faithful map has a low MoRF AUC, a high LeRF AUC and a positive
gap ``AUC(LeRF) - AUC(MoRF)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from captum_contrastive import plots
from captum_contrastive.metrics import bootstrap_ci
from captum_contrastive.metrics.intervals import Interval, PairedDifference
from captum_contrastive.metrics.road import RoadCurve, road_curves, road_summary
from captum_contrastive.pipeline.memory_plan import forward_batch
from captum_contrastive.pipeline.units.base import (
    MapRequest,
    ReportSection,
    RunData,
    StudyResult,
    StudyUnit,
    SummaryRow,
    json_ready,
    register_unit,
    table,
)
from captum_contrastive.random_streams import image_generator
from captum_contrastive.row_chunks import loaded
from captum_contrastive.studies.road_summary import RoadMethodSummary, RoadSummary
from captum_contrastive.studies.verdicts import format_ci
from captum_contrastive.typed_json import to_json

__all__ = ["RANDOM_RANKING", "RoadUnit", "random_maps"]

#: The baseline ranking's name in the report and ``summary.csv``.
RANDOM_RANKING = "random"
#: The stream purpose of the random baseline's maps.
RANDOM_PURPOSE = "road:random"
#: The study's name in ``summary.csv``.
STUDY = "road"


def random_maps(shape: tuple[int, ...], indices: list[int], seed: int) -> Tensor:
    """One uniform random ``(C, H, W)`` map per image, from the image's stream
    ``(seed, index, "road:random")``, so any shard split draws the same."""
    return torch.stack(
        [
            torch.rand(shape, generator=image_generator(seed, int(i), RANDOM_PURPOSE))
            for i in indices
        ]
    )


def _accuracy_intervals(curve: RoadCurve, n_resamples: int, seed: int) -> list:
    return [
        Interval.of(
            bootstrap_ci(curve.correct[:, j].astype(np.float64), n_resamples, seed=seed)
        )
        for j in range(curve.correct.shape[1])
    ]


@register_unit
class RoadUnit(StudyUnit):
    """MoRF and LeRF ROAD curves of every method's clean maps, with CIs."""

    name = "road"
    command = "road"
    description = (
        "ROAD (remove and debias): MoRF and LeRF with noisy linear imputation."
    )
    default_out = "results/road"
    title = "ROAD"
    summary_type = RoadSummary
    relative_cost = 14.0

    def maps_needed(self, data: RunData) -> list[MapRequest]:
        return [MapRequest(m, "clean") for m in self.config.methods]

    def settings(self) -> dict[str, Any]:
        c = self.config
        return {
            "images": c.road_images,
            "fractions": list(c.road_fractions),
            "ranking": "signed channel sum",
            "noise": 0.01,
            "batch_size": c.shard_size,
            "seed": c.seed,
            "n_resamples": c.n_resamples,
        }

    def evaluate(self, data: RunData) -> StudyResult:
        c = self.config
        k = min(c.road_images, len(data.selection.indices))
        # road_curves moves one chunk at a time to the model's device.
        images, labels = data.images[:k], data.labels[:k]
        indices = data.selection.indices[:k]
        rankings = {m: loaded(data.maps[MapRequest(m, "clean")][:k]) for m in c.methods}
        rankings[RANDOM_RANKING] = random_maps(tuple(images.shape[1:]), indices, c.seed)
        # Forward passes of at most the memory plan's forward rows (a shard
        # when the methods' passes are not split).
        specs = [data.specs[m].settings for m in c.methods]
        every = road_curves(
            data.context.model,
            images,
            labels,
            rankings,
            c.road_fractions,
            ("morf", "lerf"),
            seed=c.seed,
            indices=indices,
            batch_size=forward_batch(specs, c.shard_size),
        )
        summary = RoadSummary(
            fractions=list(c.road_fractions),
            n=k,
            methods={name: self._summarise(curves) for name, curves in every.items()},
            # The settings in words: the same for every ranking.
            protocol=every[RANDOM_RANKING]["morf"].protocol,
        )
        records = {
            name: {order: curve.records() for order, curve in curves.items()}
            for name, curves in every.items()
        }
        return StudyResult(self.name, "", summary, json_ready(records))

    def _summarise(self, curves: dict[str, RoadCurve]) -> RoadMethodSummary:
        c = self.config
        morf, lerf = curves["morf"], curves["lerf"]
        return RoadMethodSummary.of(
            road_summary(morf, lerf, c.n_resamples, seed=c.seed),
            base_accuracy=float(np.mean(morf.base_correct)),
            morf_accuracy_ci=_accuracy_intervals(morf, c.n_resamples, c.seed),
            lerf_accuracy_ci=_accuracy_intervals(lerf, c.n_resamples, c.seed),
        )

    def render(self, result: StudyResult, out: Path) -> ReportSection:
        summary: RoadSummary = result.summary
        section = ReportSection()
        if not summary:
            return section
        section.rows = _rows(summary)
        section.markdown = self._section(summary)
        section.figures = self.figures(result, out)
        section.caveats.append(
            "ROAD ranks pixels by the signed channel sum of each clean map (true "
            "class) and imputes them from their neighbours with noise, so the "
            "shape of the removed region leaks little; it measures the map's "
            "faithfulness on clean images, not on adversarial ones. "
            f"{summary.n} images, fractions "
            + ", ".join(f"{f:g}" for f in summary.fractions)
            + "."
        )
        return section

    def figures(self, result: StudyResult, out: Path) -> dict[str, list[Path]]:
        """ROAD MoRF and LeRF curves, and the gap per method (the plots read
        the summary as ``results.json`` holds it)."""
        if not result.summary:
            return {}
        summary = to_json(result.summary)
        curves = plots.plot_road_curves(summary, out / "road_curves")
        gap = plots.plot_road_gap(summary, out / "road_gap")
        return {"road": curves.paths + gap.paths}

    def terminal_columns(self, result: StudyResult) -> dict[str, dict[str, str]]:
        """The ROAD gap's mean per ranking."""
        if not result.summary:
            return {}
        methods = result.summary.methods
        return {
            "ROAD gap": {name: f"{v.gap.mean_diff:+.3f}" for name, v in methods.items()}
        }

    def protocol(self, result: StudyResult) -> dict[str, Any] | None:
        return result.summary.protocol if result.summary else None

    def _section(self, summary: RoadSummary) -> str:
        methods = summary.methods
        order = sorted(methods, key=lambda m: -_gap_mean(methods[m].gap))
        rows = [
            [
                name,
                format_ci(methods[name].morf_auc),
                format_ci(methods[name].lerf_auc),
                _gap(methods[name].gap),
                f"{methods[name].gap.p_value:.3g}",
            ]
            for name in order
        ]
        random_gap = _gap(methods[RANDOM_RANKING].gap)
        return (
            f"## ROAD: remove and debias (n={summary.n}, clean images)\n\n"
            "Accuracy on the true class as the most (MoRF) or least (LeRF) "
            "relevant pixels are replaced by noisy linear imputation; AUC over "
            "the removed fraction. Low MoRF, high LeRF and a positive gap are "
            f"faithful; the random ranking's gap is {random_gap}.\n\n"
            + table(["ranking", "MoRF AUC", "LeRF AUC", "gap LeRF − MoRF", "p"], rows)
            + "\n"
        )


def _gap_mean(gap: PairedDifference) -> float:
    """The mean gap; ``-inf`` for NaN, so a NaN gap sorts last."""
    return -np.inf if np.isnan(gap.mean_diff) else gap.mean_diff


def _gap(gap: PairedDifference) -> str:
    return f"{gap.mean_diff:+.3f} [{gap.ci_low:+.3f}, {gap.ci_high:+.3f}]"


def _rows(summary: RoadSummary) -> list[SummaryRow]:
    rows = []
    for method, values in summary.methods.items():
        rows.append(
            SummaryRow(STUDY, "", method, "morf_auc", values.morf_auc.to_json())
        )
        rows.append(
            SummaryRow(STUDY, "", method, "lerf_auc", values.lerf_auc.to_json())
        )
        # The paired gap as an interval: its mean is the mean gap.
        gap = values.gap.as_interval().to_json()
        rows.append(SummaryRow(STUDY, "", method, "lerf_minus_morf_auc", gap))
        for order in ("morf", "lerf"):
            for fraction, ci in zip(
                summary.fractions, values.accuracy_intervals(order), strict=True
            ):
                measure = f"{order}_accuracy@{fraction:g}"
                rows.append(SummaryRow(STUDY, "", method, measure, ci.to_json()))
    return rows
