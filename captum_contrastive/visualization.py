"""Figures: saliency maps as heat maps, and grids of maps for papers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from captum_contrastive.atomic_files import atomic_path

__all__ = ["display_map", "image_to_numpy", "plot_map", "save_figure", "save_map_grid"]


def display_map(attribution: Tensor, sign: str = "positive") -> np.ndarray:
    """A ``(H, W)`` array in ``[0, 1]`` (or ``[-1, 1]`` for ``"all"``) for display.

    Channels are summed (dim 0 of a ``(C, H, W)`` map) and the result divided by its
    largest magnitude. An all-zero map gives an all-zero array (Captum's
    ``visualize_image_attr`` asserts on it).

    Args:
        attribution (Tensor): ``(C, H, W)`` or ``(H, W)`` map of one image.
        sign (str): ``"positive"`` keeps the positive part, ``"absolute"`` the
            magnitude, ``"all"`` the signed sum. Default: ``"positive"``

    Returns:
        ``np.ndarray`` of shape ``(H, W)``.
    """
    values = attribution.detach().float().cpu()
    if values.ndim == 3:
        values = values.sum(dim=0)
    if values.ndim != 2:
        raise ValueError(
            f"`attribution` must be (C, H, W) or (H, W), got {tuple(attribution.shape)}"
        )
    if sign == "positive":
        values = values.clamp_min(0)
    elif sign == "absolute":
        values = values.abs()
    elif sign != "all":
        raise ValueError(
            f"`sign` must be 'positive', 'absolute' or 'all', got {sign!r}"
        )
    scale = float(values.abs().max())
    return (values / scale if scale > 0 else torch.zeros_like(values)).numpy()


def image_to_numpy(image: Tensor) -> np.ndarray:
    """``(3, H, W)`` tensor in ``[0, 1]`` to an ``(H, W, 3)`` array for ``imshow``."""
    return image.detach().float().cpu().clamp(0, 1).permute(1, 2, 0).numpy()


def plot_map(
    ax: Axes,
    attribution: Tensor,
    title: str | None = None,
    sign: str = "positive",
    cmap: str | None = None,
) -> None:
    """Draw one map on ``ax`` with a fixed colour range, axes hidden.

    Args:
        ax (Axes): target axes.
        attribution (Tensor): ``(C, H, W)`` or ``(H, W)`` map.
        title (str, optional): axes title.
        sign (str): see :func:`display_map`.
        cmap (str, optional): colour map; default ``"inferno"`` (``"bwr"`` for
            ``sign="all"``).
    """
    values = display_map(attribution, sign)
    if sign == "all":
        ax.imshow(values, cmap=cmap or "bwr", vmin=-1, vmax=1)
    else:
        ax.imshow(values, cmap=cmap or "inferno", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def save_figure(figure: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Save atomically (a temporary file, then a rename).

    Figures built with :class:`matplotlib.figure.Figure` need no pyplot backend, so
    this works headless and leaves the user's backend alone.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=dpi, bbox_inches="tight")
    return path


def save_map_grid(
    path: str | Path,
    images: Tensor,
    maps: dict[str, Tensor],
    row_labels: Sequence[str] | None = None,
    cell_titles: dict[str, Sequence[str]] | None = None,
    sign: str = "positive",
    cell_size: float = 1.6,
) -> Path:
    """One row per image: the image, then one map per method.

    Args:
        path (str or Path): PNG file to write.
        images (Tensor): ``(N, 3, H, W)`` images in ``[0, 1]``.
        maps (dict[str, Tensor]): method name to ``(N, C, H, W)`` maps.
        row_labels (Sequence[str], optional): a label under each image.
        cell_titles (dict[str, Sequence[str]], optional): per method, a caption for
            each row (e.g. the explained class).
        sign (str): see :func:`display_map`.
        cell_size (float): inches per cell.

    Returns:
        The written path.
    """
    rows, columns = images.shape[0], 1 + len(maps)
    figure = Figure(figsize=(cell_size * columns, cell_size * rows))
    axes = figure.subplots(rows, columns, squeeze=False)
    for row in range(rows):
        axes[row, 0].imshow(image_to_numpy(images[row]))
        axes[row, 0].set_xticks([])
        axes[row, 0].set_yticks([])
        if row_labels is not None:
            axes[row, 0].set_xlabel(row_labels[row], fontsize=7)
        for column, (name, values) in enumerate(maps.items(), start=1):
            caption = cell_titles.get(name) if cell_titles else None
            plot_map(axes[row, column], values[row], sign=sign)
            if row == 0:
                axes[row, column].set_title(name, fontsize=8)
            if caption is not None:
                axes[row, column].set_xlabel(caption[row], fontsize=7)
    figure.tight_layout()
    return save_figure(figure, path)
