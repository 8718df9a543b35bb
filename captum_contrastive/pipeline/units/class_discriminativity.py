"""Class discriminativity on multi-object images as a unit (Fig. 1), and claim 1."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from captum_contrastive import plots
from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.stages import StageContext
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
from captum_contrastive.presets.base import Preset
from captum_contrastive.studies.class_discriminativity import (
    ClassDiscriminativitySummary,
    class_discriminativity,
)
from captum_contrastive.studies.verdicts import claim_filtering_effect, format_ci
from captum_contrastive.typed_json import to_json

__all__ = ["ClassDiscriminativityUnit", "ClassPairs"]

CLAIM_KEY = "filtering_effect"
CLAIM = "GuidedBP shares its filtering effect across classes"
SUBJECT = "guided_backprop"
#: :attr:`ClassPairs.kind` of images with several objects.
MULTI_OBJECT = "multi-object images"
#: :attr:`ClassPairs.kind` of a label file with several labels per image.
MULTI_LABEL = "multi-label file"
#: :attr:`ClassPairs.kind` of single-label data: the top-2 predicted classes.
TOP2 = "top-2 stand-in"


@dataclass(frozen=True)
class ClassPairs:
    """The images and the classes present in each, for claim 1.

    Attributes:
        context: the model and data the images come from.
        indices: dataset indices of the images.
        labels: per image, the classes whose maps are compared.
        kind: :data:`MULTI_OBJECT`, :data:`MULTI_LABEL` or :data:`TOP2` (single-
            label data: the true class and the model's runner-up, a stand-in for
            two objects present in the image).
    """

    context: StageContext
    indices: list[int]
    labels: list[tuple[int, ...]]
    kind: str

    def key(self) -> dict[str, Any]:
        """What the study's result depends on beyond the run's own keys."""
        return {
            "model": self.context.model_key,
            "data": self.context.data_key,
            "kind": self.kind,
            "indices": self.indices,
            "labels": [list(found) for found in self.labels],
        }


@register_unit
class ClassDiscriminativityUnit(StudyUnit):
    """Maps of two classes present in one image: how alike are they?"""

    name = "class_discriminativity"
    command = "class"
    description = "Class discriminativity on multi-object images (paper Fig. 1)."
    default_out = "results/class_discriminativity"
    title = "Class discriminativity"
    #: Its stage key was stored under its former name "class".
    stored_name = "class"
    relative_cost = 1.0
    summary_type = ClassDiscriminativitySummary

    def __init__(self, config: BenchmarkConfig) -> None:
        super().__init__(config)
        #: The images and class pairs :meth:`prepare` chose.
        self.pairs: ClassPairs | None = None

    def prepare(self, data: RunData, preset: Preset | None) -> None:
        """The images and class pairs of claim 1: ``preset`` (multi-object
        images), the shapes preset's multi-object variant when the run is on
        the shapes preset, the data's multi-label file, or else the top-2
        classes of the selected images."""
        if preset is None and data.context.preset.name == "shapes":
            from captum_contrastive.presets.shapes_model import shapes_preset

            preset = shapes_preset(
                split="test", multi_object=True, device=self.config.device
            )
        if preset is None:
            self.pairs = _pairs_of_the_data(self.config, data)
            return
        context = StageContext.for_preset(
            preset, self.config.out / "cache", self.config.device, self.config.progress
        )
        context.store = data.context.store
        indices = list(range(min(self.config.n_multi_images, len(preset.dataset))))
        labels = [tuple(preset.dataset[i].labels) for i in indices]
        self.pairs = ClassPairs(context, indices, labels, MULTI_OBJECT)

    def stage_key_extra(self) -> dict[str, Any] | None:
        """The prepared images and class pairs (:meth:`ClassPairs.key`)."""
        return None if self.pairs is None else self.pairs.key()

    def methods(self) -> list[str]:
        return [m for m in self.config.class_methods if m in self.config.methods]

    def settings(self) -> dict[str, Any]:
        c = self.config
        return {
            "methods": self.methods(),  # their settings: in every study key
            "n_multi_images": c.n_multi_images,
            "seed": c.seed,
            "n_resamples": c.n_resamples,
        }

    def evaluate(self, data: RunData) -> StudyResult:
        pairs = self.pairs
        if pairs is None:
            raise RuntimeError(
                "ClassDiscriminativityUnit.evaluate needs its images and class "
                "pairs: call prepare(data, preset) first (run_benchmark does)"
            )
        if not self.methods():
            why = f"none of `class_methods` {list(self.config.class_methods)} is run"
            return StudyResult(self.name, "", {}, None, {self.name: why})
        context = pairs.context
        if not any(len(set(found)) >= 2 for found in pairs.labels):
            why = f"no image of the {pairs.kind} has two or more labels"
            return StudyResult(self.name, "", {}, None, {self.name: why})
        images = [context.preset.dataset[i].image for i in pairs.indices]
        result = class_discriminativity(
            context.model,
            torch.stack(images).to(context.device),
            pairs.labels,
            pairs.indices,
            methods=self.methods(),
            specs=data.specs,
            seed=self.config.seed,
            n_resamples=self.config.n_resamples,
        )
        summary = ClassDiscriminativitySummary.of(result, pairs.kind)
        records = json_ready(result["records"])
        return StudyResult(self.name, "", summary, records)

    def render(self, result: StudyResult, out: Path) -> ReportSection:
        section = ReportSection()
        summary: ClassDiscriminativitySummary = result.summary
        section.verdicts.append(self._verdict(result))
        if not summary:
            return section
        for method, measures in summary.methods.items():
            for measure, ci in measures.measures().items():
                section.rows.append(
                    SummaryRow(
                        "class_discriminativity", "", method, measure, ci.to_json()
                    )
                )
        rows = [
            [
                m,
                format_ci(v.binarized_similarity),
                format_ci(v.top_iou),
                format_ci(v.avg_diff),
            ]
            for m, v in summary.methods.items()
        ]
        kind = summary.pairs
        stand_in = (
            "Single-label data: each image's true class is paired with the model's "
            "runner-up, a stand-in for two objects present in the image.\n\n"
            if kind == TOP2
            else ""
        )
        section.markdown = (
            f"## Class discriminativity (Fig. 1): {summary.n_pairs} pairs from "
            f"{summary.n_images} images ({kind})\n\n"
            + stand_in
            + table(["method", "binarized similarity", "top-10% IoU", "Avg-Diff"], rows)
            + "\n"
        )
        section.figures = self.figures(result, out)
        return section

    def figures(self, result: StudyResult, out: Path) -> dict[str, list[Path]]:
        """The distributions of the measures over the class pairs (the plot
        reads the summary as ``results.json`` holds it, and the records)."""
        if not result.summary:
            return {}
        stem = out / "class_discriminativity"
        found = plots.plot_class_discriminativity(
            to_json(result.summary), result.records, stem
        )
        return {"class discriminativity": found.paths}

    def protocol(self, result: StudyResult) -> dict[str, Any] | None:
        return result.summary.protocol if result.summary else None

    def _verdict(self, result: StudyResult) -> Verdict:
        if not result.summary:
            why = next(iter(result.skipped.values()), "the study did not run")
            return Verdict.not_evaluated(1, CLAIM_KEY, CLAIM, why)
        if SUBJECT not in result.summary.methods:
            return Verdict.not_evaluated(
                1,
                CLAIM_KEY,
                CLAIM,
                f"{SUBJECT!r}, the claim's subject, is not in `methods`",
            )
        found = claim_filtering_effect(to_json(result.summary))
        text = f"{found['evidence']}. Rule: {found['rule']}."
        if result.summary.pairs == TOP2:
            found["pairs"] = TOP2
            text = (
                "Evaluated on a stand-in: the data has one label per image, so "
                "each image's true class is paired with the model's runner-up "
                "(the top-2 classes), not with a second object present in the "
                f"image. {text}"
            )
        return Verdict(1, CLAIM_KEY, found["claim"], found["verdict"], found, text)


def _pairs_of_the_data(config: BenchmarkConfig, data: RunData) -> ClassPairs:
    """The data's multi-label images, or else each selected image's true class
    paired with the model's runner-up (:data:`TOP2`)."""
    dataset = data.context.preset.dataset
    multi_label = getattr(dataset, "multi_label_indices", None)
    found = multi_label()[: config.n_multi_images] if callable(multi_label) else []
    if found:
        labels = [tuple(dataset.label_sets[i]) for i in found]
        return ClassPairs(data.context, found, labels, MULTI_LABEL)
    count = min(config.n_multi_images, len(data.selection.indices))
    runner_up = data.clean_runner_up[:count].tolist()
    labels = [
        (int(label), int(other))
        for label, other in zip(data.labels[:count].tolist(), runner_up, strict=True)
    ]
    return ClassPairs(data.context, data.selection.indices[:count], labels, TOP2)
