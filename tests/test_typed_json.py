"""Typed results round-trip through JSON, and wrong JSON is refused by name."""

import json
import math
from dataclasses import dataclass, field
from typing import Any

import pytest

from captum_contrastive.metrics.intervals import (
    Interval,
    PairedDifference,
    ReferenceComparison,
)
from captum_contrastive.metrics.stats import (
    bootstrap_ci,
    compare_to_reference,
    paired_bootstrap_diff,
)
from captum_contrastive.typed_json import JsonSchemaError, from_json, to_json


@dataclass(frozen=True)
class _Curve:
    fractions: tuple[float, ...]
    auc: Interval
    by_fraction: dict[float, Interval]
    note: str | None = field(default=None, metadata={"omit_none": True})


@dataclass(frozen=True)
class _Summary:
    methods: dict[str, _Curve]
    comparisons: list[ReferenceComparison]
    gap: PairedDifference | None
    protocol: dict[str, Any]


def _summary() -> _Summary:
    values = [0.2, 0.5, 0.4, float("nan"), 0.9]
    interval = Interval.of(bootstrap_ci(values, n_resamples=50))
    rows = compare_to_reference(
        {"random": [0.1, 0.2, 0.3, 0.1], "egbp": [0.6, 0.8, 0.7, 0.9]},
        reference="random",
        n_resamples=50,
    )
    return _Summary(
        methods={"egbp": _Curve((0.05, 0.1), interval, {0.05: interval})},
        comparisons=[ReferenceComparison.of(r) for r in rows],
        gap=PairedDifference.of(paired_bootstrap_diff([1, 2, 3], [0, 2, 1], 50)),
        protocol={"steps": [1, 2], "name": "x"},
    )


def test_round_trip_through_json_text_keeps_every_value():
    summary = _summary()
    text = json.dumps(to_json(summary))
    back = from_json(_Summary, json.loads(text))
    assert back == summary
    assert back.methods["egbp"].by_fraction[0.05] is not None
    assert isinstance(back.methods["egbp"].fractions, tuple)


def test_stats_dicts_are_written_back_with_the_same_keys_in_order():
    found = bootstrap_ci([0.1, 0.3, 0.2], n_resamples=30)
    assert list(to_json(Interval.of(found)).items()) == list(found.items())
    diff = paired_bootstrap_diff([0.1, 0.3, 0.2], [0.0, 0.1, 0.2], 30)
    assert to_json(PairedDifference.of(diff)) == diff


def test_omitted_none_field_is_left_out_and_read_back_as_none():
    curve = _summary().methods["egbp"]
    assert "note" not in to_json(curve)
    assert from_json(_Curve, to_json(curve)).note is None


def test_nan_survives_and_too_few_values_have_no_interval():
    interval = Interval.of(bootstrap_ci([0.5], n_resamples=10))
    back = from_json(Interval, json.loads(json.dumps(to_json(interval))))
    assert math.isnan(back.ci_low) and back.known and math.isnan(back.half_width)


def test_unknown_key_is_refused_with_its_path():
    values = to_json(_summary())
    values["methods"]["egbp"]["auc"]["typo"] = 1
    with pytest.raises(JsonSchemaError, match=r"methods\['egbp'\]\.auc.*'typo'"):
        from_json(_Summary, values)


def test_numpy_scalars_are_read_as_python_numbers():
    np = pytest.importorskip("numpy")
    values = {"mean": np.float32(0.5), "ci_low": np.float64(0.25), "ci_high": 1}
    found = from_json(Interval, {**values, "n": np.int64(4), "n_nan": 0})
    assert found == Interval(0.5, 0.25, 1.0, 4)
    assert type(found.mean) is float and type(found.n) is int


def test_missing_required_field_and_wrong_kind_are_refused():
    values = to_json(_summary())
    del values["gap"]["p_value"]
    with pytest.raises(JsonSchemaError, match="needs 'p_value'"):
        from_json(_Summary, values)
    with pytest.raises(JsonSchemaError, match="expected a number"):
        from_json(Interval, {"mean": "0.5", "ci_low": 0, "ci_high": 1, "n": 2})
    with pytest.raises(JsonSchemaError, match="expected an integer"):
        from_json(Interval, {"mean": 0.5, "ci_low": 0, "ci_high": 1, "n": True})
    with pytest.raises(JsonSchemaError, match="expected an integer"):
        from_json(Interval, {"mean": 0.5, "ci_low": 0, "ci_high": 1, "n": 2.5})
