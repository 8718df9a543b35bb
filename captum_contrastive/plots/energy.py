"""Share of the perturbation energy inside each map's top pixels, with the
oracle and random rankings as references."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from captum_contrastive.plots.forest import _label_rows, _point
from captum_contrastive.plots.saving import SavedFigure, interval, save_png_pdf
from captum_contrastive.plots.style import paper_figure

__all__ = ["plot_energy_share"]


def _fractions(shares: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The q keys (strings such as ``"0.1"``) in increasing order."""
    keys: dict[str, None] = {}
    for values in shares.values():
        keys.update(dict.fromkeys(values))

    def key(q: str) -> float:
        try:
            return float(q)
        except ValueError:
            return math.inf

    return sorted(keys, key=key)


@paper_figure
def plot_energy_share(
    result: Mapping[str, Any], stem: str | Path, title: str | None = None
) -> SavedFigure:
    """One panel per top fraction q: the share of ``||x_adv - x||^2`` inside each
    ranking's top-q pixels with its 95% CI, sorted by the share at the middle q.

    Args:
        result (Mapping): one attack run of ``results["recovery"]`` with
            ``energy_share`` (ranking, including ``"oracle |x_adv - x|"`` and
            ``"random"``, to q string to ``{mean, ci_low, ci_high}``).
        stem (str or Path): output path without suffix.
        title (str, optional): figure title; ``n`` is appended.

    Returns:
        :class:`SavedFigure` with the PNG and PDF paths.
    """
    shares = result.get("energy_share", {})
    fractions = _fractions(shares) or ["(none)"]
    middle = fractions[len(fractions) // 2]

    def key(name: str) -> float:
        mean = interval(shares[name].get(middle))[0]
        return -mean if math.isfinite(mean) else math.inf

    names = sorted(shares, key=key)
    ys = np.arange(len(names))[::-1].astype(float)
    figure = Figure(
        figsize=(2.2 * len(fractions) + 1.6, 0.24 * len(names) + 1.3),
        layout="constrained",
    )
    axes = figure.subplots(1, len(fractions), sharey=True, squeeze=False)[0]
    for ax, q in zip(axes, fractions, strict=True):
        for name, y in zip(names, ys, strict=True):
            _point(ax, name, y, interval(shares[name].get(q)))
        _label_rows(ax, names, ys)
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"energy share, top {_percent(q)} (95% CI)")
    for ax in axes[1:]:
        ax.tick_params(axis="y", left=False)
    heading = title or "perturbation energy in the top pixels"
    figure.suptitle(f"{heading} (n = {result.get('n', '?')})")
    return save_png_pdf(figure, stem)


def _percent(q: str) -> str:
    try:
        return f"{100 * float(q):g}%"
    except ValueError:
        return q
