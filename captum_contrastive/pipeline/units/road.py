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

from captum_contrastive.metrics import bootstrap_ci
from captum_contrastive.metrics.road import RoadCurve, road_curves, road_summary
from captum_contrastive.pipeline.memory import forward_batch
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
from captum_contrastive.studies.rows import loaded
from captum_contrastive.studies.verdicts import format_ci

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
        bootstrap_ci(curve.correct[:, j].astype(np.float64), n_resamples, seed=seed)
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
        summary: dict[str, Any] = {"fractions": list(c.road_fractions), "n": k}
        # Forward passes of at most the memory plan's forward rows (a shard
        # when the methods' passes are not split).
        specs = [data.specs[m].settings for m in c.methods]
        summary["methods"], records = {}, {}
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
        for name, curves in every.items():
            summary["methods"][name] = self._summarise(curves)
            records[name] = {o: curve.records() for o, curve in curves.items()}
        summary["protocol"] = curves["morf"].protocol
        return StudyResult(self.name, "", json_ready(summary), json_ready(records))

    def _summarise(self, curves: dict[str, RoadCurve]) -> dict[str, Any]:
        c = self.config
        morf, lerf = curves["morf"], curves["lerf"]
        found = road_summary(morf, lerf, c.n_resamples, seed=c.seed)
        found["base_accuracy"] = float(np.mean(morf.base_correct))
        for order, curve in curves.items():
            found[f"{order}_accuracy_ci"] = _accuracy_intervals(
                curve, c.n_resamples, c.seed
            )
        return found

    def render(self, result: StudyResult, out: Path) -> ReportSection:
        summary = result.summary
        section = ReportSection()
        if not summary:
            return section
        section.rows = _rows(summary)
        section.markdown = self._section(summary)
        from captum_contrastive.pipeline import figures

        section.figures = {"road": figures.road_figures(summary, out)}
        section.caveats.append(
            "ROAD ranks pixels by the signed channel sum of each clean map (true "
            "class) and imputes them from their neighbours with noise, so the "
            "shape of the removed region leaks little; it measures the map's "
            "faithfulness on clean images, not on adversarial ones. "
            f"{summary['n']} images, fractions "
            + ", ".join(f"{f:g}" for f in summary["fractions"])
            + "."
        )
        return section

    def _section(self, summary: dict[str, Any]) -> str:
        methods = summary["methods"]
        order = sorted(methods, key=lambda m: -_gap_mean(methods[m]))
        rows = [
            [
                name,
                format_ci(methods[name]["morf_auc"]),
                format_ci(methods[name]["lerf_auc"]),
                _gap(methods[name]["gap"]),
                f"{methods[name]['gap']['p_value']:.3g}",
            ]
            for name in order
        ]
        random_gap = _gap(methods[RANDOM_RANKING]["gap"])
        return (
            f"## ROAD: remove and debias (n={summary['n']}, clean images)\n\n"
            "Accuracy on the true class as the most (MoRF) or least (LeRF) "
            "relevant pixels are replaced by noisy linear imputation; AUC over "
            "the removed fraction. Low MoRF, high LeRF and a positive gap are "
            f"faithful; the random ranking's gap is {random_gap}.\n\n"
            + table(["ranking", "MoRF AUC", "LeRF AUC", "gap LeRF − MoRF", "p"], rows)
            + "\n"
        )


def _gap_mean(values: dict[str, Any]) -> float:
    mean = values["gap"].get("mean_diff")
    return -np.inf if mean is None or np.isnan(mean) else float(mean)


def _gap(gap: dict[str, Any]) -> str:
    return f"{gap['mean_diff']:+.3f} [{gap['ci_low']:+.3f}, {gap['ci_high']:+.3f}]"


def _gap_interval(gap: dict[str, Any]) -> dict[str, Any]:
    """The paired gap as a ``summary.csv`` interval (its mean is the mean gap)."""
    return {**gap, "mean": gap["mean_diff"]}


def _rows(summary: dict[str, Any]) -> list[SummaryRow]:
    rows = []
    for method, values in summary["methods"].items():
        rows.append(SummaryRow(STUDY, "", method, "morf_auc", values["morf_auc"]))
        rows.append(SummaryRow(STUDY, "", method, "lerf_auc", values["lerf_auc"]))
        rows.append(
            SummaryRow(
                STUDY, "", method, "lerf_minus_morf_auc", _gap_interval(values["gap"])
            )
        )
        for order in ("morf", "lerf"):
            for fraction, ci in zip(
                summary["fractions"], values[f"{order}_accuracy_ci"], strict=True
            ):
                rows.append(
                    SummaryRow(STUDY, "", method, f"{order}_accuracy@{fraction:g}", ci)
                )
    return rows
