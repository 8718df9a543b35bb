import json

import pytest
import torch

from captum_contrastive.methods import METHODS, compute_maps
from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.report import (
    SCHEMA_VERSION,
    SUMMARY_COLUMNS,
    write_outputs,
)
from captum_contrastive.pipeline.runner import run_benchmark
from captum_contrastive.studies.recovery import ORACLE
from tests.fake_preset import fake_preset
from tests.tiny_models import images, small_cnn
from tests.tiny_run_settings import TWO_ATTACK_RUNS

FAST = dict(
    TWO_ATTACK_RUNS,
    studies=("recovery", "adversarial", "class", "localization"),
    n_multi_images=4,
    shard_size=4,
)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = BenchmarkConfig(out=out, **FAST)
    run = run_benchmark(config, fake_preset(), fake_preset(multi=True))
    return run, write_outputs(run), out


def test_run_writes_every_output(written) -> None:
    _, paths, out = written
    for name in ("report", "results", "records", "csv", "maps grid"):
        assert paths[name].exists()
    assert (out / "maps_grid.pdf").exists() and (out / "recovery_cw-k0.pdf").exists()
    results = json.loads((out / "results.json").read_text())
    assert results["schema_version"] == SCHEMA_VERSION
    assert results["run"]["versions"]["torch"] == torch.__version__
    assert results["run"]["config"]["n_images"] == 6
    assert set(results["verdicts"]) == {
        "filtering_effect",
        "recovery",
        "adversarial_change",
    }
    for verdict in results["verdicts"].values():
        assert verdict["verdict"] in {"holds", "does not hold", "inconclusive"}
    assert {"select", "attack cw-k0", "attack bim", "study recovery"} <= set(
        results["stage_keys"]
    )
    checks = results["baseline_checks"]
    assert [c["method"] for c in checks] == ["guided_backprop"]
    assert checks[0]["degenerate"] is False
    recovery = results["recovery"]["cw-k0"]
    assert ORACLE in recovery["methods"]
    assert ORACLE not in {row["method"] for row in recovery["comparisons"]}
    for row in results["verdicts"]["recovery"]["per_run"].values():
        assert not row["best"].startswith(ORACLE)
    report = (out / "report.md").read_text()
    assert "## Verdicts on the paper's claims" in report
    assert "## Baseline checks" in report
    assert "random" in report and "κ=0" in report
    header = (out / "summary.csv").read_text().splitlines()[0]
    assert header == ",".join(SUMMARY_COLUMNS)


def test_rerun_resumes_from_cache(written) -> None:
    run, _, out = written
    again = run_benchmark(
        BenchmarkConfig(out=out, **FAST), fake_preset(), fake_preset(multi=True)
    )
    assert sum(v for k, v in again.timings.items() if k.startswith("attack")) < 1.0
    for name, result in run.results.items():
        assert json.dumps(again.results[name].to_json()) == json.dumps(result.to_json())


def test_run_without_the_reference_method_explains_the_missing_claims(
    tmp_path,
) -> None:
    config = BenchmarkConfig(
        out=tmp_path, **{**FAST, "methods": ("saliency", "guided_backprop")}
    )
    run = run_benchmark(config, fake_preset(), fake_preset(multi=True))
    write_outputs(run)
    results = json.loads((tmp_path / "results.json").read_text())
    for claim in ("recovery", "adversarial_change"):
        verdict = results["verdicts"][claim]
        assert verdict["verdict"] == "not evaluated"
        assert "enhanced_gbp" in verdict["why"]
    assert results["verdicts"]["filtering_effect"]["verdict"] != "not evaluated"
    report = (tmp_path / "report.md").read_text()
    assert "not evaluated.** Why: the reference method 'enhanced_gbp'" in report
    assert "enhanced_gbp" not in results["recovery"]["cw-k0"]["methods"]


