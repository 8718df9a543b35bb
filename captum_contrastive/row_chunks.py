"""Per-image measures computed a chunk of rows at a time.

Every measure of the studies is per image (a Spearman rho, an IoU, a mass or
energy share, each with its own seeded tie-break stream), so computing it over
chunks of rows and joining the results gives exactly what one call over all
rows gives, while only a chunk of the maps is in memory. The pipeline's maps
stay in the stage cache
(:class:`~captum_contrastive.pipeline.stored_maps.StoredMaps`); anything with a
``load()`` method is read a chunk at a time here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["CHUNK_ROWS", "by_row_chunks", "loaded"]

#: Rows per chunk: 32 maps of 3 x 224 x 224 are 19 MB.
CHUNK_ROWS = 32


def loaded(rows: Any) -> Any:
    """``rows`` as an array: read if it is lazily stored (has ``load()``)."""
    if isinstance(rows, Tensor | np.ndarray):
        return rows
    load = getattr(rows, "load", None)
    return load() if callable(load) else rows


def by_row_chunks(
    measure: Callable[..., Any], *row_aligned: Any, chunk_rows: int = CHUNK_ROWS
) -> Any:
    """``measure(*row_aligned)``, computed over chunks of rows and joined.

    Args:
        measure (callable): a per-image measure; every argument is row-aligned
            (bind the others, e.g. with a ``lambda``). It returns an array, a
            tensor, or a dict of them, with one row per image.
        *row_aligned: tensors, arrays, sequences or lazily stored maps, one row
            per image each.
        chunk_rows (int): rows per call. Default: :data:`CHUNK_ROWS`

    Returns:
        what ``measure`` returns, joined along the rows.

    Examples::

        >>> rho = by_row_chunks(
        ...     lambda a, b: spearman(spatial_map(a), spatial_map(b)), maps_a, maps_b
        ... )
    """
    if chunk_rows < 1:
        raise ValueError(f"`chunk_rows` must be positive, got {chunk_rows}")
    n = len(row_aligned[0])
    if any(len(rows) != n for rows in row_aligned):
        raise ValueError("the row-aligned arguments have different lengths")
    from captum_contrastive.freed_memory import return_freed_memory

    parts = []
    for start in range(0, max(n, 1), chunk_rows):
        chunk = (loaded(rows[start : start + chunk_rows]) for rows in row_aligned)
        parts.append(measure(*chunk))
        return_freed_memory()  # the chunk's rows, read and freed
    return _joined(parts)


def _joined(parts: list[Any]) -> Any:
    first = parts[0]
    if len(parts) == 1:
        return first
    if isinstance(first, dict):
        return {name: _joined([part[name] for part in parts]) for name in first}
    if isinstance(first, Tensor):
        return torch.cat(parts)
    return np.concatenate([np.asarray(part) for part in parts])
