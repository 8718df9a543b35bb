"""Bootstrap confidence intervals, paired comparisons and Holm's correction.

These run once, at the end, on per-image values gathered from every shard. The
bootstrap draws from ``np.random.default_rng(seed)`` over the values in the order
given, so pass them in a canonical order (sorted by image index, as the
pipeline keeps them) to get identical intervals from a sharded and a single run.
:mod:`~captum_contrastive.metrics.intervals` types the dicts returned here.

Small samples: with fewer than 2 (non-NaN) values the bootstrap says nothing, and
the interval and p-value are NaN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch import Tensor

__all__ = ["bootstrap_ci", "compare_to_reference", "holm", "paired_bootstrap_diff"]

ValuesLike = Tensor | np.ndarray | Sequence[float]

# Resamples are drawn in chunks of at most this many indices, to bound memory.
_MAX_CHUNK_ELEMENTS = 1 << 22


def _as_array(values: ValuesLike, name: str) -> np.ndarray:
    if isinstance(values, Tensor):
        values = values.detach().cpu().double().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"`{name}` must be one-dimensional, got shape {array.shape}")
    return array


def _check_options(n_resamples: int, confidence: float) -> None:
    if int(n_resamples) < 1:
        raise ValueError(f"`n_resamples` must be positive, got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"`confidence` must lie in (0, 1), got {confidence}")


def _bootstrap_means(
    values: np.ndarray, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    n = values.shape[0]
    chunk = max(1, _MAX_CHUNK_ELEMENTS // n)
    means = np.empty(n_resamples, dtype=np.float64)
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        rows = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = values[rows].mean(axis=1)
    return means


def _interval(means: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


def bootstrap_ci(
    values: ValuesLike,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    r"""Percentile bootstrap confidence interval of the mean.

    NaNs are dropped first (``n`` counts the values kept, ``n_nan`` the dropped
    ones). The interval is the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2``
    quantiles (linear interpolation) of ``n_resamples`` means of resamples drawn
    with replacement.

    Args:
        values (Tensor, ndarray or sequence of float): one value per image.
        n_resamples (int): bootstrap resamples. Default: 2000
        confidence (float): the interval's level. Default: 0.95
        seed (int): seed of the resampling generator. Default: 0

    Returns:
        dict with ``mean``, ``ci_low``, ``ci_high`` (NaN when ``n < 2``), ``n``,
        ``n_nan``, ``confidence``, ``n_resamples``.

    Examples::

        >>> bootstrap_ci([0.1, 0.4, 0.35, float("nan")], n_resamples=1000)["n"]
        3
    """
    _check_options(n_resamples, confidence)
    array = _as_array(values, "values")
    kept = array[~np.isnan(array)]
    n = int(kept.shape[0])
    result: dict[str, Any] = {
        "mean": float(kept.mean()) if n else float("nan"),
        "ci_low": float("nan"),
        "ci_high": float("nan"),
        "n": n,
        "n_nan": int(array.shape[0] - n),
        "confidence": float(confidence),
        "n_resamples": int(n_resamples),
    }
    if n >= 2:
        means = _bootstrap_means(kept, int(n_resamples), np.random.default_rng(seed))
        result["ci_low"], result["ci_high"] = _interval(means, confidence)
    return result


def paired_bootstrap_diff(
    a: ValuesLike,
    b: ValuesLike,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    r"""Paired bootstrap of ``mean(a - b)`` over the same images.

    ``a[i]`` and ``b[i]`` must belong to the same image. Pairs where either value
    is NaN are dropped. Each resample draws images with replacement and takes the
    mean of their differences, so the image-to-image variation shared by both
    methods cancels.

    Interval: the percentile interval of the resampled means.

    p-value (two-sided, percentile bootstrap): ``p = 2 * min(#{m* <= 0},
    #{m* >= 0}) / n_resamples``, capped at 1 and floored at ``1 / (n_resamples +
    1)``, where ``m*`` are the resampled means. It is about the smallest
    ``1 - confidence`` at which the percentile interval excludes 0. Resampled means
    equal to 0 count on both sides, so identical inputs give ``p = 1`` and an
    interval of exactly ``[0, 0]``.

    Args:
        a (Tensor, ndarray or sequence of float): per-image values of a method.
        b (Tensor, ndarray or sequence of float): per-image values of the
            reference, same length and order.
        n_resamples (int): bootstrap resamples. Default: 2000
        confidence (float): the interval's level. Default: 0.95
        seed (int): seed of the resampling generator. Default: 0

    Returns:
        dict with ``mean_diff``, ``ci_low``, ``ci_high``, ``p_value`` (NaN when
        ``n < 2``), ``n``, ``n_nan``, ``confidence``, ``n_resamples``.

    Examples::

        >>> paired_bootstrap_diff([0.5, 0.7, 0.9], [0.5, 0.7, 0.9])["ci_low"]
        0.0
    """
    _check_options(n_resamples, confidence)
    first = _as_array(a, "a")
    second = _as_array(b, "b")
    if first.shape != second.shape:
        raise ValueError(
            f"`a` and `b` must pair the same images, got {first.shape[0]} and "
            f"{second.shape[0]} values"
        )
    keep = ~(np.isnan(first) | np.isnan(second))
    diff = first[keep] - second[keep]
    n = int(diff.shape[0])
    result: dict[str, Any] = {
        "mean_diff": float(diff.mean()) if n else float("nan"),
        "ci_low": float("nan"),
        "ci_high": float("nan"),
        "p_value": float("nan"),
        "n": n,
        "n_nan": int(first.shape[0] - n),
        "confidence": float(confidence),
        "n_resamples": int(n_resamples),
    }
    if n >= 2:
        means = _bootstrap_means(diff, int(n_resamples), np.random.default_rng(seed))
        result["ci_low"], result["ci_high"] = _interval(means, confidence)
        below = int(np.count_nonzero(means <= 0))
        above = int(np.count_nonzero(means >= 0))
        p_value = min(1.0, 2.0 * min(below, above) / n_resamples)
        result["p_value"] = max(p_value, 1.0 / (n_resamples + 1))
    return result


def holm(p_values: ValuesLike) -> np.ndarray:
    r"""Holm–Bonferroni adjusted p-values, in the input order.

    With the ``m`` p-values sorted ascending, ``p_(1) <= ... <= p_(m)``, the
    adjusted value is ``max over j <= i of min(1, (m - j + 1) * p_(j))``: monotone in
    the p-values and capped at 1. Rejecting where the adjusted value is below
    ``alpha`` controls the family-wise error rate at ``alpha``. NaN p-values (e.g.
    comparisons with too few images) are not counted in ``m`` and stay NaN.

    Args:
        p_values (Tensor, ndarray or sequence of float): raw p-values.

    Returns:
        ``np.ndarray`` of the same length.

    Examples::

        >>> holm([0.01, 0.04, 0.03, 0.005])
        array([0.03, 0.06, 0.06, 0.02])
    """
    raw = _as_array(p_values, "p_values")
    if ((raw < 0) | (raw > 1)).any():
        raise ValueError("p-values must lie in [0, 1]")
    adjusted = np.full(raw.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(raw))
    m = valid.shape[0]
    if m == 0:
        return adjusted
    order = valid[np.argsort(raw[valid], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * raw[order])
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def compare_to_reference(
    per_method_values: Mapping[str, ValuesLike],
    reference: str,
    alpha: float = 0.05,
    higher_is_better: bool = True,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[dict[str, Any]]:
    r"""Compare every method with a reference on the same images, Holm-corrected.

    For each method other than ``reference``: :func:`paired_bootstrap_diff` of
    ``method - reference`` (same ``seed`` for every comparison), then :func:`holm`
    over the family of these comparisons. Verdict: ``"beats"`` when the adjusted
    p-value is below ``alpha`` and the mean difference favours the method
    (positive when ``higher_is_better``, negative otherwise), ``"loses"`` when it
    is below ``alpha`` and favours the reference, and ``"ties"`` otherwise
    (including NaN p-values). A method identical to the reference gets an
    interval of exactly ``[0, 0]``, ``p = 1`` and ``"ties"``.

    Args:
        per_method_values (mapping of str to array): per-image values of each
            method, all aligned on the same images (NaN pairs are dropped per
            comparison).
        reference (str): the key of the reference method.
        alpha (float): the family-wise error rate. Default: 0.05
        higher_is_better (bool): the metric's direction (``False`` e.g. for a
            similarity that a better method should lower). Default: True
        n_resamples (int): bootstrap resamples. Default: 2000
        confidence (float): the intervals' level. Default: 0.95
        seed (int): seed of the resampling generator. Default: 0

    Returns:
        list of dicts, one per method other than the reference, in the mapping's
        order, with ``method``, ``reference``, ``n``, ``n_nan``, ``mean``,
        ``reference_mean``, ``mean_diff``, ``ci_low``, ``ci_high``, ``p_value``,
        ``p_holm``, ``verdict``, ``alpha``, ``higher_is_better``, ``confidence``,
        ``n_resamples``.

    Examples::

        >>> rows = compare_to_reference(
        ...     {"random": [0.1, 0.2, 0.1, 0.3], "egbp": [0.6, 0.8, 0.7, 0.9]},
        ...     reference="random", n_resamples=1000)
        >>> rows[0]["method"], rows[0]["verdict"]
        ('egbp', 'beats')
    """
    if reference not in per_method_values:
        raise KeyError(f"reference {reference!r} is not among the methods")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"`alpha` must lie in (0, 1), got {alpha}")
    reference_values = _as_array(per_method_values[reference], reference)
    rows: list[dict[str, Any]] = []
    for method, values in per_method_values.items():
        if method == reference:
            continue
        method_values = _as_array(values, method)
        diff = paired_bootstrap_diff(
            method_values, reference_values, n_resamples, confidence, seed
        )
        keep = ~(np.isnan(method_values) | np.isnan(reference_values))
        rows.append(
            {
                "method": method,
                "reference": reference,
                "n": diff["n"],
                "n_nan": diff["n_nan"],
                "mean": float(method_values[keep].mean()) if keep.any() else np.nan,
                "reference_mean": (
                    float(reference_values[keep].mean()) if keep.any() else np.nan
                ),
                "mean_diff": diff["mean_diff"],
                "ci_low": diff["ci_low"],
                "ci_high": diff["ci_high"],
                "p_value": diff["p_value"],
                "alpha": float(alpha),
                "higher_is_better": bool(higher_is_better),
                "confidence": float(confidence),
                "n_resamples": int(n_resamples),
            }
        )
    adjusted = holm([row["p_value"] for row in rows]) if rows else np.array([])
    for row, p_holm in zip(rows, adjusted, strict=True):
        row["p_holm"] = float(p_holm)
        sign = np.sign(row["mean_diff"]) * (1 if higher_is_better else -1)
        if not p_holm < alpha or not sign:
            row["verdict"] = "ties"
        elif sign > 0:
            row["verdict"] = "beats"
        else:
            row["verdict"] = "loses"
    return rows