def test_sharded_maps_equal_single_run() -> None:
    model, x = small_cnn(), images(6)
    targets, indices = [0, 1, 2, 3, 4, 0], [10, 11, 12, 13, 14, 15]
    for name in ("smoothgrad", "enhanced_gbp"):
        spec = METHODS[name]
        whole = compute_maps(spec, model, x, targets, indices, seed=3)
        parts = torch.cat(
            [
                compute_maps(spec, model, x[3:], targets[3:], indices[3:], seed=3),
                compute_maps(spec, model, x[:3], targets[:3], indices[:3], seed=3),
            ]
        )
        torch.testing.assert_close(torch.cat([parts[3:], parts[:3]]), whole)


def test_class_independent_method_gives_class_only_rho_and_iou_of_one() -> None:
    from captum_contrastive.attacks.batch import AdversarialBatch
    from captum_contrastive.studies.adversarial import adversarial_discriminativity

    clean, adversarial = images(4, seed=1), images(4, seed=2)
    n = 4
    batch = AdversarialBatch(
        attack="cw",
        clean=clean,
        adversarial=adversarial,
        labels=torch.zeros(n, dtype=torch.long),
        clean_predictions=torch.zeros(n, dtype=torch.long),
        adversarial_predictions=torch.ones(n, dtype=torch.long),
        success=torch.ones(n, dtype=torch.bool),
        l2=torch.ones(n),
        linf=torch.ones(n),
        indices=torch.arange(n),
    )

    def class_blind(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return x * x.mean(dim=1, keepdim=True)

    maps = {
        "class_blind": {
            "clean": class_blind(clean, batch.clean_predictions),
            "adversarial": class_blind(adversarial, batch.adversarial_predictions),
            "clean_for_adversarial_class": class_blind(
                clean, batch.adversarial_predictions
            ),
        }
    }
    result = adversarial_discriminativity(batch, maps, n_resamples=100)
    class_only = result["methods"]["class_blind"]["class_only"]["adv_s"]
    assert class_only["spearman"]["mean"] == 1.0
    assert class_only["iou"]["mean"] == 1.0
    assert result["methods"]["class_blind"]["main"]["adv_s"]["spearman"]["mean"] < 1


def test_an_extra_registered_attack_gets_every_study(tmp_path) -> None:
    changes = {
        "attacks": ("bim",),
        "extra_attacks": ("pgd_l2:epsilon=1.0,steps=10,rel_stepsize=0.2",),
        "recovery_attacks": ("pgd_l2",),
        "control_runs": ("pgd_l2",),
        "failure_run": "bim",
    }
    config = BenchmarkConfig(out=tmp_path, **{**FAST, **changes})
    run = run_benchmark(config, fake_preset(), fake_preset(multi=True))
    write_outputs(run)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["attacks"]["pgd_l2"]["params"]["epsilon"] == 1.0
    assert "pgd_l2" in results["recovery"]
    assert "class_only" in results["adversarial"]["pgd_l2"]["methods"]["saliency"]


def test_outputs_of_an_earlier_run_do_not_linger(tmp_path) -> None:
    config = BenchmarkConfig(out=tmp_path, **FAST)
    write_outputs(run_benchmark(config, fake_preset(), fake_preset(multi=True)))
    assert (tmp_path / "recovery_bim.png").exists() is False
    assert (tmp_path / "adversarial_decomposition_bim.png").exists()
    fewer = config.replace(attacks=("cw",), failure_run=None)
    write_outputs(run_benchmark(fewer, fake_preset(), fake_preset(multi=True)))
    assert not (tmp_path / "adversarial_decomposition_bim.png").exists()
    assert not (tmp_path / "adversarial_decomposition_bim.pdf").exists()
    assert (tmp_path / "adversarial_decomposition_cw-k0.png").exists()
    listed = json.loads((tmp_path / "outputs.json").read_text())["files"]
    assert "report.md" in listed and "adversarial_decomposition_bim.png" not in listed


def test_report_tables_escape_pipes_in_names(written) -> None:
    _, _, out = written
    rows = [
        line
        for line in (out / "report.md").read_text().splitlines()
        if line.startswith("| ")
    ]
    assert any("guided_backprop \\|abs\\|" in row for row in rows)
    assert not any("guided_backprop |abs|" in row for row in rows)
