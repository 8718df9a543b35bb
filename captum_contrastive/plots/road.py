"""ROAD (Rong et al., 2022): accuracy as the most (MoRF) or least (LeRF) relevant
pixels are removed and imputed, and the gap between the two AUCs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from captum_contrastive.plots.forest import _label_rows, _point, format_p
from captum_contrastive.plots.recovery import draw_band
from captum_contrastive.plots.saving import SavedFigure, interval, save_png_pdf
from captum_contrastive.plots.style import display_name, method_style, paper_figure

__all__ = ["plot_road_curves", "plot_road_gap"]

ORDERS = {"morf": "MoRF (most relevant first)", "lerf": "LeRF (least relevant first)"}


def _number(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _curve(values: Mapping[str, Any], order: str, n_fractions: int) -> np.ndarray:
    """``(3, 1 + n_fractions)`` mean, low, high: the unmodified image at 0 (its
    accuracy, no CI), then each fraction; NaN where missing. A method without
    ``<order>_accuracy_ci`` falls back to the mean curve ``<order>_accuracy``."""
    summaries = values.get(f"{order}_accuracy_ci")
    if summaries is None:
        means = values.get(f"{order}_accuracy") or []
        summaries = [{"mean": mean} for mean in means]
    rows = [interval(s if isinstance(s, Mapping) else None) for s in summaries]
    if len(rows) != n_fractions:
        rows = [(math.nan,) * 3] * n_fractions
    base = _number(values.get("base_accuracy"), 1.0)
    return np.asarray([(base, math.nan, math.nan), *rows], dtype=float).T


def _auc_label(name: str, summary: Mapping[str, Any] | None) -> str:
    mean, low, high = interval(summary)
    if not math.isfinite(mean):
        return display_name(name)
    if math.isfinite(low) and math.isfinite(high):
        return f"{display_name(name)}: {mean:.2f} [{low:.2f}, {high:.2f}]"
    return f"{display_name(name)}: {mean:.2f}"


def _draw_order(ax: Axes, x: np.ndarray, methods: Mapping[str, Any], order: str):
    """One panel: every method's mean curve with its CI band, AUC in the label."""
    for name, values in methods.items():
        mean, low, high = _curve(values, order, len(x) - 1)
        finite = np.isfinite(mean)
        draw_band(ax, x, low, high, name)
        kwargs = method_style(name).line_kwargs()
        kwargs["label"] = _auc_label(name, values.get(f"{order}_auc"))
        ax.plot(x[finite], mean[finite], linewidth=1.6, markersize=4, zorder=3,
                **kwargs)  # fmt: skip
    ax.set_xlim(0, x[-1] if len(x) > 1 and x[-1] > 0 else 100)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("pixels removed (%)")
    ax.set_title(ORDERS[order])
    ax.grid(alpha=0.25, linewidth=0.5)
    if ax.get_legend_handles_labels()[1]:
        ax.legend(title="AUC [95% CI]", fontsize=6, loc="upper center",
                  bbox_to_anchor=(0.5, -0.2))  # fmt: skip


