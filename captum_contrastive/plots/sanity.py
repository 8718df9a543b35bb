"""Sanity checks (Adebayo et al., 2018): similarity of the trained model's maps to
the maps after cascading randomisation, and example maps along the cascade."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from captum_contrastive.plots.maps import _class_name
from captum_contrastive.plots.recovery import draw_band
from captum_contrastive.plots.saving import SavedFigure, interval, save_png_pdf
from captum_contrastive.plots.style import display_name, method_style, paper_figure

__all__ = ["plot_sanity_cascade", "plot_sanity_examples"]

MEASURE_LABELS = {
    "spearman": "Spearman ρ",
    "spearman_abs": "Spearman ρ of |map|",
    "ssim": "SSIM of |map|",
    "iou": "top-10% IoU of |map|",
}
ALL_STEP = "all"
ORIGINAL_STEP = "0"
CMAP = "inferno"
CELL = 0.95  # inches per example map


def _step_key(step: str) -> tuple[int, float, str]:
    """Numbered steps in increasing order, then ``"all"``, then any other label."""
    if step == ALL_STEP:
        return (1, 0.0, step)
    try:
        return (0, float(step), step)
    except ValueError:
        return (2, 0.0, step)


def _steps(cascading: Mapping[str, Any]) -> list[str]:
    """The step labels of ``cascading["steps"]`` in cascade order; if none are
    listed, the steps named in the intervals' ``cascading_<measure>@<step>`` keys."""
    steps = list(cascading.get("steps") or {})
    if not steps:
        for measures in cascading.get("intervals", {}).values():
            for key in measures:
                if key.startswith("cascading_") and "@" in key:
                    steps.append(key.rpartition("@")[2])
    return sorted(dict.fromkeys(steps), key=_step_key)


def _rule_measure(rule: Mapping[str, Any]) -> str | None:
    """The base measure of the rule (``"spearman_abs"`` for
    ``"cascading_spearman_abs@all"``); ``None`` for another test's measure."""
    measure = str(rule.get("measure") or "").partition("@")[0]
    if not measure.startswith("cascading_"):
        return None
    return measure[len("cascading_") :]


def _threshold(rule: Mapping[str, Any]) -> float:
    try:
        return float(rule.get("threshold"))
    except (TypeError, ValueError):
        return math.nan


def _cascade_values(
    measures: Mapping[str, Any], measure: str, steps: Sequence[str]
) -> np.ndarray:
    """``(3, len(steps))`` means, lows and highs; NaN where a step is missing."""
    rows = [interval(measures.get(f"cascading_{measure}@{step}")) for step in steps]
    return np.asarray(rows, dtype=float).reshape(-1, 3).T


def _draw_method(ax: Axes, x: np.ndarray, name: str, values: np.ndarray) -> None:
    """Mean line through the finite points (gaps are bridged) and the CI band."""
    mean, low, high = values
    finite = np.isfinite(mean)
    if not finite.any():
        return
    draw_band(ax, x, low, high, name)
    kwargs = method_style(name).line_kwargs()
    ax.plot(x[finite], mean[finite], linewidth=1.6, markersize=4, zorder=3, **kwargs)


def _cascade_panel(
    ax: Axes,
    measure: str,
    steps: Sequence[str],
    intervals: Mapping[str, Mapping[str, Any]],
    rule: Mapping[str, Any],
) -> None:
    x = np.arange(len(steps), dtype=float)
    for name, measures in intervals.items():
        _draw_method(ax, x, name, _cascade_values(measures, measure, steps))
    threshold = _threshold(rule)
    if math.isfinite(threshold) and _rule_measure(rule) == measure:
        ax.axhline(threshold, color="black", linestyle="--", linewidth=0.8,
                   label=f"verdict threshold ({threshold:g})")  # fmt: skip
    ax.set_xticks(x)
    ax.set_xticklabels(list(steps))
    ax.set_xlabel("layers randomised from the logits")
    ax.set_title(MEASURE_LABELS.get(measure, measure))
    ax.grid(alpha=0.25, linewidth=0.5)


def _figure_legend(figure: Figure, axes: Sequence[Axes]) -> None:
    """One legend for all panels, each label once, in drawing order."""
    entries: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    if entries:
        figure.legend(list(entries.values()), list(entries), loc="outside right upper")


