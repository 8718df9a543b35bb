"""Per-image records: build them, merge shards by image index, aggregate at the end.

A record is a JSON-ready ``dict`` for one image, keyed by its dataset index
(``"index"``). Per-image metrics from any shard become records; shards are merged
by index; means and bootstrap intervals are computed only on the merged records,
so a sharded run aggregates exactly as a single run does.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from torch import Tensor

from captum_contrastive.metrics.ranking import IndicesLike, as_indices
from captum_contrastive.metrics.stats import bootstrap_ci

__all__ = ["aggregate", "column", "merge_records", "to_records"]

Record = dict[str, Any]


def _to_python(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def to_records(
    indices: IndicesLike,
    columns: Mapping[str, Tensor | np.ndarray | Sequence[Any]],
    constants: Mapping[str, Any] | None = None,
    key: str = "index",
) -> list[Record]:
    r"""One record per image from per-image columns.

    Args:
        indices (Tensor, ndarray or sequence of int): the images' dataset indices.
        columns (mapping of str to array): per-image values, first axis = image.
            A 1-D column gives a scalar per record, a 2-D one (e.g. one value per
            fraction) a list.
        constants (mapping, optional): fields copied into every record (e.g.
            ``{"method": "egbp", "attack": "cw"}``).
        key (str): the name of the index field. Default: ``"index"``

    Returns:
        list of dicts of Python scalars and lists (JSON-ready).

    Examples::

        >>> to_records([7, 3], {"iou": np.array([0.5, 1.0])}, {"method": "gbp"})
        [{'index': 7, 'method': 'gbp', 'iou': 0.5},
         {'index': 3, 'method': 'gbp', 'iou': 1.0}]
    """
    arrays: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        if isinstance(values, Tensor):
            values = values.detach().cpu().numpy()
        arrays[name] = np.asarray(values)
    lengths = {
        name: array.shape[0] if array.ndim else 0 for name, array in arrays.items()
    }
    batch = next(iter(lengths.values())) if lengths else 0
    if indices is not None:
        batch = len(indices)
    if any(length != batch for length in lengths.values()):
        raise ValueError(f"every column needs one entry per image ({batch}): {lengths}")
    index_array = as_indices(indices, batch)
    extra = {name: _to_python(value) for name, value in (constants or {}).items()}
    records = []
    for row in range(batch):
        record: Record = {key: int(index_array[row]), **extra}
        for name, array in arrays.items():
            record[name] = _to_python(array[row])
        records.append(record)
    return records


def merge_records(
    shards: Iterable[Iterable[Record]], key: str = "index"
) -> list[Record]:
    r"""Merge shards of records into one list sorted by image index.

    Args:
        shards (iterable of iterables of dict): the records of each shard, in any
            order.
        key (str): the index field. Default: ``"index"``

    Returns:
        list of dicts sorted by ``key``.

    Raises:
        ValueError: when a record lacks ``key`` or an index appears twice
            (overlapping shards).

    Examples::

        >>> merge_records([[{"index": 4, "v": 1.0}], [{"index": 1, "v": 2.0}]])
        [{'index': 1, 'v': 2.0}, {'index': 4, 'v': 1.0}]
    """
    merged: dict[int, Record] = {}
    for shard in shards:
        for record in shard:
            if key not in record:
                raise ValueError(f"a record has no {key!r} field: {record}")
            index = int(record[key])
            if index in merged:
                raise ValueError(f"image {key} {index} appears in more than one shard")
            merged[index] = record
    return [merged[index] for index in sorted(merged)]


def column(records: Sequence[Record], name: str) -> np.ndarray:
    r"""One field of every record as an array (``float64`` for numbers and bools).

    Args:
        records (sequence of dict): the records.
        name (str): the field; scalar fields give ``(N,)``, list fields
            ``(N, F)``.

    Returns:
        ``np.ndarray``; ``None`` values become NaN.

    Examples::

        >>> column([{"index": 0, "ok": True}, {"index": 1, "ok": False}], "ok")
        array([1., 0.])
    """
    values = [record[name] for record in records]
    try:
        return np.asarray(
            [np.nan if v is None else v for v in values], dtype=np.float64
        )
    except (TypeError, ValueError):
        return np.asarray(values, dtype=object)


def _is_numeric(value: Any) -> bool:
    if isinstance(value, bool | numbers.Number) or value is None:
        return True
    if isinstance(value, list | tuple):
        return all(isinstance(v, bool | numbers.Number) or v is None for v in value)
    return False


def aggregate(
    records: Sequence[Record],
    names: Sequence[str] | None = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    key: str = "index",
) -> dict[str, Any]:
    r"""Mean, bootstrap interval and count of numeric fields over all records.

    Records are sorted by ``key`` first, so the bootstrap does not depend on the
    order of the shards. NaNs are dropped per field (see
    :func:`~captum_contrastive.metrics.bootstrap_ci`); booleans count as 0/1
    (an accuracy).

    Args:
        records (sequence of dict): the merged records.
        names (sequence of str, optional): the fields to aggregate; ``None`` means
            every numeric field except ``key``. Default: None
        n_resamples (int): bootstrap resamples. Default: 2000
        confidence (float): the interval's level. Default: 0.95
        seed (int): seed of the resampling generator. Default: 0
        key (str): the index field. Default: ``"index"``

    Returns:
        dict from field name to the :func:`bootstrap_ci` dict (scalar fields) or a
        list of them, one per position (list fields, e.g. one per fraction).

    Examples::

        >>> summary = aggregate([{"index": 0, "auc": 0.5}, {"index": 1, "auc": 0.7}])
        >>> round(summary["auc"]["mean"], 3), summary["auc"]["n"]
        (0.6, 2)
    """
    ordered = sorted(records, key=lambda record: int(record[key]))
    if names is None:
        names = []
        if ordered:
            names = [
                name
                for name, value in ordered[0].items()
                if name != key and _is_numeric(value)
            ]
    summary: dict[str, Any] = {}
    for name in names:
        values = column(ordered, name)
        if values.dtype == object:
            raise ValueError(f"field {name!r} is not numeric")
        if values.ndim == 1:
            summary[name] = bootstrap_ci(values, n_resamples, confidence, seed)
        elif values.ndim == 2:
            summary[name] = [
                bootstrap_ci(values[:, j], n_resamples, confidence, seed)
                for j in range(values.shape[1])
            ]
        else:
            raise ValueError(f"field {name!r} has more than 2 dimensions")
    return summary
