"""A run with bim_calibrate_failure calibrates BIM's radius, caches it, keys the BIM
run by it and records it; a run without it is unchanged."""

import json

import pytest

import captum_contrastive.pipeline.bim_calibration as stage
from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.runner import run_benchmark
from tests.fake_preset import fake_preset

TINY = dict(
    n_images=6,
    methods=("saliency",),
    class_methods=("saliency",),
    reference_method="saliency",
    attacks=("bim",),
    studies=("adversarial",),
    control_runs=(),
    recovery_attacks=(),
    bim_epsilon=0.03,
    n_resamples=50,
    grid_images=1,
    progress=False,
    shard_size=4,
)


def _run(out, **changes):
    return run_benchmark(BenchmarkConfig(out=out, **{**TINY, **changes}), fake_preset())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("calibrated")
    return {
        "fixed": _run(out),
        "half": _run(out, bim_calibrate_failure=0.5, bim_calibration_images=6),
        "fifth": _run(out, bim_calibrate_failure=0.2, bim_calibration_images=6),
        "out": out,
    }


def test_the_calibrated_radius_is_recorded_and_used_by_the_bim_run(runs) -> None:
    run = runs["half"]
    recorded = run.data.bim_calibration.calibration
    epsilon = recorded.epsilon
    assert recorded.status == "hit" and recorded.reached is True
    assert recorded.failure_share == 0.5 and recorded.n_images == 6
    assert recorded.target_failure == 0.5
    assert recorded.trace[-1].epsilon == epsilon
    assert run.data.bim_calibration.key.digest == run.keys["calibrate bim"]["digest"]
    batch = run.data.attacks["bim"].batch
    assert batch.params["epsilon"] == epsilon != 0.03
    assert run.keys["attack bim"]["attack"]["epsilon"] == epsilon
    # the subset is the whole selection here: the run fails as calibrated
    assert int((~batch.success).sum()) == 3


def test_the_calibration_key_holds_what_the_radius_depends_on(runs) -> None:
    key = runs["half"].keys["calibrate bim"]
    assert key["stage"] == "calibrate"
    assert key["model"] == runs["half"].data.context.model_key
    assert key["data"] == runs["half"].data.context.data_key
    assert key["selection"] == runs["half"].data.selection.key.digest
    assert key["n"] == 6 and key["search"]["target_failure"] == 0.5
    assert key["attack"]["steps"] == 10 and "epsilon" not in key["attack"]
    assert key["attack"]["code"]


def test_another_target_gives_other_keys_and_another_radius(runs) -> None:
    half, fifth = runs["half"], runs["fifth"]
    assert fifth.data.bim_calibration.calibration.failure_share == pytest.approx(1 / 6)
    assert fifth.keys["calibrate bim"]["digest"] != half.keys["calibrate bim"]["digest"]
    eps = [r.data.bim_calibration.calibration.epsilon for r in (half, fifth)]
    assert eps[0] < eps[1]
    assert fifth.keys["attack bim"]["digest"] != half.keys["attack bim"]["digest"]


def test_a_fixed_radius_run_is_unchanged(runs, tmp_path) -> None:
    fixed = runs["fixed"]
    assert "calibrate bim" not in fixed.keys
    assert fixed.data.bim_calibration is None
    assert fixed.keys["attack bim"]["attack"]["epsilon"] == 0.03
    assert fixed.data.attacks["bim"].batch.params["epsilon"] == 0.03
    # calibration settings without a target change nothing
    other = _run(tmp_path, bim_calibration_images=3, bim_calibration_bounds=(0.1, 0.2))
    assert other.keys["attack bim"] == fixed.keys["attack bim"]
    assert "calibrate bim" not in other.keys


def test_a_rerun_reads_the_calibration_from_the_cache(runs, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the calibration must come from the cache")

    monkeypatch.setattr(stage, "calibrate_epsilon", refuse)
    again = _run(runs["out"], bim_calibrate_failure=0.5, bim_calibration_images=6)
    half = runs["half"]
    assert again.data.bim_calibration == half.data.bim_calibration
    assert again.keys["attack bim"] == half.keys["attack bim"]


def test_report_and_results_show_the_calibration(runs, tmp_path) -> None:
    from captum_contrastive.pipeline.report import write_outputs

    run = runs["half"]
    run.config = run.config.replace(out=tmp_path)
    write_outputs(run)
    recorded = run.data.bim_calibration
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["run"]["bim_calibration"] == recorded.to_json()
    report = (tmp_path / "report.md").read_text()
    assert "### BIM radius calibration" in report
    assert f"ε = {recorded.calibration.epsilon:.5f}" in report and "3/6 (50%)" in report
    assert "calibrated on the first 6 evaluated images" in report
    fixed = runs["fixed"]
    fixed.config = fixed.config.replace(out=tmp_path / "fixed")
    write_outputs(fixed)
    assert "BIM radius calibration" not in (tmp_path / "fixed/report.md").read_text()
