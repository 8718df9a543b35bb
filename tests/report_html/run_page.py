"""A tiny run whose report.html the page tests read (6 images, 2 attack runs)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.report import write_outputs
from captum_contrastive.pipeline.runner import BenchmarkRun, run_benchmark
from tests.fake_preset import fake_preset
from tests.tiny_run_settings import TWO_ATTACK_RUNS

TINY = dict(TWO_ATTACK_RUNS, studies=("adversarial",), shard_size=3)


def tiny_run(out: Path) -> BenchmarkRun:
    """Run :data:`TINY` into ``out`` and write its outputs."""
    run = run_benchmark(BenchmarkConfig(out=out, **TINY), fake_preset())
    write_outputs(run)
    return run


def summary_rows(out: Path) -> list[dict[str, str]]:
    with open(out / "summary.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def results(out: Path) -> dict[str, Any]:
    return json.loads((out / "results.json").read_text())


def records(out: Path) -> dict[str, Any]:
    return json.loads((out / "records.json").read_text())
