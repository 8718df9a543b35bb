"""Save a figure as PNG and PDF, atomically, and read intervals from results."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from captum_contrastive.atomic_files import atomic_path

__all__ = ["SavedFigure", "interval", "save_png_pdf"]


@dataclass(frozen=True)
class SavedFigure:
    """The files of one figure, and the figure (for inspection in tests).

    Attributes:
        png (Path): the PNG file.
        pdf (Path): the PDF file.
        figure (Figure): the drawn figure.
    """

    png: Path
    pdf: Path
    figure: Figure = field(repr=False, compare=False)

    @property
    def paths(self) -> list[Path]:
        """``[png, pdf]``."""
        return [self.png, self.pdf]


def save_png_pdf(figure: Figure, stem: str | Path, dpi: int = 200) -> SavedFigure:
    """Write ``<stem>.png`` and ``<stem>.pdf`` atomically (temporary file, rename).

    Args:
        figure (Figure): the figure.
        stem (str or Path): the output path without suffix (a suffix ``.png`` or
            ``.pdf`` is dropped); parent folders are created.
        dpi (int): resolution of the PNG. Default: 200

    Returns:
        :class:`SavedFigure`.
    """
    stem = Path(stem)
    if stem.suffix.lower() in (".png", ".pdf"):
        stem = stem.with_suffix("")
    written = {}
    for suffix in ("png", "pdf"):
        path = stem.parent / f"{stem.name}.{suffix}"
        with atomic_path(path) as tmp:
            figure.savefig(tmp, dpi=dpi, bbox_inches="tight", format=suffix)
        written[suffix] = path
    return SavedFigure(written["png"], written["pdf"], figure)


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def interval(summary: dict[str, Any] | None) -> tuple[float, float, float]:
    """``(mean, ci_low, ci_high)`` of a bootstrap summary; NaN where missing.

    Args:
        summary (dict, optional): a dict with ``mean`` and optionally ``ci_low``
            and ``ci_high`` (``None`` or non-numbers read as NaN).

    Returns:
        tuple of three floats.
    """
    summary = summary or {}
    return (
        _number(summary.get("mean")),
        _number(summary.get("ci_low")),
        _number(summary.get("ci_high")),
    )
