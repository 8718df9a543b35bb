"""Forest plot of recovery AUC, and of the paired difference to Enhanced GBP."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from captum_contrastive.plots.saving import SavedFigure, interval, save_png_pdf
from captum_contrastive.plots.style import (
    display_name,
    is_highlighted,
    method_style,
    paper_figure,
)

__all__ = ["plot_recovery_forest", "format_p"]


def format_p(p: Any) -> str:
    """``"p = 0.012"``, ``"p < 0.001"``, or ``""`` for a missing p-value."""
    try:
        value = float(p)
    except (TypeError, ValueError):
        return ""
    if not math.isfinite(value):
        return ""
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def _point(ax: Axes, name: str, y: float, values: tuple[float, float, float]):
    """A marker at the mean with a horizontal CI bar where the CI is finite."""
    mean, low, high = values
    if not math.isfinite(mean):
        return
    style = method_style(name)
    xerr = None
    if math.isfinite(low) and math.isfinite(high):
        xerr = [[max(mean - low, 0.0)], [max(high - mean, 0.0)]]
    ax.errorbar(
        [mean],
        [y],
        xerr=xerr,
        color=style.color,
        capsize=2.5,
        markersize=6 if is_highlighted(name) else 4.5,
        linewidth=1.6 if is_highlighted(name) else 1.0,
        **style.marker_kwargs(),
    )


def _sorted_names(methods: Mapping[str, Any], extra: Sequence[str]) -> list[str]:
    """Methods by decreasing mean AUC (missing AUCs last), then ``extra``."""

    def key(name: str) -> float:
        mean = interval(methods[name].get("auc"))[0]
        return -mean if math.isfinite(mean) else math.inf

    names = sorted(methods, key=key)
    return names + [n for n in extra if n not in methods]


def _label_rows(ax: Axes, names: Sequence[str], ys: np.ndarray) -> None:
    ax.set_yticks(ys)
    ax.set_yticklabels([display_name(n) for n in names])
    for label, name in zip(ax.get_yticklabels(), names, strict=False):
        if is_highlighted(name):
            label.set_fontweight("bold")
    ax.set_ylim(-0.7, len(names) - 0.3)
    ax.grid(axis="x", alpha=0.25, linewidth=0.5)


def _diff_panel(ax: Axes, names, ys, comparisons: Mapping, reference: str) -> None:
    """Paired difference to ``reference`` with CI and Holm p-values."""
    ax.axvline(0.0, color="black", linewidth=0.8)
    text = blended_transform_factory(ax.transAxes, ax.transData)
    for name, y in zip(names, ys, strict=True):
        row = comparisons.get(name)
        if name == reference:
            ax.text(0.0, y, " reference", va="center", fontsize=7, style="italic")
        if row is None:
            continue
        diff = {**row, "mean": row.get("mean_diff")}
        _point(ax, name, y, interval(diff))
        p_holm = format_p(row.get("p_holm"))
        ax.text(1.02, y, p_holm, transform=text, va="center", fontsize=7)
    ax.set_xlabel(f"AUC − {display_name(reference)} (paired, 95% CI)")
    ax.text(1.02, 1.0, "Holm", transform=ax.transAxes, va="bottom", fontsize=7,
            style="italic")  # fmt: skip


@paper_figure
def plot_recovery_forest(
    result: Mapping[str, Any],
    stem: str | Path,
    title: str | None = None,
    reference: str = "enhanced_gbp",
) -> SavedFigure:
    """Recovery AUC per ranking with its CI (left) and the paired difference to
    ``reference`` with its CI and Holm-adjusted p-value (right), best AUC on top.

    Args:
        result (Mapping): one attack run of ``results["recovery"]``: ``methods``
            (name to ``auc`` ``{mean, ci_low, ci_high}``) and ``comparisons`` (rows
            with ``method``, ``mean_diff``, ``ci_low``, ``ci_high``, ``p_holm``).
        stem (str or Path): output path without suffix.
        title (str, optional): figure title; ``n`` is appended.
        reference (str): the method the comparisons are against.

    Returns:
        :class:`SavedFigure` with the PNG and PDF paths.
    """
    methods = result.get("methods", {})
    comparisons = {row.get("method"): row for row in result.get("comparisons", [])}
    names = _sorted_names(methods, list(comparisons))
    ys = np.arange(len(names))[::-1].astype(float)
    figure = Figure(figsize=(7.2, 0.24 * len(names) + 1.3), layout="constrained")
    left, right = figure.subplots(1, 2, sharey=True)
    for name, y in zip(names, ys, strict=True):
        _point(left, name, y, interval(methods.get(name, {}).get("auc")))
    random_auc = interval(methods.get("random", {}).get("auc"))[0]
    if math.isfinite(random_auc):
        left.axvline(random_auc, color="black", linestyle="--", linewidth=0.8)
    left.set_xlabel("recovery AUC (95% CI)")
    _label_rows(left, names, ys)
    _diff_panel(right, names, ys, comparisons, reference)
    right.grid(axis="x", alpha=0.25, linewidth=0.5)
    right.tick_params(axis="y", left=False)
    figure.suptitle(f"{title or 'perturbation recovery'} (n = {result.get('n', '?')})")
    return save_png_pdf(figure, stem)
