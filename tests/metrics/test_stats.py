import numpy as np
import pytest
import torch

from captum_contrastive.metrics import (
    bootstrap_ci,
    compare_to_reference,
    holm,
    paired_bootstrap_diff,
)


def test_bootstrap_ci_covers_the_mean_and_is_seeded():
    values = np.random.default_rng(0).normal(0.3, 0.1, size=200)
    result = bootstrap_ci(values, n_resamples=1000)
    assert result["ci_low"] < values.mean() < result["ci_high"]
    assert result["mean"] == pytest.approx(values.mean())
    assert result["n"] == 200 and result["n_nan"] == 0
    assert result["ci_high"] - result["ci_low"] < 0.05
    assert bootstrap_ci(values, n_resamples=1000) == result
    assert bootstrap_ci(values, n_resamples=1000, seed=1) != result
    assert bootstrap_ci(torch.tensor(values), n_resamples=1000) == result


def test_bootstrap_ci_drops_nan_and_handles_tiny_samples():
    result = bootstrap_ci([1.0, float("nan"), 3.0], n_resamples=200)
    assert result["n"] == 2 and result["n_nan"] == 1 and result["mean"] == 2.0
    assert 1.0 <= result["ci_low"] <= result["ci_high"] <= 3.0
    single = bootstrap_ci([0.5])
    assert single["mean"] == 0.5 and np.isnan(single["ci_low"])
    empty = bootstrap_ci([float("nan")])
    assert empty["n"] == 0 and np.isnan(empty["mean"])
    with pytest.raises(ValueError):
        bootstrap_ci([1.0, 2.0], confidence=1.5)


def test_paired_bootstrap_of_a_method_against_itself_is_exactly_zero():
    values = np.random.default_rng(1).random(50)
    result = paired_bootstrap_diff(values, values)
    assert (result["ci_low"], result["ci_high"], result["mean_diff"]) == (0.0, 0.0, 0.0)
    assert result["p_value"] == 1.0


def test_paired_bootstrap_uses_the_pairing():
    rng = np.random.default_rng(2)
    base = rng.normal(0, 1, size=100)  # large shared variation
    a, b = base + 0.1 + rng.normal(0, 0.01, 100), base
    result = paired_bootstrap_diff(a, b, n_resamples=1000)
    assert result["ci_low"] > 0.09 and result["ci_high"] < 0.11
    assert result["p_value"] == pytest.approx(1 / 1001)
    b_nan = b.copy()
    b_nan[:10] = np.nan
    assert paired_bootstrap_diff(a, b_nan)["n"] == 90
    with pytest.raises(ValueError):
        paired_bootstrap_diff(a, b[:5])


def test_paired_bootstrap_p_value_for_noise_is_large():
    rng = np.random.default_rng(3)
    result = paired_bootstrap_diff(rng.normal(size=100), rng.normal(size=100))
    assert result["p_value"] > 0.05
    assert result["ci_low"] < 0 < result["ci_high"]


def test_holm_known_values():
    np.testing.assert_allclose(
        holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02]
    )
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])  # capped at 1
    np.testing.assert_allclose(holm([0.02]), [0.02])
    out = holm([0.01, float("nan"), 0.02])
    assert np.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], [0.02, 0.02])
    assert holm([]).shape == (0,)
    with pytest.raises(ValueError):
        holm([1.2])


def test_holm_is_monotone():
    p = np.random.default_rng(4).random(20) ** 3
    adjusted = holm(p)
    order = np.argsort(p)
    assert (np.diff(adjusted[order]) >= 0).all()
    assert (adjusted >= p).all() and (adjusted <= 1).all()


def test_compare_to_reference_verdicts():
    rng = np.random.default_rng(5)
    reference = rng.random(60)
    values = {
        "random": reference,
        "same": reference.copy(),
        "better": reference + 0.2,
        "worse": reference - 0.2,
        "noise": reference + rng.normal(0, 0.01, 60),
    }
    rows = {
        row["method"]: row
        for row in compare_to_reference(values, "random", n_resamples=500)
    }
    assert set(rows) == {"same", "better", "worse", "noise"}
    assert rows["same"]["verdict"] == "ties"
    assert (rows["same"]["ci_low"], rows["same"]["ci_high"]) == (0.0, 0.0)
    assert rows["better"]["verdict"] == "beats"
    assert rows["worse"]["verdict"] == "loses"
    assert rows["better"]["p_holm"] >= rows["better"]["p_value"]
    lower = {
        row["method"]: row
        for row in compare_to_reference(
            values, "random", higher_is_better=False, n_resamples=500
        )
    }
    assert (
        lower["better"]["verdict"] == "loses" and lower["worse"]["verdict"] == "beats"
    )
    with pytest.raises(KeyError):
        compare_to_reference(values, "missing")
