"""The qualitative grid: each image clean and attacked, one map per method."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from captum_contrastive.plots.saving import SavedFigure, save_png_pdf
from captum_contrastive.plots.style import display_name, method_style, paper_figure
from captum_contrastive.visualization import image_to_numpy, plot_map

__all__ = ["plot_maps_grid"]


def _class_name(class_names: Sequence[str], index: Any) -> str:
    index = int(index)
    return class_names[index] if 0 <= index < len(class_names) else str(index)


def _rows(
    grid: Mapping[str, Any], class_names: Sequence[str]
) -> list[tuple[Tensor, str, dict[str, Tensor]]]:
    """``(image, label, maps)`` for each image clean, then under each attack."""
    images = torch.as_tensor(grid["images"])
    rows = []
    for row in range(images.shape[0]):
        true = _class_name(class_names, torch.as_tensor(grid["labels"])[row])
        maps = {m: torch.as_tensor(v)[row] for m, v in grid["clean_maps"].items()}
        rows.append((images[row], f"clean: {true}", maps))
        for name, attack in grid.get("attacks", {}).items():
            outcome = "fooled" if bool(attack["success"][row]) else "failed"
            predicted = _class_name(class_names, attack["predictions"][row])
            maps = {m: torch.as_tensor(v)[row] for m, v in attack["maps"].items()}
            image = torch.as_tensor(attack["images"])[row]
            rows.append((image, f"{name}: {predicted} ({outcome})", maps))
    return rows


def _frame(ax: Axes, color: str) -> None:
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_edgecolor(color)
        spine.set_linewidth(1.5)


@paper_figure
def plot_maps_grid(
    grid: Mapping[str, Any],
    class_names: Sequence[str],
    stem: str | Path,
    sign: str = "positive",
    cell_size: float = 1.35,
) -> SavedFigure:
    """One row per image (clean, then each attack), one column per method; each
    method's column is framed in its registry colour (Figs. 3, 5).

    Args:
        grid (Mapping): the run's grid (not in ``results.json``): ``images``
            ``(N, 3, H, W)`` in ``[0, 1]``, ``labels`` ``(N,)``, ``clean_maps``
            (method to ``(N, C, H, W)``) and ``attacks`` (name to ``images``,
            ``predictions``, ``success`` and ``maps``); tensors, arrays or lists.
        class_names (Sequence[str]): class index to name (an index out of range
            is printed as the number).
        stem (str or Path): output path without suffix.
        sign (str): see :func:`captum_contrastive.visualization.display_map`.
        cell_size (float): inches per cell.

    Returns:
        :class:`SavedFigure` with the PNG and PDF paths.
    """
    rows = _rows(grid, class_names)
    methods = list(grid.get("clean_maps", {}))
    figure = Figure(figsize=(cell_size * (1 + len(methods)), cell_size * len(rows)))
    axes = figure.subplots(len(rows), 1 + len(methods), squeeze=False)
    for r, (image, label, maps) in enumerate(rows):
        axes[r, 0].imshow(image_to_numpy(image))
        axes[r, 0].set_xticks([])
        axes[r, 0].set_yticks([])
        axes[r, 0].set_xlabel(label, fontsize=6)
        for c, method in enumerate(methods, start=1):
            ax = axes[r, c]
            if method not in maps:
                ax.set_axis_off()
                continue
            plot_map(ax, maps[method], sign=sign)
            _frame(ax, method_style(method).color)
            if r == 0:
                ax.set_title(display_name(method), fontsize=7)
    figure.tight_layout(pad=0.3, h_pad=0.4, w_pad=0.2)
    return save_png_pdf(figure, stem, dpi=150)