@paper_figure
def plot_sanity_cascade(
    summary: Mapping[str, Any],
    stem: str | Path,
    measures: Sequence[str] = ("spearman_abs", "spearman", "ssim", "iou"),
    title: str | None = None,
) -> SavedFigure:
    """Similarity of the trained model's maps to the maps after cascading
    randomisation, one panel per similarity measure, one line per method.

    Each method's mean over the images is drawn with its 95% bootstrap CI band
    against the cascading steps (``"1"``: the logit layer randomised, ...,
    ``"all"``: every layer). NaN means (e.g. constant maps) and missing steps are
    skipped and the line is drawn through the remaining points. A contrastive
    method's ``"<name> (fixed contrast)"`` entry has its base colour and a dashed
    line. The panel of the verdict rule's measure has the rule's threshold as a
    dashed horizontal line.

    Args:
        summary (Mapping): the sanity summary: ``cascading`` (``steps``, step
            label to the randomised layers; ``intervals``, method to
            ``cascading_<measure>@<step>`` to ``{mean, ci_low, ci_high}``) and
            optionally ``rule`` (``measure`` such as
            ``"cascading_spearman_abs@all"`` and ``threshold``).
        stem (str or Path): output path without suffix.
        measures (Sequence[str]): the measures, one panel each, in this order.
            Default: ``("spearman_abs", "spearman", "ssim", "iou")``
        title (str, optional): figure title.

    Returns:
        :class:`SavedFigure` with the PNG and PDF paths.

    Examples::

        >>> saved = plot_sanity_cascade(summary, "figures/sanity_cascade")
        >>> saved.png
        PosixPath('figures/sanity_cascade.png')
    """
    cascading = summary.get("cascading", {})
    steps = _steps(cascading)
    measures = list(measures) or ["spearman_abs"]
    columns = min(2, len(measures))
    rows = math.ceil(len(measures) / columns)
    figure = Figure(figsize=(3.1 * columns + 1.8, 2.5 * rows + 0.3),
                    layout="constrained")  # fmt: skip
    axes = figure.subplots(rows, columns, squeeze=False)
    for ax, measure in zip(axes.flat, measures, strict=False):
        _cascade_panel(ax, measure, steps, cascading.get("intervals", {}),
                       summary.get("rule") or {})  # fmt: skip
    for ax in axes[:, 0]:
        ax.set_ylabel("similarity to the original map")
    for ax in axes.flat[len(measures) :]:
        ax.set_visible(False)
    _figure_legend(figure, list(axes.flat[: len(measures)]))
    figure.suptitle(title or "cascading randomisation (mean, 95% CI)")
    return save_png_pdf(figure, stem)


def _column_title(step: str) -> str:
    return "original" if step == ORIGINAL_STEP else f"@{step}"


def _show_map(ax: Axes, values: Any) -> None:
    """One map in ``[0, 1]``, axes off; nothing for a missing map."""
    ax.set_axis_off()
    if values is None:
        return
    array = np.asarray(values, dtype=float)
    if array.ndim == 2 and array.size:
        ax.imshow(array, cmap=CMAP, vmin=0, vmax=1, interpolation="nearest")


def _image_rows(
    subfigure: SubFigure,
    image: int,
    steps: Sequence[str],
    maps: Mapping[str, Sequence[Sequence[Any]]],
) -> None:
    """The maps of one image: one row per method, one column per step."""
    axes = subfigure.subplots(len(maps), len(steps), squeeze=False)
    for row, (name, per_image) in enumerate(maps.items()):
        per_step = per_image[image] if image < len(per_image) else []
        for column, step in enumerate(steps):
            ax = axes[row, column]
            _show_map(ax, per_step[column] if column < len(per_step) else None)
            if row == 0:
                ax.set_title(_column_title(step), fontsize=7)
        _row_label(axes[row, 0], name)


def _row_label(ax: Axes, name: str) -> None:
    """The method's display name left of the row, in its colour."""
    ax.text(-0.06, 0.5, display_name(name), transform=ax.transAxes, ha="right",
            va="center", fontsize=7, color=method_style(name).color)  # fmt: skip


@paper_figure
def plot_sanity_examples(
    summary: Mapping[str, Any],
    stem: str | Path,
    class_names: Sequence[str] | None = None,
) -> SavedFigure:
    """Example maps along the cascade: for each example image, one row per
    method with the trained model's map (``"original"``) and the maps after each
    listed cascading step (``"@1"``, ``"@3"``, ``"@all"``, ...).

    Args:
        summary (Mapping): the sanity summary with ``examples``: ``indices`` and
            ``labels`` of the images, ``steps`` (``"0"`` is the trained model) and
            ``maps`` (method to, per image, per step, an ``H x W`` nested list in
            ``[0, 1]``; a missing image or step is left blank).
        stem (str or Path): output path without suffix.
        class_names (Sequence[str], optional): class index to name for the image
            captions (an index out of range is printed as the number).

    Returns:
        :class:`SavedFigure` with the PNG and PDF paths.

    Raises:
        ValueError: if ``summary`` has no ``examples`` or they hold no maps.

    Examples::

        >>> saved = plot_sanity_examples(summary, "figures/sanity_examples",
        ...                              class_names=["cat", "dog"])
    """
    examples = summary.get("examples") or {}
    maps = examples.get("maps") or {}
    images = max([len(v) for v in maps.values()] + [len(examples.get("indices", []))])
    if not maps or images == 0:
        raise ValueError(
            "the sanity summary has no example maps ('examples' with 'maps'); "
            "run the sanity study with example images to draw this figure"
        )
    steps = [str(step) for step in examples.get("steps", [])] or [ORIGINAL_STEP]
    width = CELL * len(steps) + 1.4
    height = (CELL * len(maps) + 0.35) * images
    figure = Figure(figsize=(width, height), layout="constrained")
    subfigures = np.atleast_1d(figure.subfigures(images, 1))
    for image, subfigure in enumerate(subfigures):
        _image_rows(subfigure, image, steps, maps)
        subfigure.suptitle(_caption(examples, image, class_names), fontsize=8)
    return save_png_pdf(figure, stem, dpi=150)


def _caption(
    examples: Mapping[str, Any], image: int, class_names: Sequence[str] | None
) -> str:
    """``"image 12: cat"``, with what of the index and label is known."""
    indices = examples.get("indices", [])
    labels = examples.get("labels", [])
    caption = f"image {indices[image]}" if image < len(indices) else "image"
    if image < len(labels):
        caption += f": {_class_name(class_names or [], labels[image])}"
    return caption
