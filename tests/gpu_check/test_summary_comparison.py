"""The comparison of two runs: rows within the stated tolerance, counts,
missing rows and verdicts."""

import csv
import json

import pytest

from captum_contrastive.gpu_check.summary_comparison import (
    SummaryTolerance,
    compare_runs,
    verdicts_of,
)

HEADER = ["study", "attack", "method", "measure", "mean", "ci_low", "ci_high", "n"]
ROWS = [
    ["recovery", "cw-k0", "enhanced_gbp", "auc", 0.50, 0.40, 0.60, 16],
    ["recovery", "cw-k0", "saliency", "auc", 0.30, 0.30, 0.30, 16],
]
RESULTS = {
    "verdicts": {"recovery": {"verdict": "supported"}},
    "sanity": [{"verdict": "passes"}],
}


def _run(folder, rows=ROWS, results=RESULTS):
    folder.mkdir()
    with open(folder / "summary.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *rows])
    (folder / "results.json").write_text(json.dumps(results))
    return folder


def _moved(mean_shift=0.0, n_shift=0, row=0):
    rows = [list(r) for r in ROWS]
    rows[row][4] += mean_shift
    rows[row][7] += n_shift
    return rows


def test_the_same_run_is_identical(tmp_path):
    comparison = compare_runs(_run(tmp_path / "a"), _run(tmp_path / "b"))
    assert comparison.identical and comparison.agrees
    assert "2 rows compared, 0 outside" in comparison.lines()[0]
    assert comparison.verdict_count == 2


@pytest.mark.parametrize(
    ("shift", "agrees"),
    # a quarter of the half-width 0.1 is 0.025
    [(0.02, True), (-0.024, True), (0.03, False), (-0.2, False)],
)
def test_a_mean_may_move_by_a_quarter_of_the_ci_half_width(tmp_path, shift, agrees):
    comparison = compare_runs(_run(tmp_path / "a"), _run(tmp_path / "b", _moved(shift)))
    assert comparison.agrees is agrees
    assert not comparison.identical


def test_an_empty_interval_allows_only_the_absolute_tolerance(tmp_path):
    reference = _run(tmp_path / "a")
    assert compare_runs(reference, _run(tmp_path / "b", _moved(5e-5, row=1))).agrees
    outside = compare_runs(reference, _run(tmp_path / "c", _moved(1e-3, row=1)))
    assert not outside.agrees
    assert "saliency" in "\n".join(outside.lines())


def test_counts_may_differ_by_one_image(tmp_path):
    reference = _run(tmp_path / "a")
    assert compare_runs(reference, _run(tmp_path / "b", _moved(n_shift=1))).agrees
    assert not compare_runs(reference, _run(tmp_path / "c", _moved(n_shift=2))).agrees
    strict = SummaryTolerance(n_slack=0)
    assert not compare_runs(
        reference, _run(tmp_path / "d", _moved(n_shift=1)), strict
    ).agrees


def test_a_missing_row_or_a_changed_verdict_disagrees(tmp_path):
    reference = _run(tmp_path / "a")
    missing = compare_runs(reference, _run(tmp_path / "b", ROWS[:1]))
    assert not missing.agrees and len(missing.missing) == 1
    changed = {**RESULTS, "verdicts": {"recovery": {"verdict": "not supported"}}}
    verdict = compare_runs(reference, _run(tmp_path / "c", results=changed))
    assert not verdict.agrees
    assert verdict.verdicts == {
        "/verdicts/recovery/verdict": ("supported", "not supported")
    }


def test_verdicts_are_found_anywhere_in_the_results():
    assert dict(verdicts_of(RESULTS)) == {
        "/verdicts/recovery/verdict": "supported",
        "/sanity[0]/verdict": "passes",
    }


def test_a_measure_undefined_in_both_runs_is_equal(tmp_path):
    rows = [*ROWS, ["adversarial", "fgsm", "random", "rho", "nan", "nan", "nan", 0]]
    comparison = compare_runs(_run(tmp_path / "a", rows), _run(tmp_path / "b", rows))
    assert comparison.identical
    defined = [*ROWS, ["adversarial", "fgsm", "random", "rho", 0.1, 0.0, 0.2, 0]]
    assert not compare_runs(
        _run(tmp_path / "c", rows), _run(tmp_path / "d", defined)
    ).agrees


def test_a_method_with_noise_drawn_on_the_device_may_move_by_a_half_width(tmp_path):
    reference = _run(tmp_path / "a")
    noisy = SummaryTolerance(noisy_methods=("enhanced_gbp",))
    assert compare_runs(reference, _run(tmp_path / "b", _moved(0.09)), noisy).agrees
    assert not compare_runs(reference, _run(tmp_path / "c", _moved(0.09))).agrees
    assert not compare_runs(reference, _run(tmp_path / "d", _moved(0.11)), noisy).agrees


def test_a_share_of_yes_no_outcomes_may_move_by_a_half_width(tmp_path):
    rows = [[*row[:3], "accuracy@0.01", *row[4:]] for row in ROWS]
    moved = [list(row) for row in rows]
    moved[0][4] += 0.09
    reference = _run(tmp_path / "a", rows)
    assert compare_runs(reference, _run(tmp_path / "b", moved)).agrees
    moved[0][4] += 0.02
    assert not compare_runs(reference, _run(tmp_path / "c", moved)).agrees


def test_the_plan_names_smoothgrad_as_noisy(tmp_path):
    from captum_contrastive.gpu_check.steps import _noisy_methods

    assert _noisy_methods() == ("smoothgrad",)
