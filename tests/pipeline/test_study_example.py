"""The documentation's worked study example runs as a study of a real run: its
section in report.md, its rows in summary.csv, its typed summary read back from
the cache; and the runner's preparation hook."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.report import write_outputs
from captum_contrastive.pipeline.runner import run_benchmark
from captum_contrastive.pipeline.study_registry import register_unit
from captum_contrastive.pipeline.units import MapRequest
from captum_contrastive.row_chunks import loaded
from tests.fake_preset import fake_preset
from tests.pipeline.study_example import load_example

METHODS = ("enhanced_gbp", "saliency")
TINY = dict(
    n_images=4,
    methods=METHODS,
    attacks=("fgsm",),  # no study of these runs needs an attack: none is made
    n_resamples=50,
    grid_images=0,
    progress=False,
    shard_size=4,
)


@pytest.fixture(scope="module")
def example():
    with load_example() as module:
        yield module


def test_map_entropy_is_one_for_uniform_and_zero_for_one_pixel(example) -> None:
    maps = torch.zeros(3, 3, 4, 4)
    maps[0] = -2.0
    maps[1, 1, 2, 3] = 5.0
    found = example.map_entropy(maps)
    assert found[0].item() == pytest.approx(1.0)
    assert found[1].item() == pytest.approx(0.0)
    assert math.isnan(found[2].item())
    half = torch.zeros(1, 1, 2, 2)
    half[0, 0, 0] = 1.0  # two of four pixels: log 2 / log 4
    assert example.map_entropy(half).item() == pytest.approx(0.5)


def test_the_example_study_runs_and_reports(example, tmp_path) -> None:
    config = BenchmarkConfig(out=tmp_path, studies=("map-entropy",), **TINY)
    run = run_benchmark(config, fake_preset())
    write_outputs(run)
    summary = run.results["map_entropy"].summary
    assert isinstance(summary, example.MapEntropySummary) and summary.n_images == 4
    for method in METHODS:
        maps = loaded(run.data.maps[MapRequest(method, "clean")])
        expected = example.map_entropy(maps).mean().item()
        assert summary.methods[method].mean == pytest.approx(expected)
    with (tmp_path / "summary.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert [(r["study"], r["method"], r["measure"], r["n"]) for r in rows] == [
        ("map_entropy", m, example.MEASURE, "4") for m in METHODS
    ]
    mean = float(rows[1]["mean"])
    assert mean == pytest.approx(summary.methods["saliency"].mean)
    report = (tmp_path / "report.md").read_text()
    assert "## Map entropy of the clean maps" in report
    assert f"| saliency | {mean:.3f} [" in report
    assert "Map entropy</h3>" in (tmp_path / "report.html").read_text()
    (unit,) = run.units
    column = unit.terminal_columns(run.results["map_entropy"])["entropy"]
    assert column["saliency"] == f"{summary.methods['saliency'].mean:.3f}"
    again = run_benchmark(config, fake_preset())
    assert again.results["map_entropy"] == run.results["map_entropy"]


def test_every_unit_is_prepared_and_its_extra_enters_its_key(example, tmp_path) -> None:
    """The runner calls each unit's prepare hook, naming no study; what the unit
    prepared is part of its stage key."""

    class Prepared(example.MapEntropyUnit):
        name = "prepared_entropy"
        command = None
        seen: list = []

        def prepare(self, data, preset) -> None:
            self.seen.append((len(data.selection.indices), preset))
            self.extra = preset.name if preset is not None else None

        def stage_key_extra(self):
            return self.extra

    register_unit(Prepared)
    try:
        config = BenchmarkConfig(out=tmp_path, studies=("prepared_entropy",), **TINY)
        first = run_benchmark(config, fake_preset())
        other = fake_preset()
        other.name = "other data"
        second = run_benchmark(config, fake_preset(), other)
    finally:
        from captum_contrastive.pipeline.study_registry import UNITS

        UNITS.pop("prepared_entropy")
    assert Prepared.seen == [(4, None), (4, other)]
    assert first.keys["study prepared_entropy"] != second.keys["study prepared_entropy"]
