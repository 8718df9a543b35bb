"""Per-image similarity between two batches of saliency maps.

Used by the class-discriminativity protocol (paper §2.1, Fig. 1: binarized
similarity and Avg-Diff) and the adversarial-discriminativity protocol (Figs. 3, 5:
Spearman rank correlation and top-q IoU). Every function compares ``a[i]`` with
``b[i]`` and returns one value per image as a ``float64`` NumPy array, so results of
shards can be concatenated and aggregated later.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from torch import Tensor

from captum_contrastive.metrics.ranking import (
    IndicesLike,
    Reduce,
    top_fraction_mask,
)

__all__ = [
    "avg_diff",
    "binarized_similarity",
    "centred_ranks",
    "mask_iou",
    "rank_correlation",
    "spearman",
    "top_iou",
]

ArrayLike = Tensor | np.ndarray


def _flat(value: ArrayLike, name: str) -> np.ndarray:
    if isinstance(value, Tensor):
        value = value.detach().cpu().double().numpy()
    value = np.asarray(value, dtype=np.float64)
    if value.ndim < 2:
        raise ValueError(
            f"`{name}` must be a batch of maps (N, ...), got shape {value.shape}"
        )
    return value.reshape(value.shape[0], -1)


def _check_no_nan(value: np.ndarray, name: str) -> None:
    if np.isnan(value).any():
        raise ValueError(f"`{name}` contains NaN values")


def _flat_pair(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    arrays = [_flat(a, "a"), _flat(b, "b")]
    if arrays[0].shape != arrays[1].shape:
        raise ValueError(
            f"`a` and `b` must have the same shape, got {np.shape(a)} and {np.shape(b)}"
        )
    for name, value in zip(("a", "b"), arrays, strict=True):
        _check_no_nan(value, name)
    return arrays[0], arrays[1]


def spearman(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    r"""Spearman rank correlation between ``a[i]`` and ``b[i]``, per image.

    Every element after the batch axis is one observation: pass spatial maps
    (:func:`~captum_contrastive.metrics.spatial_map`) to correlate over pixels,
    as the adversarial-discriminativity protocol does. Ties get average ranks, and
    ρ is the Pearson correlation of the ranks (computed in float64, clipped to
    ``[-1, 1]``).

    Rule for constant maps: when ``a[i]`` or ``b[i]`` is constant (all its ranks
    are tied, e.g. an all-zero map), ρ is undefined and the result is NaN. Drop
    NaNs before aggregating (:func:`~captum_contrastive.metrics.bootstrap_ci`
    does) and report how many there were.

    Args:
        a (Tensor or ndarray): maps of shape ``(N, ...)``.
        b (Tensor or ndarray): maps of the same shape.

    Returns:
        ``np.ndarray`` of shape ``(N,)``.

    Examples::

        >>> maps = torch.rand(2, 8, 8)
        >>> spearman(maps, maps)
        array([1., 1.])
        >>> spearman(maps, -maps)
        array([-1., -1.])
    """
    flat_a, flat_b = _flat_pair(a, b)
    if flat_a.shape[1] == 0:
        return np.full(flat_a.shape[0], np.nan)
    return rank_correlation(centred_ranks(flat_a), centred_ranks(flat_b))


def centred_ranks(maps: ArrayLike) -> np.ndarray:
    r"""Per image, the average ranks (ties shared) of every element after the
    batch axis, minus their mean: one side of :func:`spearman`, to compute once
    when one map is compared with many.

    Args:
        maps (Tensor or ndarray): ``(N, ...)`` maps, no NaN (ranked in float64).

    Returns:
        ``(N, P)`` float64 centred ranks, ``P`` the elements per image.

    Examples::

        >>> centred_ranks(np.array([[3.0, 1.0, 2.0]]))
        array([[ 1., -1.,  0.]])
    """
    flat = _flat(maps, "maps")
    _check_no_nan(flat, "maps")
    ranks = rankdata(flat, method="average", axis=1)
    ranks -= ranks.mean(axis=1, keepdims=True)
    return ranks


def rank_correlation(ranks_a: np.ndarray, ranks_b: np.ndarray) -> np.ndarray:
    r"""Spearman's ρ per row from :func:`centred_ranks` of both sides (NaN where
    a side is constant), clipped to ``[-1, 1]``; ``spearman(a, b)`` is
    ``rank_correlation(centred_ranks(a), centred_ranks(b))`` on the flattened
    float64 maps.

    Args:
        ranks_a (ndarray): ``(N, P)`` centred ranks.
        ranks_b (ndarray): ``(N, P)`` centred ranks.

    Returns:
        ``np.ndarray`` of shape ``(N,)``.

    Examples::

        >>> ranks = centred_ranks(np.array([[3.0, 1.0, 2.0]]))
        >>> rank_correlation(ranks, -ranks)
        array([-1.])
    """
    cov = (ranks_a * ranks_b).sum(axis=1)
    scale = np.sqrt((ranks_a**2).sum(axis=1) * (ranks_b**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(scale > 0, cov / np.where(scale > 0, scale, 1.0), np.nan)
    return np.clip(rho, -1.0, 1.0)


def top_iou(
    a: Tensor,
    b: Tensor,
    q: float = 0.10,
    seed: int = 0,
    indices: IndicesLike = None,
    reduce: Reduce = "sum",
) -> np.ndarray:
    r"""Intersection over union of the top-``q`` spatial masks of ``a`` and ``b``.

    Both masks come from :func:`~captum_contrastive.metrics.top_fraction_mask`
    with the same ``(seed, index)`` tie-break stream: ties are broken by one fixed
    per-image pixel priority, so identical maps always give IoU 1 (also when they
    are constant), and the result does not depend on the batch or its order.

    Args:
        a (Tensor): maps ``(N, C, H, W)`` or ``(N, H, W)``.
        b (Tensor): maps of the same spatial size.
        q (float): the fraction of pixels in each mask, in ``(0, 1]``.
            Default: 0.10
        seed (int): the run's seed. Default: 0
        indices (Tensor, ndarray, sequence of int or None): dataset indices;
            ``None`` means ``0..N-1``. Default: None
        reduce (str): how channels are collapsed: ``"sum"`` or ``"abs_sum"``.
            Default: ``"sum"``

    Returns:
        ``np.ndarray`` of shape ``(N,)`` with values in ``[0, 1]``.

    Examples::

        >>> maps = torch.rand(2, 3, 10, 10)
        >>> top_iou(maps, maps, q=0.1, indices=[5, 6])
        array([1., 1.])
    """
    if not 0.0 < float(q) <= 1.0:
        raise ValueError(f"`q` must lie in (0, 1], got {q}")
    if a.shape[0] != b.shape[0] or a.shape[-2:] != b.shape[-2:]:
        raise ValueError(
            "`a` and `b` need the same batch and spatial size, got "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )
    mask_a = top_fraction_mask(a, q, seed, indices, reduce)
    mask_b = top_fraction_mask(b, q, seed, indices, reduce)
    return mask_iou(mask_a, mask_b)


def mask_iou(mask_a: Tensor, mask_b: Tensor) -> np.ndarray:
    r"""Intersection over union of two batches of boolean masks, per image (the
    last step of :func:`top_iou`, for masks computed once and compared often).

    Args:
        mask_a (Tensor): ``(N, H, W)`` boolean masks, e.g. from
            :func:`~captum_contrastive.metrics.top_fraction_mask`.
        mask_b (Tensor): masks of the same shape.

    Returns:
        ``np.ndarray`` of shape ``(N,)`` (NaN where both masks are empty).

    Examples::

        >>> mask = torch.tensor([[[True, False], [True, False]]])
        >>> mask_iou(mask, torch.tensor([[[True, True], [False, False]]]))
        array([0.33333333])
    """
    mask_b = mask_b.to(mask_a.device)
    inter = (mask_a & mask_b).sum(dim=(1, 2)).double()
    union = (mask_a | mask_b).sum(dim=(1, 2)).double()
    return (inter / union).cpu().numpy()


def binarized_similarity(
    a: ArrayLike, b: ArrayLike, threshold: float = 0.0
) -> np.ndarray:
    r"""Fraction of elements where the binarized maps agree (paper Fig. 1a).

    Each map is binarized as ``map > threshold`` (the paper's filtering effect
    ``s * 1[s > 0]`` is nonzero exactly where ``s > 0``), and the score is the
    number of elements with equal binary value divided by the number of elements.

    Which elements: every element after the batch axis. Pass the raw
    ``(N, C, H, W)`` maps to compare the filtering effect per input feature (every
    channel of every pixel; the benchmark's choice), or ``(N, H, W)`` spatial maps
    to compare per pixel.

    Args:
        a (Tensor or ndarray): raw (unnormalized) maps ``(N, ...)``.
        b (Tensor or ndarray): maps of the same shape.
        threshold (float): the binarization threshold. Default: 0.0

    Returns:
        ``np.ndarray`` of shape ``(N,)`` with values in ``[0, 1]``.

    Examples::

        >>> a = torch.tensor([[[1.0, 0.0], [2.0, -1.0]]])
        >>> binarized_similarity(a, 3 * a)
        array([1.])
    """
    flat_a, flat_b = _flat_pair(a, b)
    return ((flat_a > threshold) == (flat_b > threshold)).mean(axis=1)


def avg_diff(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    r"""Avg-Diff of the paper's Fig. 1b, per image.

    ``Avg = mean(max(map, 0))`` over every element after the batch axis, on the
    raw, unnormalized maps; ``Avg-Diff = |Avg1 - Avg2| / max(Avg1, Avg2)``, in
    ``[0, 1]``. When both averages are 0 the maps do not differ and the result is
    0 (not NaN). Because both maps have the same shape, using sums instead of means
    gives the same value.

    Args:
        a (Tensor or ndarray): raw maps ``(N, ...)``.
        b (Tensor or ndarray): raw maps of the same shape.

    Returns:
        ``np.ndarray`` of shape ``(N,)``.

    Examples::

        >>> a = torch.rand(2, 3, 4, 4)
        >>> avg_diff(a, 2 * a)
        array([0.5, 0.5])
    """
    flat_a, flat_b = _flat_pair(a, b)
    avg_a = np.maximum(flat_a, 0.0).mean(axis=1)
    avg_b = np.maximum(flat_b, 0.0).mean(axis=1)
    largest = np.maximum(avg_a, avg_b)
    positive = largest > 0
    return np.where(
        positive, np.abs(avg_a - avg_b) / np.where(positive, largest, 1.0), 0.0
    )