@paper_figure
def plot_road_curves(
    summary: Mapping[str, Any], stem: str | Path, title: str | None = None
) -> SavedFigure:
    """Accuracy against the share of pixels removed (ROAD imputation), most
    relevant first (MoRF, left; lower is better) and least relevant first (LeRF,
    right; higher is better), one line per method with its 95% CI band.

    The unmodified image is drawn at 0% with the method's ``base_accuracy`` (1.0
    when missing). The random ranking is drawn as in
    :func:`~captum_contrastive.plots.plot_recovery_curves` (black, dashed, its
    CI as dotted edges). Each legend label has the method's AUC of that order
    with its CI.

    Args:
        summary (Mapping): the ROAD summary: ``fractions`` and ``methods`` (name
            to ``morf_auc`` and ``lerf_auc`` ``{mean, ci_low, ci_high}``,
            ``morf_accuracy_ci`` and ``lerf_accuracy_ci`` (one such dict per
            fraction) and optionally ``base_accuracy``); optionally ``n``.
        stem (str or Path): output path without suffix.
        title (str, optional): figure title; ``n`` is appended when known.

    Returns:
        :class:`SavedFigure` with the PNG and PDF paths.

    Examples::

        >>> saved = plot_road_curves(results["road"], "figures/road_curves")
        >>> saved.pdf
        PosixPath('figures/road_curves.pdf')
    """
    fractions = [_number(f, math.nan) for f in summary.get("fractions", [])]
    x = 100 * np.asarray([0.0, *fractions], dtype=float)
    methods = summary.get("methods", {})
    figure = Figure(figsize=(7.4, 3.4), layout="constrained")
    axes = figure.subplots(1, 2, sharey=True)
    for ax, order in zip(axes, ORDERS, strict=True):
        _draw_order(ax, x, methods, order)
    axes[0].set_ylabel("accuracy on the true label")
    figure.suptitle(_with_n(title or "ROAD", summary))
    return save_png_pdf(figure, stem)


def _with_n(title: str, summary: Mapping[str, Any]) -> str:
    n = summary.get("n")
    return f"{title} (n = {n})" if n is not None else title


def _gap(values: Mapping[str, Any]) -> tuple[float, float, float]:
    gap = values.get("gap") or {}
    return interval({**gap, "mean": gap.get("mean_diff")})


def _sorted_by_gap(methods: Mapping[str, Any]) -> list[str]:
    """Methods by decreasing mean gap, missing gaps last."""

    def key(name: str) -> float:
        mean = _gap(methods[name])[0]
        return -mean if math.isfinite(mean) else math.inf

    return sorted(methods, key=key)


def _p_values(ax: Axes, names: Sequence[str], ys: np.ndarray, methods) -> None:
    """The gap's p-value right of each row."""
    text = blended_transform_factory(ax.transAxes, ax.transData)
    for name, y in zip(names, ys, strict=True):
        p = format_p((methods[name].get("gap") or {}).get("p_value"))
        ax.text(1.02, y, p, transform=text, va="center", fontsize=7)
    ax.text(1.02, 1.0, "paired", transform=ax.transAxes, va="bottom", fontsize=7,
            style="italic")  # fmt: skip


@paper_figure
def plot_road_gap(
    summary: Mapping[str, Any], stem: str | Path, title: str | None = None
) -> SavedFigure:
    """Forest plot of the ROAD gap ``AUC(LeRF) - AUC(MoRF)`` per method with its
    paired 95% CI and p-value, largest gap on top; positive is faithful. A solid
    line marks 0 and a dashed one the random ranking's gap.

    Args:
        summary (Mapping): the ROAD summary (see :func:`plot_road_curves`), each
            method with ``gap`` ``{mean_diff, ci_low, ci_high, p_value}``.
        stem (str or Path): output path without suffix.
        title (str, optional): figure title; ``n`` is appended when known.

    Returns:
        :class:`SavedFigure` with the PNG and PDF paths.

    Examples::

        >>> saved = plot_road_gap(results["road"], "figures/road_gap")
    """
    methods = summary.get("methods", {})
    names = _sorted_by_gap(methods)
    ys = np.arange(len(names))[::-1].astype(float)
    figure = Figure(figsize=(5.2, 0.24 * len(names) + 1.3), layout="constrained")
    ax = figure.subplots()
    ax.axvline(0.0, color="black", linewidth=0.8)
    for name, y in zip(names, ys, strict=True):
        _point(ax, name, y, _gap(methods[name]))
    random_gap = _gap(methods.get("random", {}))[0]
    if math.isfinite(random_gap):
        ax.axvline(random_gap, color="black", linestyle="--", linewidth=0.8)
    _label_rows(ax, names, ys)
    _p_values(ax, names, ys, methods)
    ax.set_xlabel("ROAD gap: LeRF AUC − MoRF AUC (paired, 95% CI)")
    figure.suptitle(_with_n(title or "ROAD gap", summary))
    return save_png_pdf(figure, stem)
