import csv
import json
import re

import pytest
import torch

from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.report import write_outputs
from captum_contrastive.pipeline.runner import run_benchmark
from captum_contrastive.pipeline.units import road as road_unit
from captum_contrastive.pipeline.units import sanity as sanity_unit
from captum_contrastive.pipeline.units.base import StudyResult
from captum_contrastive.pipeline.units.road import random_maps
from captum_contrastive.pipeline.units.sanity import evenly_spaced_layers
from captum_contrastive.typed_json import from_json, to_json
from tests.fake_preset import fake_preset

SMALL = dict(
    n_images=4,
    methods=("enhanced_gbp", "saliency", "guided_backprop"),
    studies=("sanity", "road"),
    sanity_images=4,
    sanity_depth=1,
    sanity_independent_layers=2,
    road_images=4,
    road_fractions=(0.25, 0.75),
    n_resamples=50,
    progress=False,
    shard_size=2,
)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("sanity_road")
    run = run_benchmark(BenchmarkConfig(out=out, **SMALL), fake_preset())
    write_outputs(run)
    return run, out


def _rows(out) -> list[dict]:
    with open(out / "summary.csv") as handle:
        return list(csv.DictReader(handle))


def test_sanity_rows_follow_the_public_names(written) -> None:
    _, out = written
    rows = [r for r in _rows(out) if r["study"] == "sanity"]
    measures = {(r["method"], r["measure"]) for r in rows}
    for measure in ("spearman", "ssim", "iou"):
        for step in ("1", "all", "mean"):
            assert ("guided_backprop", f"cascading_{measure}@{step}") in measures
        assert ("saliency", f"random_logit_{measure}") in measures
        assert ("saliency", f"independent_{measure}@1.head") in measures
    assert ("enhanced_gbp (fixed contrast)", "cascading_spearman@1") in measures
    assert ("runner-up class", "runner_up_changed@all") in measures
    for row in rows:
        assert int(row["n"]) == 4


def test_sanity_section_prints_the_rule_and_a_verdict_per_method(written) -> None:
    _, out = written
    report = (out / "report.md").read_text()
    assert "## Sanity checks" in report
    verdicts = report.split("## Verdicts on the paper's claims\n", 1)[1]
    assert verdicts.startswith("\nNone of the chosen studies evaluates a claim")
    assert "Data randomisation (Adebayo et al., 2018): not run" in report
    assert "passes if the 95% CI of cascading_spearman_abs@mean lies below 0.5" in (
        report
    )
    results = json.loads((out / "results.json").read_text())
    verdicts = results["sanity"]["verdicts"]
    assert set(verdicts) == {
        "enhanced_gbp",
        "enhanced_gbp (fixed contrast)",
        "saliency",
        "guided_backprop",
    }
    assert verdicts["guided_backprop"]["control"]
    for verdict in verdicts.values():
        assert verdict["verdict"] in {"passes", "fails", "inconclusive"}
        assert verdict["verdict"] in report
    assert results["sanity"]["settings"]["depth"] == 1
    assert list(results["sanity"]["cascading"]["steps"]) == ["1", "all"]
    assert (out / "sanity_cascading.png").exists()
    assert (out / "sanity_examples.pdf").exists()


def test_road_rows_name_morf_and_lerf_with_a_random_baseline(written) -> None:
    _, out = written
    rows = [r for r in _rows(out) if r["study"] == "road"]
    measures = {(r["method"], r["measure"]) for r in rows}
    for method in ("enhanced_gbp", "saliency", "guided_backprop", "random"):
        assert (method, "morf_auc") in measures
        assert (method, "lerf_auc") in measures
        assert (method, "lerf_minus_morf_auc") in measures
        assert (method, "morf_accuracy@0.25") in measures
    for row in rows:
        low, high = float(row["ci_low"]), float(row["ci_high"])
        assert low <= float(row["mean"]) <= high
    report = (out / "report.md").read_text()
    assert "## ROAD" in report and "gap LeRF − MoRF" in report
    assert (out / "road_curves.png").exists() and (out / "road_gap.pdf").exists()


def test_rerun_reuses_both_studies_and_a_new_depth_recomputes(written, monkeypatch):
    run, out = written

    def refuse(*args, **kwargs):
        raise AssertionError("recomputed a cached study")

    monkeypatch.setattr(sanity_unit, "cascading_randomization", refuse)
    monkeypatch.setattr(road_unit, "road_curves", refuse)
    again = run_benchmark(run.config, fake_preset())
    assert again.results["sanity"].summary == run.results["sanity"].summary
    assert again.results["road"].summary == run.results["road"].summary
    monkeypatch.undo()
    deeper = run_benchmark(run.config.replace(sanity_depth=None), fake_preset())
    steps = list(deeper.results["sanity"].summary.cascading.steps)
    assert steps[-1] == "all" and len(steps) > 2


