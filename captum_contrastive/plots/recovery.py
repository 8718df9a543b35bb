"""Perturbation recovery: accuracy against the share of pixels replaced."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from captum_contrastive.plots.saving import SavedFigure, interval, save_png_pdf
from captum_contrastive.plots.style import (
    HIGHLIGHTED,
    display_name,
    is_highlighted,
    is_reference,
    method_style,
    paper_figure,
)

__all__ = ["plot_recovery_curves", "plot_recovery_panels"]

OTHER_COLOR = "#B0B0B0"


def _intervals(summaries: Sequence[Any]) -> np.ndarray:
    """``(3, n)`` array of means, lows and highs (NaN where missing)."""
    values = [interval(s if isinstance(s, Mapping) else None) for s in summaries]
    return np.asarray(values, dtype=float).reshape(-1, 3).T


def draw_band(
    ax: Axes, x: np.ndarray, low: np.ndarray, high: np.ndarray, name: str
) -> None:
    """A CI band where ``low`` and ``high`` are finite (nothing when none is): a
    shaded area, or two thin lines for a reference ranking (random, oracle) so
    that its band does not grey out the others."""
    finite = np.isfinite(low) & np.isfinite(high)
    if not finite.any():
        return
    style = method_style(name)
    if is_reference(name):
        for edge in (low, high):
            ax.plot(x, np.where(finite, edge, np.nan), color=style.color,
                    linestyle=":", linewidth=0.8, zorder=2)  # fmt: skip
    else:
        ax.fill_between(x, low, high, where=finite, color=style.color, alpha=0.15,
                        linewidth=0)  # fmt: skip


def _auc_label(name: str, values: Mapping[str, Any]) -> str:
    mean, low, high = interval(values.get("auc"))
    if not math.isfinite(mean):
        return display_name(name)
    if math.isfinite(low) and math.isfinite(high):
        return f"{display_name(name)}: {mean:.2f} [{low:.2f}, {high:.2f}]"
    return f"{display_name(name)}: {mean:.2f}"


def _fraction_axis(ax: Axes, fractions: np.ndarray) -> None:
    """Log x axis ticked at the fractions (percent), linear if one is <= 0."""
    ax.set_xlabel("pixels replaced (%)")
    ax.set_ylabel("accuracy on the true label")
    ax.set_ylim(-0.02, 1.02)
    if len(fractions) and (fractions > 0).all():
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_locator(FixedLocator(fractions))
    ax.set_xticklabels([f"{f:g}" for f in fractions])


def _draw_curve(ax: Axes, x: np.ndarray, name: str, values: Mapping, strong: bool):
    """One method's mean accuracy curve; a CI band when ``strong``."""
    mean, low, high = _intervals(values.get("accuracy", []))
    if len(mean) != len(x):
        return
    style = method_style(name)
    if strong:
        draw_band(ax, x, low, high, name)
        kwargs = {**style.line_kwargs(), "label": _auc_label(name, values)}
        ax.plot(x, mean, linewidth=2.2, markersize=5, zorder=3, **kwargs)
    else:
        ax.plot(x, mean, color=OTHER_COLOR, linewidth=0.9, zorder=2)


def _order(names: Sequence[str]) -> list[str]:
    """Highlighted names in :data:`HIGHLIGHTED` order, then the others."""
    rank = {name: i for i, name in enumerate(HIGHLIGHTED)}
    return sorted(names, key=lambda n: rank.get(n, len(rank)))


@paper_figure
def plot_recovery_curves(
    result: Mapping[str, Any], stem: str | Path, title: str | None = None
) -> SavedFigure:
    """Accuracy on the true label against the share of top-ranked pixels replaced.

    Enhanced GBP, GuidedBP, random and any oracle are drawn in colour with their
    per-fraction bootstrap CI band; every other method is a thin grey line (their
    AUCs are in :func:`plot_recovery_forest`).

    Args:
        result (Mapping): one attack run of ``results["recovery"]``: ``fractions``,
            ``n`` and ``methods`` (name to ``accuracy``, a list of
            ``{mean, ci_low, ci_high}`` per fraction, and ``auc``).
        stem (str or Path): output path without suffix.
        title (str, optional): figure title; ``n`` is appended.

    Returns:
        :class:`SavedFigure` with the PNG and PDF paths.
    """
    figure = Figure(figsize=(6.2, 3.6), layout="constrained")
    ax = figure.subplots()
    x = 100 * np.asarray(result.get("fractions", []), dtype=float)
    methods = result.get("methods", {})
    for name in _order(list(methods)):
        _draw_curve(ax, x, name, methods[name], is_highlighted(name))
    if any(not is_highlighted(n) for n in methods):
        ax.plot([], [], color=OTHER_COLOR, linewidth=0.9, label="other methods")
    _fraction_axis(ax, x)
    ax.grid(alpha=0.25, linewidth=0.5)
    ax.legend(
        title="AUC [95% CI]", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7
    )
    ax.set_title(f"{title or 'perturbation recovery'} (n = {result.get('n', '?')})")
    return save_png_pdf(figure, stem)


@paper_figure
def plot_recovery_panels(
    result: Mapping[str, Any], stem: str | Path, title: str | None = None
) -> SavedFigure:
    """Small multiples: one panel per map, its CI band, against Enhanced GBP and
    random (thin) for reference.

    Args:
        result (Mapping): one attack run of ``results["recovery"]`` (see
            :func:`plot_recovery_curves`).
        stem (str or Path): output path without suffix.
        title (str, optional): figure title; ``n`` is appended.

    Returns:
        :class:`SavedFigure` with the PNG and PDF paths.
    """
    methods = result.get("methods", {})
    x = 100 * np.asarray(result.get("fractions", []), dtype=float)
    names = [n for n in methods if n != "random"] or list(methods) or ["(none)"]
    columns = min(4, len(names))
    rows = math.ceil(len(names) / columns)
    figure = Figure(figsize=(2.2 * columns, 1.9 * rows + 0.4), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False, sharex=True, sharey=True)
    for ax, name in zip(axes.flat, names, strict=False):
        for reference in ("enhanced_gbp", "random"):
            if reference in methods and reference != name:
                mean = _intervals(methods[reference].get("accuracy", []))[0]
                if len(mean) == len(x):
                    ax.plot(x, mean, **_thin(reference))
        if name in methods:
            _draw_curve(ax, x, name, methods[name], strong=True)
        _fraction_axis(ax, x)
        ax.set_title(_auc_label(name, methods.get(name, {})), fontsize=7)
        ax.label_outer()
    _hide_unused(axes, len(names))
    figure.suptitle(
        f"{title or 'perturbation recovery'} (n = {result.get('n', '?')}; "
        "thin: Enhanced GBP, random; title: AUC [95% CI])",
        fontsize=9,
    )
    return save_png_pdf(figure, stem)


def _thin(name: str) -> dict[str, Any]:
    style = method_style(name)
    return {"color": style.color, "linestyle": style.linestyle, "linewidth": 0.8}


def _hide_unused(axes: np.ndarray, used: int) -> None:
    """Hide the empty panels; the panels above them get the x tick labels."""
    rows, columns = axes.shape
    for index in range(used, rows * columns):
        axes.flat[index].set_visible(False)
        above = index - columns
        if 0 <= above < used:
            axes.flat[above].xaxis.set_tick_params(labelbottom=True)
            axes.flat[above].set_xlabel("pixels replaced (%)")
