"""Localization on the object masks as a unit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from captum_contrastive.pipeline.stored_maps import take_rows
from captum_contrastive.pipeline.units.base import (
    MapRequest,
    ReportSection,
    RunData,
    StudyResult,
    StudyUnit,
    SummaryRow,
    register_unit,
    table,
)
from captum_contrastive.studies.localization import LocalizationSummary, localization
from captum_contrastive.studies.verdicts import format_ci

__all__ = ["LocalizationUnit"]


@register_unit
class LocalizationUnit(StudyUnit):
    """The share of each map's positive mass on the object, clean and attacked."""

    name = "localization"
    command = "localization"
    description = "Share of each map's positive mass on the object."
    default_out = "results/localization"
    title = "Localization"
    summary_type = LocalizationSummary
    relative_cost = 0.1

    def runs_needed(self) -> list[str]:
        return self.config.main_runs()[:1]

    def maps_needed(self, data: RunData) -> list[MapRequest]:
        if data.masks is None:
            return []
        requests = [MapRequest(m, "clean") for m in self.config.methods]
        for run in self.runs_needed():
            requests += [MapRequest(m, "adversarial", run) for m in self.config.methods]
        return requests

    def settings(self) -> dict[str, Any]:
        return {"seed": self.config.seed, "n_resamples": self.config.n_resamples}

    def evaluate(self, data: RunData) -> StudyResult:
        if data.masks is None:
            why = "the data has no object masks"
            return StudyResult(self.name, "", {}, None, {"localization": why})
        if not self.runs_needed():
            why = "no attack run was made"
            return StudyResult(self.name, "", {}, None, {"localization": why})
        main = self.runs_needed()[0]
        success = data.attacks[main].batch.success
        clean = self._localize(data, data.masks, "clean", None, None)
        attacked = self._localize(
            data, take_rows(data.masks, success), "adversarial", main, success
        )
        summary = LocalizationSummary.of(clean, attacked)
        return StudyResult(self.name, "", summary)

    def _localize(self, data, masks, condition, run, rows) -> dict[str, Any]:
        label = "clean" if run is None else f"adversarial {run}"
        maps = {}
        for method in self.config.methods:
            found = data.maps[MapRequest(method, condition, run)]
            maps[method] = {label: found if rows is None else take_rows(found, rows)}
        return localization(
            masks, maps, seed=self.config.seed, n_resamples=self.config.n_resamples
        )

    def render(self, result: StudyResult, out: Path) -> ReportSection:
        section = ReportSection()
        local: LocalizationSummary = result.summary
        if not local:
            return section
        section.rows.append(
            SummaryRow(
                "localization",
                "",
                "uniform map",
                "mask_area",
                local.mask_area.to_json(),
            )
        )
        for method, conditions in local.methods.items():
            for condition, ci in conditions.items():
                section.rows.append(
                    SummaryRow("localization", "", method, condition, ci.to_json())
                )
        conditions = list(next(iter(local.methods.values())).keys())
        rows = [
            [m] + [format_ci(v.get(c)) for c in conditions]
            for m, v in local.methods.items()
        ]
        section.markdown = (
            "## Localization: share of positive map mass on the object "
            f"(uniform map: {format_ci(local.mask_area)})\n\n"
            + table(["method"] + conditions, rows)
            + "\n"
        )
        return section

    def protocol(self, result: StudyResult) -> dict[str, Any] | None:
        return result.summary.protocol if result.summary else None
