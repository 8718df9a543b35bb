"""The report's figures: their file names, drawn by :mod:`captum_contrastive.plots`.

Each function returns the written paths, PNG before PDF: the report embeds the
PNGs, and the PDFs are for a paper.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from captum_contrastive import plots

__all__ = [
    "class_figures",
    "maps_grid_figures",
    "road_figures",
    "sanity_figures",
]


def class_figures(summary: dict[str, Any], records: Any, out: Path) -> list[Path]:
    """The class-discriminativity distributions."""
    stem = out / "class_discriminativity"
    return plots.plot_class_discriminativity(summary, records, stem).paths


def maps_grid_figures(
    grid: dict[str, Any], class_names: list[str], out: Path
) -> list[Path]:
    """Example maps of clean and attacked images."""
    return plots.plot_maps_grid(grid, class_names, out / "maps_grid").paths


def sanity_figures(summary: dict[str, Any], out: Path) -> list[Path]:
    """Similarity against the randomised depth, and example maps per step."""
    cascade = plots.plot_sanity_cascade(summary, out / "sanity_cascading")
    examples = plots.plot_sanity_examples(summary, out / "sanity_examples")
    return cascade.paths + examples.paths


def road_figures(summary: dict[str, Any], out: Path) -> list[Path]:
    """ROAD MoRF and LeRF curves, and the gap per method."""
    curves = plots.plot_road_curves(summary, out / "road_curves")
    gap = plots.plot_road_gap(summary, out / "road_gap")
    return curves.paths + gap.paths
