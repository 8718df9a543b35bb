"""Spatial maps, seeded pixel rankings and top-q masks.

Every ranking here is deterministic per ``(seed, dataset index)``: ties are broken
by a random permutation drawn from the image's own stream
(:func:`captum_contrastive.random_streams.image_generator`), never from the order
in which images are processed. A sharded run therefore ranks every image exactly as
a single run does.

Stream purposes used:

- ``"tie_break"``: the pixel priority among equal map values
  (:func:`pixel_ranking`, :func:`top_fraction_mask`).
- ``"random_ranking"``: the random-ranking baseline (:func:`random_ranking`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from captum_contrastive.random_streams import image_generator

__all__ = [
    "RANDOM_RANKING_PURPOSE",
    "TIE_BREAK_PURPOSE",
    "Reduce",
    "as_indices",
    "num_selected",
    "pixel_ranking",
    "random_ranking",
    "ranking_mask",
    "spatial_map",
    "top_fraction_mask",
]

Reduce = Literal["sum", "abs_sum"]
IndicesLike = Tensor | np.ndarray | Sequence[int] | None

TIE_BREAK_PURPOSE = "tie_break"
RANDOM_RANKING_PURPOSE = "random_ranking"


def as_indices(indices: IndicesLike, batch: int) -> np.ndarray:
    """Dataset indices as an ``int64`` array of length ``batch``.

    Args:
        indices (Tensor, ndarray, sequence of int or None): one dataset index per
            image. ``None`` means ``0, 1, ..., batch - 1``; pass the real indices
            whenever images may be processed in shards.
        batch (int): the number of images.

    Returns:
        ``np.ndarray`` of shape ``(batch,)`` and dtype ``int64``.
    """
    if indices is None:
        return np.arange(batch, dtype=np.int64)
    if isinstance(indices, Tensor):
        indices = indices.detach().cpu().numpy()
    out = np.asarray(indices).astype(np.int64).reshape(-1)
    if out.shape[0] != batch:
        raise ValueError(
            f"`indices` has {out.shape[0]} entries, expected one per image ({batch})"
        )
    return out


def num_selected(fraction: float, num_pixels: int) -> int:
    """How many of ``num_pixels`` pixels a fraction selects.

    Rule: ``floor(fraction * num_pixels + 0.5)`` (round half up), at least 1 when
    ``fraction > 0``, and 0 when ``fraction == 0``.

    Args:
        fraction (float): in ``[0, 1]``.
        num_pixels (int): the number of spatial pixels ``H * W``.

    Returns:
        int in ``[0, num_pixels]``.
    """
    fraction = float(fraction)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"a fraction must lie in [0, 1], got {fraction}")
    if fraction == 0.0:
        return 0
    # round() first so that 0.1 * 1000 = 100.00000000000001 is not pushed up.
    count = math.floor(round(fraction * num_pixels, 9) + 0.5)
    return int(min(max(count, 1), num_pixels))


def spatial_map(attribution: Tensor, reduce: Reduce = "sum") -> Tensor:
    r"""Collapse the channels of a batch of maps into spatial maps.

    Args:
        attribution (Tensor): maps of shape ``(N, C, H, W)``. A tensor of shape
            ``(N, H, W)`` is treated as a single channel.
        reduce (str): ``"sum"``: sum over channels (signed); ``"abs_sum"``: sum of
            absolute values over channels. Default: ``"sum"``

    Returns:
        Tensor of shape ``(N, H, W)``.

    Examples::

        >>> maps = torch.randn(2, 3, 8, 8)
        >>> spatial_map(maps).shape
        torch.Size([2, 8, 8])
    """
    if reduce not in ("sum", "abs_sum"):
        raise ValueError(f"`reduce` must be 'sum' or 'abs_sum', got {reduce!r}")
    if attribution.ndim == 3:
        attribution = attribution.unsqueeze(1)
    if attribution.ndim != 4:
        raise ValueError(
            "maps must have shape (N, C, H, W) or (N, H, W), got "
            f"{tuple(attribution.shape)}"
        )
    values = attribution.abs() if reduce == "abs_sum" else attribution
    return values.sum(dim=1)


def _check_no_nan(values: Tensor, name: str) -> None:
    if values.is_floating_point() and bool(torch.isnan(values).any()):
        raise ValueError(f"`{name}` contains NaN values")


def _permutations(
    indices: np.ndarray, num_pixels: int, seed: int, purpose: str
) -> Tensor:
    rows = [
        torch.randperm(num_pixels, generator=image_generator(seed, int(i), purpose))
        for i in indices
    ]
    if not rows:
        return torch.empty((0, num_pixels), dtype=torch.long)
    return torch.stack(rows)


def pixel_ranking(
    maps: Tensor,
    seed: int = 0,
    indices: IndicesLike = None,
    absolute: bool = False,
) -> Tensor:
    r"""Rank the spatial pixels of each image by its map, most important first.

    The map is summed over channels (``absolute=True``: the absolute values are
    summed, for signed methods) and its pixels sorted in descending order. Ties
    are broken by a random permutation of the pixels drawn from the image's stream
    ``(seed, index, "tie_break")``: among equal values, the pixel that comes first
    in that permutation ranks first. So a constant (e.g. all-zero) map gives a
    random ranking, and the same map of the same image always gives the same one,
    whatever the batch or its order.

    Args:
        maps (Tensor): ``(N, C, H, W)`` or ``(N, H, W)`` maps, without NaN.
        seed (int): the run's seed. Default: 0
        indices (Tensor, ndarray, sequence of int or None): the images' dataset
            indices; ``None`` means ``0..N-1``. Default: None
        absolute (bool): rank by the channel sum of ``|map|`` instead of the
            signed channel sum. Default: False

    Returns:
        ``LongTensor`` of shape ``(N, H * W)``: flat spatial pixel indices
        (``h * W + w``), most important first, on the device of ``maps``.

    Examples::

        >>> maps = torch.rand(2, 3, 8, 8)
        >>> ranking = pixel_ranking(maps, seed=0, indices=[10, 11])
        >>> ranking.shape
        torch.Size([2, 64])
    """
    _check_no_nan(maps, "maps")
    spatial = spatial_map(maps, "abs_sum" if absolute else "sum")
    batch = spatial.shape[0]
    flat = spatial.reshape(batch, -1)
    index_array = as_indices(indices, batch)
    perms = _permutations(index_array, flat.shape[1], seed, TIE_BREAK_PURPOSE)
    perms = perms.to(flat.device)
    shuffled = torch.gather(flat, 1, perms)
    order = torch.sort(shuffled, dim=1, descending=True, stable=True).indices
    return torch.gather(perms, 1, order)


def random_ranking(
    indices: Tensor | np.ndarray | Sequence[int],
    num_pixels: int,
    seed: int = 0,
) -> Tensor:
    r"""The random-ranking baseline: one seeded permutation of the pixels per image.

    Drawn from the image's stream ``(seed, index, "random_ranking")``, which is
    independent of the tie-break stream.

    Args:
        indices (Tensor, ndarray or sequence of int): the images' dataset indices.
        num_pixels (int): ``H * W``.
        seed (int): the run's seed. Default: 0

    Returns:
        ``LongTensor`` of shape ``(len(indices), num_pixels)`` on the CPU.

    Examples::

        >>> random_ranking([3, 4], num_pixels=64, seed=0).shape
        torch.Size([2, 64])
    """
    if isinstance(indices, Tensor):
        indices = indices.detach().cpu().numpy()
    index_array = np.asarray(indices).astype(np.int64).reshape(-1)
    return _permutations(index_array, int(num_pixels), seed, RANDOM_RANKING_PURPOSE)


def ranking_mask(ranking: Tensor, fraction: float, height: int, width: int) -> Tensor:
    r"""Boolean mask of the first ``fraction`` of each ranking.

    Args:
        ranking (Tensor): ``(N, H * W)`` flat pixel indices, most important first.
        fraction (float): in ``[0, 1]``; the count follows :func:`num_selected`.
        height (int): ``H``.
        width (int): ``W``.

    Returns:
        ``BoolTensor`` of shape ``(N, H, W)``.

    Examples::

        >>> ranking = random_ranking([0], num_pixels=16)
        >>> int(ranking_mask(ranking, 0.25, 4, 4).sum())
        4
    """
    batch, num_pixels = ranking.shape
    if num_pixels != height * width:
        raise ValueError(
            f"`ranking` has {num_pixels} pixels, expected H * W = {height * width}"
        )
    count = num_selected(fraction, num_pixels)
    mask = torch.zeros((batch, num_pixels), dtype=torch.bool, device=ranking.device)
    mask.scatter_(1, ranking[:, :count], True)
    return mask.reshape(batch, height, width)


def top_fraction_mask(
    maps: Tensor,
    q: float,
    seed: int = 0,
    indices: IndicesLike = None,
    reduce: Reduce = "sum",
) -> Tensor:
    r"""The top-``q`` fraction of each image's spatial pixels, with seeded ties.

    Exactly :func:`num_selected` ``(q, H * W)`` pixels are selected per image, in
    the order of :func:`pixel_ranking` (so ties at the threshold are broken by the
    image's ``"tie_break"`` stream, and an all-zero map gives a random mask that
    depends only on ``(seed, index)``).

    Args:
        maps (Tensor): ``(N, C, H, W)`` or ``(N, H, W)`` maps.
        q (float): the fraction of pixels to keep, in ``[0, 1]``.
        seed (int): the run's seed. Default: 0
        indices (Tensor, ndarray, sequence of int or None): dataset indices;
            ``None`` means ``0..N-1``. Default: None
        reduce (str): how channels are collapsed: ``"sum"`` or ``"abs_sum"``.
            Default: ``"sum"``

    Returns:
        ``BoolTensor`` of shape ``(N, H, W)``.

    Examples::

        >>> mask = top_fraction_mask(torch.rand(2, 3, 10, 10), 0.1, seed=0)
        >>> mask.sum(dim=(1, 2))
        tensor([10, 10])
    """
    if reduce not in ("sum", "abs_sum"):
        raise ValueError(f"`reduce` must be 'sum' or 'abs_sum', got {reduce!r}")
    ranking = pixel_ranking(maps, seed, indices, absolute=reduce == "abs_sum")
    height, width = maps.shape[-2:]
    return ranking_mask(ranking, q, height, width)
