"""Recovery AUC against the C&W confidence κ, one line per ranking."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from captum_contrastive.plots.recovery import draw_band
from captum_contrastive.plots.saving import SavedFigure, interval, save_png_pdf
from captum_contrastive.plots.style import is_highlighted, method_style, paper_figure

__all__ = ["plot_kappa_sweep"]


def _sweep(
    recovery: Mapping[str, Any], runs: Mapping[Any, str]
) -> tuple[list[float], dict[str, np.ndarray]]:
    """The κ present in ``recovery`` and, per method, a ``(3, K)`` array of AUC
    mean, low, high (NaN where the method or its CI is missing)."""
    pairs = sorted((float(k), name) for k, name in runs.items() if name in recovery)
    kappas = [k for k, _ in pairs]
    names: dict[str, None] = {}
    for _, run in pairs:
        names.update(dict.fromkeys(recovery[run].get("methods", {})))
    table = {}
    for name in names:
        rows = [
            interval(recovery[run].get("methods", {}).get(name, {}).get("auc"))
            for _, run in pairs
        ]
        table[name] = np.asarray(rows, dtype=float).T
    return kappas, table


def _draw(ax: Axes, x: np.ndarray, name: str, values: np.ndarray, dodge: float):
    mean, low, high = values
    style = method_style(name)
    strong = is_highlighted(name)
    kwargs = {**style.line_kwargs(), "markersize": 5.5 if strong else 4}
    kwargs.update(linewidth=2.2 if strong else 1.0, zorder=3 if strong else 2)
    finite = np.isfinite(low) & np.isfinite(high)
    if strong:
        draw_band(ax, x, low, high, name)
        ax.plot(x, mean, **kwargs)
        return
    yerr = np.where(finite, [mean - low, high - mean], 0.0).clip(min=0.0)
    ecolor = to_rgba(style.color, 0.55)
    ax.errorbar(x + dodge, mean, yerr=yerr, capsize=1.5, elinewidth=0.6,
                ecolor=ecolor, **kwargs)  # fmt: skip


def _legend(ax: Axes, table: Mapping[str, np.ndarray]) -> None:
    """Legend outside the axes, sorted by the AUC at the largest κ."""
    by_label = {method_style(name).label: name for name in table}

    def key(label: str) -> float:
        means = table[by_label[label]][0]
        finite = means[np.isfinite(means)]
        return -finite[-1] if len(finite) else math.inf

    handles, labels = ax.get_legend_handles_labels()
    if labels:
        order = sorted(range(len(labels)), key=lambda i: key(labels[i]))
        handles, labels = [handles[i] for i in order], [labels[i] for i in order]
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0))


@paper_figure
def plot_kappa_sweep(
    recovery: Mapping[str, Any],
    runs: Mapping[Any, str],
    stem: str | Path,
    title: str | None = None,
) -> SavedFigure:
    """Recovery AUC of every ranking against the C&W confidence κ.

    Enhanced GBP, GuidedBP and random are thick with a CI band; the other
    rankings are thin, with CI error bars dodged sideways so they do not overlap.
    The legend is sorted by the AUC at the largest κ.

    Args:
        recovery (Mapping): ``results["recovery"]``: attack-run name to its result
            (each with ``methods`` name to ``auc`` ``{mean, ci_low, ci_high}``).
        runs (Mapping): κ (float, or a string such as ``"5.0"`` as in
            ``results["run"]["cw_runs"]``) to attack-run name; runs missing from
            ``recovery`` are skipped.
        stem (str or Path): output path without suffix.
        title (str, optional): axes title.

    Returns:
        :class:`SavedFigure` with the PNG and PDF paths.
    """
    kappas, table = _sweep(recovery, runs)
    x = np.asarray(kappas, dtype=float)
    span = float(x.max() - x.min()) if len(x) > 1 else 1.0
    figure = Figure(figsize=(7.0, 4.3), layout="constrained")
    ax = figure.subplots()
    others = [n for n in table if not is_highlighted(n)]
    for name, values in table.items():
        position = others.index(name) - (len(others) - 1) / 2 if name in others else 0
        _draw(ax, x, name, values, dodge=0.008 * span * position)

    _legend(ax, table)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{k:g}" for k in kappas])
    ax.set_xlabel("C&W confidence κ")
    ax.set_ylabel("recovery AUC (95% CI)")
    ax.grid(alpha=0.25, linewidth=0.5)
    ax.set_title(title or "recovery AUC against attack strength")
    return save_png_pdf(figure, stem)
