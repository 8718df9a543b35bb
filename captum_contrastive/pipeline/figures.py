"""The report's figures: their file names, drawn by :mod:`captum_contrastive.plots`.

Each function returns the written paths, PNG before PDF: the report embeds the
PNGs, and the PDFs are for a paper.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from captum_contrastive import plots

__all__ = [
    "decomposition_figures",
    "kappa_sweep_figures",
    "maps_grid_figures",
    "recovery_figures",
]


def recovery_figures(
    result: dict[str, Any], run: str, reference: str, out: Path
) -> list[Path]:
    """Recovery curves with bands, and the AUC forest plot, of one attack run."""
    curves = plots.plot_recovery_curves(
        result, out / f"recovery_{run}", title=f"perturbation recovery, {run}"
    )
    forest = plots.plot_recovery_forest(
        result, out / f"recovery_forest_{run}", title=run, reference=reference
    )
    return curves.paths + forest.paths


def kappa_sweep_figures(
    runs: dict[str, Any], sweep: dict[float, str], out: Path
) -> list[Path]:
    """Recovery AUC against the C&W confidence κ."""
    return plots.plot_kappa_sweep(runs, sweep, out / "kappa_sweep").paths


def decomposition_figures(result: dict[str, Any], run: str, out: Path) -> list[Path]:
    """The map-change decomposition of one attack run, with CIs."""
    stem = out / f"adversarial_decomposition_{run}"
    return plots.plot_decomposition(result, stem, title=f"map change, {run}").paths


def maps_grid_figures(
    grid: dict[str, Any], class_names: list[str], out: Path
) -> list[Path]:
    """Example maps of clean and attacked images."""
    return plots.plot_maps_grid(grid, class_names, out / "maps_grid").paths
