"""Adversarial discriminativity decomposed: how much each cause changes a map."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from captum_contrastive.plots.saving import SavedFigure, interval, save_png_pdf
from captum_contrastive.plots.style import display_name, is_highlighted, paper_figure

__all__ = ["COMPARISON_STYLES", "change_interval", "plot_decomposition"]

# (comparison, group): legend label, colour (Tol "bright"), hatch
COMPARISON_STYLES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("main", "adv_s"): ("clean vs adversarial (attack succeeded)", "#4477AA", ""),
    ("main", "adv_f"): ("clean vs adversarial (attack failed)", "#BBBBBB", "///"),
    ("class_only", "adv_s"): ("class only", "#EE6677", ""),
    ("input_only", "adv_s"): ("input only", "#CCBB44", ""),
    ("noise", "adv_s"): ("equal-norm noise", "#66CCEE", ""),
}


def change_interval(group: Mapping[str, Any] | None) -> tuple[float, float, float]:
    """``(1 - rho, 1 - rho_high, 1 - rho_low)`` of one comparison and group.

    Args:
        group (Mapping, optional): e.g. ``methods[m]["main"]["adv_s"]``, with a
            ``spearman`` ``{mean, ci_low, ci_high}`` and/or a ``change``.

    Returns:
        ``(change, ci_low, ci_high)``; NaN where missing (the stored ``change``
        is used, without CI, when there is no ``spearman``).
    """
    group = group or {}
    rho, low, high = interval(group.get("spearman"))
    if not math.isfinite(rho):
        return interval({"mean": group.get("change")})
    return 1.0 - rho, 1.0 - high, 1.0 - low


def _change(adversarial: Mapping, method: str, key: tuple[str, str]) -> tuple:
    """:func:`change_interval` of ``method``'s ``(comparison, group)``."""
    comparison, group = key
    return change_interval(
        adversarial["methods"][method].get(comparison, {}).get(group)
    )


def _bars(ax: Axes, adversarial: Mapping, names: list[str], keys: list) -> None:
    """One bar group per method, one bar per (comparison, group), with CIs."""
    width = 0.84 / len(keys)
    x = np.arange(len(names), dtype=float)
    for j, (comparison, group) in enumerate(keys):
        label, color, hatch = COMPARISON_STYLES[(comparison, group)]
        values = np.asarray(
            [_change(adversarial, m, (comparison, group)) for m in names], dtype=float
        ).reshape(-1, 3)
        mean, low, high = values.T
        finite = np.isfinite(low) & np.isfinite(high) & np.isfinite(mean)
        errors = np.where(finite, [mean - low, high - mean], np.nan).clip(min=0.0)
        ax.bar(x + (j - (len(keys) - 1) / 2) * width, mean, width, yerr=errors,
               color=color, hatch=hatch, edgecolor="white", linewidth=0.4,
               label=label, error_kw={"elinewidth": 0.7, "capsize": 1.5})  # fmt: skip


def _present(adversarial: Mapping, names: list[str]) -> list[tuple[str, str]]:
    """The (comparison, group) pairs with at least one finite value."""
    return [
        key
        for key in COMPARISON_STYLES
        if any(math.isfinite(_change(adversarial, m, key)[0]) for m in names)
    ]


@paper_figure
def plot_decomposition(
    adversarial: Mapping[str, Any], stem: str | Path, title: str | None = None
) -> SavedFigure:
    """Per method, the change 1 - Spearman rho of the main comparison (Adv_s, and
    Adv_f when present) and of the class-only, input-only and noise controls,
    with 95% CIs from the rho CIs; the dashed line is two independent random maps.
    Methods are sorted by the main change on Adv_s.

    Args:
        adversarial (Mapping): one attack run of ``results["adversarial"]``:
            ``groups`` (``adv_s``/``adv_f`` counts), ``methods`` (method to
            comparison to group to ``spearman`` ``{mean, ci_low, ci_high}`` and
            ``change``) and optionally ``random_maps``.
        stem (str or Path): output path without suffix.
        title (str, optional): axes title; the group sizes are appended.

    Returns:
        :class:`SavedFigure` with the PNG and PDF paths.
    """
    methods = adversarial.get("methods", {})
    names = sorted(
        methods,
        key=lambda m: (
            -np.nan_to_num(_change(adversarial, m, ("main", "adv_s"))[0], nan=-np.inf)
        ),
    )
    keys = _present(adversarial, names) or [("main", "adv_s")]
    figure = Figure(figsize=(max(6.4, 0.55 * len(names) + 1.5), 3.6))
    figure.set_layout_engine("constrained")
    ax = figure.subplots()
    _bars(ax, adversarial, names, keys)
    floor = change_interval(adversarial.get("random_maps"))[0]
    if math.isfinite(floor):
        ax.axhline(floor, color="black", linestyle="--", linewidth=0.8,
                   label="two random maps")  # fmt: skip
    ax.set_xticks(np.arange(len(names)))
    ax.set_xticklabels([display_name(m) for m in names], rotation=35, ha="right")
    for label, name in zip(ax.get_xticklabels(), names, strict=True):
        label.set_fontweight("bold" if is_highlighted(name) else "normal")
    ax.set_ylabel("change: 1 − Spearman ρ (95% CI)")
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.grid(axis="y", alpha=0.25, linewidth=0.5)
    groups = adversarial.get("groups", {})
    sizes = ", ".join(f"{k}: n = {v}" for k, v in groups.items())
    heading = title or "what changes the map"
    ax.set_title(f"{heading} ({sizes})" if sizes else heading)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return save_png_pdf(figure, stem)
