"""Class discriminativity on multi-object images as a unit (Fig. 1), and claim 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from captum_contrastive.pipeline.units.base import (
    ReportSection,
    RunData,
    StudyResult,
    StudyUnit,
    SummaryRow,
    Verdict,
    json_ready,
    register_unit,
    table,
)
from captum_contrastive.studies.class_discriminativity import class_discriminativity
from captum_contrastive.studies.verdicts import claim_filtering_effect, format_ci

__all__ = ["ClassDiscriminativityUnit"]

CLAIM_KEY = "filtering_effect"
CLAIM = "GuidedBP shares its filtering effect across classes"
SUBJECT = "guided_backprop"


@register_unit
class ClassDiscriminativityUnit(StudyUnit):
    """Maps of two classes present in one image: how alike are they?"""

    name = "class"
    results_key = "class_discriminativity"

    def methods(self) -> list[str]:
        return [m for m in self.config.class_methods if m in self.config.methods]

    def settings(self) -> dict[str, Any]:
        c = self.config
        return {
            "methods": {m: c.method_settings().__dict__ for m in self.methods()},
            "n_multi_images": c.n_multi_images,
            "seed": c.seed,
            "n_resamples": c.n_resamples,
        }

    def evaluate(self, data: RunData) -> StudyResult:
        multi = data.extras.get("multi_object")
        if multi is None:
            why = "the data has no multi-object images (LabeledImage.labels)"
            return StudyResult(self.name, "", {}, None, {"class": why})
        if not self.methods():
            why = f"none of `class_methods` {list(self.config.class_methods)} is run"
            return StudyResult(self.name, "", {}, None, {"class": why})
        context, indices = multi
        items = [context.preset.dataset[i] for i in indices]
        if not any(len(set(item.labels)) >= 2 for item in items):
            why = "no image of the multi-object data has two or more labels"
            return StudyResult(self.name, "", {}, None, {"class": why})
        result = class_discriminativity(
            context.model,
            torch.stack([item.image for item in items]).to(context.device),
            [item.labels for item in items],
            indices,
            methods=self.methods(),
            specs=data.specs,
            seed=self.config.seed,
            n_resamples=self.config.n_resamples,
        )
        records = result.pop("records")
        return StudyResult(self.name, "", json_ready(result), json_ready(records))

    def render(self, result: StudyResult, out: Path) -> ReportSection:
        from captum_contrastive.pipeline import figures

        section = ReportSection()
        summary = result.summary
        section.verdicts.append(self._verdict(result))
        if not summary:
            return section
        for method, measures in summary["methods"].items():
            for measure, ci in measures.items():
                section.rows.append(
                    SummaryRow("class_discriminativity", "", method, measure, ci)
                )
        rows = [
            [
                m,
                format_ci(v["binarized_similarity"]),
                format_ci(v["top_iou"]),
                format_ci(v["avg_diff"]),
            ]
            for m, v in summary["methods"].items()
        ]
        section.markdown = (
            f"## Class discriminativity (Fig. 1): {summary['n_pairs']} pairs from "
            f"{summary['n_images']} multi-object images\n\n"
            + table(["method", "binarized similarity", "top-10% IoU", "Avg-Diff"], rows)
            + "\n"
        )
        section.figures["class discriminativity"] = figures.class_figures(
            summary, result.records, out
        )
        return section

    def _verdict(self, result: StudyResult) -> Verdict:
        if not result.summary:
            why = next(iter(result.skipped.values()), "the study did not run")
            return Verdict.not_evaluated(1, CLAIM_KEY, CLAIM, why)
        if SUBJECT not in result.summary["methods"]:
            return Verdict.not_evaluated(
                1,
                CLAIM_KEY,
                CLAIM,
                f"{SUBJECT!r}, the claim's subject, is not in `methods`",
            )
        found = claim_filtering_effect(result.summary)
        text = f"{found['evidence']}. Rule: {found['rule']}."
        return Verdict(1, CLAIM_KEY, found["claim"], found["verdict"], found, text)
