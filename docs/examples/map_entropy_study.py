"""A study in one module: how spread out each method's clean map is.

The measure is the normalised entropy of a map's absolute mass over the pixels:
1 when the mass is uniform, 0 when it is all on one pixel. Importing this module
registers the unit; the study is then a name of ``--studies``, a command
(``captum-contrastive map-entropy``, when the module is imported before the
command line is read), a section of ``report.md`` and rows of ``summary.csv``,
with nothing else edited.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from captum_contrastive.metrics.intervals import Interval
from captum_contrastive.metrics.stats import bootstrap_ci
from captum_contrastive.pipeline.study_registry import register_unit
from captum_contrastive.pipeline.units.base import (
    MapRequest,
    ReportSection,
    RunData,
    StudyResult,
    StudyUnit,
    SummaryRow,
    table,
)
from captum_contrastive.row_chunks import by_row_chunks
from captum_contrastive.studies.verdicts import format_ci

#: The ``measure`` column of the study's ``summary.csv`` rows.
MEASURE = "normalized_entropy"


def map_entropy(maps: Tensor) -> Tensor:
    """Per map, the entropy of its absolute mass over the pixels (channels
    summed), divided by ``log(pixels)``: 1 for a uniform map, 0 for a map with
    all its mass on one pixel, NaN for a map without mass.

    Args:
        maps (Tensor): ``(N, C, H, W)`` attribution maps.

    Returns:
        Tensor: ``(N,)`` float64 values in ``[0, 1]`` (or NaN).

    Examples::

        >>> map_entropy(torch.ones(1, 3, 4, 4))
        tensor([1.], dtype=torch.float64)
    """
    mass = maps.detach().abs().sum(dim=1).flatten(1).double()
    total = mass.sum(dim=1, keepdim=True)
    share = mass / total
    terms = torch.where(share > 0, share * share.log(), torch.zeros_like(share))
    entropy = -terms.sum(dim=1) / math.log(mass.shape[1])
    return torch.where(total.squeeze(1) > 0, entropy, torch.nan)


@dataclass(frozen=True)
class MapEntropySummary:
    """The study's summary (``results.json["map_entropy"]``).

    Attributes:
        methods: per method, the mean normalised entropy of its clean maps with
            its bootstrap interval.
        n_images: the images evaluated.
    """

    methods: dict[str, Interval]
    n_images: int


@register_unit
class MapEntropyUnit(StudyUnit):
    """How concentrated each method's clean map is (normalised entropy)."""

    name = "map_entropy"
    command = "map-entropy"
    description = "Normalised entropy of each method's clean maps (1: uniform)."
    default_out = "results/map_entropy"
    title = "Map entropy"
    summary_type = MapEntropySummary
    relative_cost = 0.1

    def maps_needed(self, data: RunData) -> list[MapRequest]:
        return [MapRequest(method, "clean") for method in self.config.methods]

    def settings(self) -> dict[str, Any]:
        return {"seed": self.config.seed, "n_resamples": self.config.n_resamples}

    def evaluate(self, data: RunData) -> StudyResult:
        methods = {}
        for method in self.config.methods:
            # The maps stay in the cache; by_row_chunks reads a chunk at a time.
            values = by_row_chunks(map_entropy, data.maps[MapRequest(method, "clean")])
            stats = bootstrap_ci(
                values, n_resamples=self.config.n_resamples, seed=self.config.seed
            )
            methods[method] = Interval.of(stats)
        summary = MapEntropySummary(methods, len(data.selection.indices))
        return StudyResult(self.name, "", summary)

    def render(self, result: StudyResult, out: Path) -> ReportSection:
        summary: MapEntropySummary = result.summary
        section = ReportSection()
        rows = []
        for method, interval in summary.methods.items():
            section.rows.append(SummaryRow(self.name, "", method, MEASURE, interval))
            rows.append([method, format_ci(interval)])
        section.markdown = (
            "## Map entropy of the clean maps\n\n"
            f"Normalised entropy of |map| over the pixels, on {summary.n_images} "
            "images (1: uniform, 0: one pixel), with 95% bootstrap intervals.\n\n"
            + table(["method", "normalised entropy"], rows)
            + "\n"
        )
        return section

    def terminal_columns(self, result: StudyResult) -> dict[str, dict[str, str]]:
        methods = result.summary.methods
        return {"entropy": {m: f"{i.mean:.3f}" for m, i in methods.items()}}
