import numpy as np
import pytest
import torch

from captum_contrastive.metrics import (
    aggregate,
    column,
    merge_records,
    to_records,
    top_iou,
)


def test_to_records_converts_to_python():
    records = to_records(
        torch.tensor([5, 2]),
        {
            "iou": np.array([0.5, 1.0]),
            "ok": torch.tensor([True, False]),
            "curve": np.array([[1, 0], [0, 1]], dtype=bool),
        },
        {"method": "egbp"},
    )
    assert records[0] == {
        "index": 5,
        "method": "egbp",
        "iou": 0.5,
        "ok": True,
        "curve": [True, False],
    }
    assert type(records[1]["iou"]) is float and type(records[1]["ok"]) is bool
    with pytest.raises(ValueError):
        to_records([1, 2, 3], {"iou": np.array([0.5, 1.0])})


def test_merge_sorts_and_rejects_overlaps():
    merged = merge_records(
        [[{"index": 3, "v": 1.0}], [{"index": 0, "v": 2.0}, {"index": 7, "v": 3.0}]]
    )
    assert [r["index"] for r in merged] == [0, 3, 7]
    with pytest.raises(ValueError, match="more than one shard"):
        merge_records([[{"index": 1}], [{"index": 1}]])
    with pytest.raises(ValueError):
        merge_records([[{"v": 1}]])


def test_column_and_aggregate():
    records = [
        {
            "index": 1,
            "auc": 0.5,
            "ok": True,
            "curve": [0.0, 1.0],
            "method": "a",
            "rho": None,
        },
        {
            "index": 0,
            "auc": 0.7,
            "ok": False,
            "curve": [1.0, 1.0],
            "method": "a",
            "rho": 0.2,
        },
    ]
    np.testing.assert_array_equal(column(records, "ok"), [1.0, 0.0])
    assert column(records, "curve").shape == (2, 2)
    summary = aggregate(records, n_resamples=100)
    assert set(summary) == {"auc", "ok", "curve", "rho"}
    assert summary["auc"]["mean"] == pytest.approx(0.6) and summary["auc"]["n"] == 2
    assert [s["mean"] for s in summary["curve"]] == [0.5, 1.0]
    assert summary["rho"]["n"] == 1 and summary["rho"]["n_nan"] == 1
    with pytest.raises(ValueError):
        aggregate(records, names=["method"])


def test_sharded_run_aggregates_exactly_like_a_single_run():
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(8, 3, 6, 6, generator=generator)
    b = (a + 0.3 * torch.rand(8, 3, 6, 6, generator=generator)).round(decimals=1)
    indices = torch.arange(8)
    single = to_records(indices, {"iou": top_iou(a, b, 0.2, seed=1, indices=indices)})
    shard_b = to_records(
        indices[4:], {"iou": top_iou(a[4:], b[4:], 0.2, 1, indices[4:])}
    )
    shard_a = to_records(
        indices[:4], {"iou": top_iou(a[:4], b[:4], 0.2, 1, indices[:4])}
    )
    merged = merge_records([shard_b, shard_a])
    assert merged == single
    assert aggregate(merged, n_resamples=200) == aggregate(single, n_resamples=200)
