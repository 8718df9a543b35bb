"""Class discriminativity on multi-object images (paper Fig. 1)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from captum_contrastive.plots.saving import SavedFigure, interval, save_png_pdf
from captum_contrastive.plots.style import display_name, method_style, paper_figure

__all__ = ["MEASURES", "plot_class_discriminativity"]

MEASURES: dict[str, str] = {
    "binarized_similarity": "similarity of binarized maps",
    "avg_diff": "Avg-Diff",
}


def _histogram(ax: Axes, name: str, values: Any, summary: Mapping | None) -> None:
    """Histogram of per-pair values (if any), the mean and its CI as a line and
    a shaded span."""
    color = method_style(name).color
    data = np.asarray(values if values is not None else [], dtype=float)
    data = data[np.isfinite(data)]
    if len(data):
        counts, _, _ = ax.hist(data, bins=20, range=(0, 1), color=color, alpha=0.75)
        ax.set_ylim(0, 1.3 * max(float(counts.max()), 1.0))  # room for the text
    mean, low, high = interval(summary)
    if math.isfinite(low) and math.isfinite(high):
        ax.axvspan(low, high, color="black", alpha=0.12, linewidth=0, gid="ci")
    if math.isfinite(mean):
        ax.axvline(mean, color="black", linewidth=1.0)
        text = f"mean {mean:.2f}"
        if math.isfinite(low) and math.isfinite(high):
            text += f" [{low:.2f}, {high:.2f}]"
        left = mean > 0.5
        ax.text(0.02 if left else 0.98, 0.95, text, transform=ax.transAxes,
                ha="left" if left else "right", va="top", fontsize=7,
                bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none",
                      "pad": 1.0})  # fmt: skip
    ax.set_xlim(0, 1)


@paper_figure
def plot_class_discriminativity(
    result: Mapping[str, Any],
    records: Mapping[str, Any] | None,
    stem: str | Path,
    title: str | None = None,
) -> SavedFigure:
    """Per method, histograms over class pairs of the binarized-map similarity
    (Fig. 1a) and of Avg-Diff (Fig. 1b), with the mean and its 95% CI.

    Args:
        result (Mapping): ``results["class_discriminativity"]``: ``n_pairs`` and
            ``methods`` (method to measure to ``{mean, ci_low, ci_high}``).
        records (Mapping, optional): ``records["class_discriminativity"]``:
            method to measure to per-pair values; without it only the means and
            CIs are drawn.
        stem (str or Path): output path without suffix.
        title (str, optional): figure title; the number of pairs is appended.

    Returns:
        :class:`SavedFigure` with the PNG and PDF paths.
    """
    records = records or {}
    methods = list(result.get("methods", {})) or list(
        k for k, v in records.items() if isinstance(v, Mapping)
    )
    columns = max(1, len(methods))
    figure = Figure(figsize=(2.3 * columns + 0.4, 3.9), layout="constrained")
    axes = figure.subplots(len(MEASURES), columns, squeeze=False, sharex=True)
    for column, name in enumerate(methods):
        for row, (measure, label) in enumerate(MEASURES.items()):
            ax = axes[row, column]
            values = (records.get(name) or {}).get(measure)
            summary = (result.get("methods", {}).get(name) or {}).get(measure)
            _histogram(ax, name, values, summary)
            ax.set_xlabel(label)
            if column == 0:
                ax.set_ylabel("class pairs")
            if row == 0:
                ax.set_title(display_name(name), color=method_style(name).color)
    heading = title or "class pairs on multi-object images"
    figure.suptitle(f"{heading} (n = {result.get('n_pairs', '?')} pairs)")
    return save_png_pdf(figure, stem)