def test_evenly_spaced_layers_keep_the_ends() -> None:
    names = ["fc", "c3", "c2", "c1", "c0"]
    assert evenly_spaced_layers(names, 3) == ["fc", "c2", "c0"]
    assert evenly_spaced_layers(names, 1) == ["fc"]
    assert evenly_spaced_layers(names, 9) == names
    assert evenly_spaced_layers(names, 0) == []


def test_random_road_maps_depend_on_the_image_not_the_batch() -> None:
    together = random_maps((3, 4, 4), [7, 2], seed=5)
    alone = random_maps((3, 4, 4), [2], seed=5)
    assert torch.equal(together[1], alone[0])
    assert not torch.equal(together[0], together[1])
    assert not torch.equal(random_maps((3, 4, 4), [2], seed=6), alone)


@pytest.mark.parametrize(
    "change",
    [
        dict(sanity_images=1),
        dict(sanity_depth=0),
        dict(road_images=0),
        dict(road_fractions=(0.5, 0.2)),
        dict(sanity_independent_layers=-1),
    ],
)
def test_study_sizes_are_checked(change) -> None:
    with pytest.raises(ValueError, match=next(iter(change))):
        BenchmarkConfig(**change)


def test_the_terminal_summary_has_the_sanity_verdict_and_road_gap(written) -> None:
    from captum_contrastive.pipeline.report import study_columns, terminal_summary

    run, out = written
    results = json.loads((out / "results.json").read_text())
    methods = results["run"]["methods"]
    lines = terminal_summary(methods, study_columns(run), []).splitlines()
    assert lines[0].split()[-3:] == ["sanity", "ROAD", "gap"]
    verdict = results["sanity"]["verdicts"]["guided_backprop"]["verdict"]
    row = next(line for line in lines if line.startswith("guided_backprop"))
    assert verdict in row


def _terminal_columns(text: str) -> dict[str, dict[str, str]]:
    """The terminal table's columns: header -> method -> cell."""
    lines = [re.split(r"\s{2,}", line.strip()) for line in text.splitlines()]
    header, rows = lines[0], [r for r in lines[1:] if len(r) == len(lines[0])]
    return {h: {row[0]: row[i] for row in rows} for i, h in enumerate(header)}


def test_typed_summaries_write_results_json_and_read_back_equal(written) -> None:
    run, out = written
    results = json.loads((out / "results.json").read_text())
    for unit in run.units:
        summary = run.results[unit.name].summary
        assert isinstance(summary, unit.summary_type)
        assert json.dumps(to_json(summary)) == json.dumps(results[unit.name])
        assert from_json(unit.summary_type, to_json(summary)) == summary


def test_terminal_columns_and_protocols_are_what_the_report_showed(written) -> None:
    """The columns and protocols the units declare hold what ``results.json``
    says (the sanity verdict, the ROAD gap, each test's protocol), and the
    report's terminal table and protocol block show them."""
    from captum_contrastive.pipeline.report import (
        _protocol,
        study_columns,
        terminal_summary,
    )

    run, out = written
    results = json.loads((out / "results.json").read_text())
    methods = [*results["run"]["methods"], "random"]
    expected_cells = {
        "sanity": {
            m: v["verdict"]
            for m, v in results["sanity"]["verdicts"].items()
            if m in results["run"]["methods"]
        },
        "ROAD gap": {
            m: f"{v['gap']['mean_diff']:+.3f}"
            for m, v in results["road"]["methods"].items()
        },
    }
    expected_protocols = {
        "sanity": {
            test: results["sanity"][test]["protocol"]
            for test in ("cascading", "independent", "random_logit")
            if test in results["sanity"]
        },
        "road": results["road"]["protocol"],
    }
    table = terminal_summary(methods[:-1], study_columns(run), [])
    shown = _terminal_columns(table)
    block = _protocol(run, results).split("\n", 1)[1].rsplit("```", 1)[0]
    protocols = json.loads(block)
    for unit in run.units:
        result = run.results[unit.name]
        columns = unit.terminal_columns(result)
        assert list(columns) == [{"sanity": "sanity", "road": "ROAD gap"}[unit.name]]
        for header, cells in columns.items():
            assert cells == expected_cells[header]
            assert {m: cells.get(m, "n/a") for m in methods} == shown[header]
        protocol = json.loads(json.dumps(unit.protocol(result)))
        assert protocol == expected_protocols[unit.name] == protocols[unit.name]
        assert protocol
        # A study with nothing evaluated: no column, no figure, and an empty
        # protocol ({} for sanity's tests, None for ROAD).
        nothing = StudyResult(unit.name, "", {})
        assert unit.terminal_columns(nothing) == {} and unit.figures(nothing, out) == {}
        assert unit.protocol(nothing) == {"sanity": {}, "road": None}[unit.name]
