"""The sanity unit records what each method and step cost and reports it."""

import json
from dataclasses import replace

import pytest

from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.report import write_outputs
from captum_contrastive.pipeline.runner import run_benchmark
from captum_contrastive.pipeline.units.sanity import (
    CPU_ROW,
    LOAD_ROW,
    PREEMPTION_ROW,
    cost_table,
)
from captum_contrastive.studies.sanity import (
    FIXED_CONTRAST_SUFFIX,
    MODELS_COST,
    SIMILARITY_COST,
    TRAINED,
)
from tests.fake_preset import fake_preset

METHODS = ("enhanced_gbp", "saliency")
SMALL = dict(
    n_images=3,
    methods=METHODS,
    studies=("sanity",),
    sanity_images=3,
    sanity_depth=1,
    sanity_independent_layers=2,
    n_resamples=20,
    progress=False,
    shard_size=3,
)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("sanity_cost")
    run = run_benchmark(BenchmarkConfig(out=out, **SMALL), fake_preset())
    write_outputs(run)
    return run, out


def test_results_hold_seconds_per_method_and_randomised_layer(written) -> None:
    _, out = written
    sanity = json.loads((out / "results.json").read_text())["sanity"]
    cost = sanity["cost"]
    assert cost["unit"] == "seconds" and cost["images"] == 3
    layers = list(sanity["independent"]["steps"])
    top = sanity["cascading"]["layers"][0]
    assert layers[0] == top
    # The independent test of the top layer is the cascade's @1: reused.
    assert cost["reused"] == {f"independent@{top}": "cascading@1"}
    columns = [TRAINED, "cascading@1", "cascading@all", "random_logit"]
    columns += [f"independent@{layer}" for layer in layers]
    assert list(cost["seconds"]) == columns
    assert cost["seconds"][f"independent@{top}"] == {}
    for column in columns[:4] + columns[5:]:
        entries = cost["seconds"][column]
        assert set(METHODS) | {SIMILARITY_COST, MODELS_COST} <= set(entries)
        assert all(isinstance(v, float) and v >= 0 for v in entries.values())
    assert cost["seconds"]["cascading@1"]["saliency"] > 0


def test_report_has_the_cost_table(written) -> None:
    run, out = written
    report = (out / "report.md").read_text()
    section = report[report.index("Cost of the sanity checks") :]
    lines = section.splitlines()
    header = next(line for line in lines if line.startswith("| entry"))
    assert "cascading@1" in header and "random_logit" in header
    assert header.rstrip().endswith("| total |")
    rows = {line.split(" | ")[0].strip("| "): line for line in lines if "|" in line}
    for entry in (*METHODS, "enhanced_gbp" + FIXED_CONTRAST_SUFFIX):
        assert entry in rows
    assert "reused" in rows["saliency"] and "total" in rows
    summary = run.results["sanity"].summary
    seconds = summary.cost.seconds
    total = sum(sum(column.values()) for column in seconds.values())
    assert rows["total"].rstrip(" |").endswith(f"{total:.2f}")
    # The CPU seconds and the load average of each column close the table.
    cpu = summary.cost.cpu_seconds
    cpu_total = sum(sum(column.values()) for column in cpu.values())
    assert rows[CPU_ROW].rstrip(" |").endswith(f"{cpu_total:.2f}")
    load = summary.cost.load_average[TRAINED]
    assert rows[LOAD_ROW].split(" | ")[1] == ("" if load is None else f"{load:.1f}")
    assert "load average when the column started" in section
    switches = summary.cost.preemptions[TRAINED]
    wall = sum(seconds[TRAINED].values())
    expected = "" if switches is None else f"{switches / wall:.0f}"
    assert rows[PREEMPTION_ROW].split(" | ")[1] == expected


def test_cost_table_is_empty_without_costs(written) -> None:
    run, _ = written
    summary = run.results["sanity"].summary
    assert cost_table(summary).startswith("\nCost of the sanity checks")
    # A result from before the CPU seconds were recorded: wall seconds only.
    older = replace(summary.cost, cpu_seconds=None, load_average=None, preemptions=None)
    table = cost_table(replace(summary, cost=older))
    assert "| total |" in table and CPU_ROW not in table and LOAD_ROW not in table
    assert PREEMPTION_ROW not in table
    assert cost_table(replace(summary, cost=None)) == ""
