"""Wall time of one benchmark run in one process against the same run split
over ``torchrun`` ranks, interleaved and repeated.

Each run starts from an empty output folder (nothing cached) in a child
process, with one torch thread per process and one attack thread, so the
comparison is "1 rank x 1 thread" against "N ranks x 1 thread". The split
run's per-rank busy seconds come from its ``results.json`` (``rank_timings``).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SplitTiming", "time_split_runs"]


@dataclass
class SplitTiming:
    """One timed run.

    Attributes:
        ranks: processes (1: no torchrun).
        repeat: which repetition.
        wall_s: seconds from launch to exit.
        returncode: the command's exit status.
        rank_timings: per rank, its units and busy seconds (split runs).
        summary_csv: the run's ``summary.csv`` text.
    """

    ranks: int
    repeat: int
    wall_s: float
    returncode: int
    rank_timings: list[dict[str, Any]] = field(default_factory=list)
    summary_csv: str = ""


def _command(ranks: int, script: Path, options: list[str]) -> list[str]:
    single = ["--threads", "1", "--attack-workers", "1", "--no-progress"]
    if ranks == 1:
        return [sys.executable, str(script), *options, *single]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    return [*launcher, f"--nproc_per_node={ranks}", str(script), *options, *single]


def _timed(ranks: int, repeat: int, script: Path, options: list[str], out: Path):
    shutil.rmtree(out, ignore_errors=True)
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = _command(ranks, script, [*options, "--out", str(out)])
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=environment)
    wall = time.perf_counter() - start
    timing = SplitTiming(ranks, repeat, wall, done.returncode)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-3000:])
        return timing
    results = json.loads((out / "results.json").read_text())
    timing.rank_timings = results.get("rank_timings", [])
    timing.summary_csv = (out / "summary.csv").read_text()
    return timing


def time_split_runs(
    script: Path,
    options: list[str],
    out: Path,
    ranks: tuple[int, ...] = (1, 2),
    repeats: int = 2,
) -> dict[str, Any]:
    """Time ``script`` (``benchmarks/run_all.py``) with ``options`` at each rank
    count, interleaved (1, 2, 1, 2, ...), ``repeats`` times each.

    Returns:
        ``{"runs": [...], "median_wall_s": {ranks: s}, "speedup": {ranks: x},
        "same_summary": bool}``; the speed-up is the median wall time of one
        process over that of the split run.
    """
    runs = []
    for repeat in range(repeats):
        for count in ranks:
            runs.append(_timed(count, repeat, script, options, out / f"r{count}"))
            print(f"ranks={count} repeat={repeat}: {runs[-1].wall_s:.1f} s", flush=True)
    medians = {
        count: statistics.median(r.wall_s for r in runs if r.ranks == count)
        for count in ranks
    }
    summaries = {r.summary_csv for r in runs if r.returncode == 0}
    return {
        "runs": [asdict(r) | {"summary_csv": None} for r in runs],
        "median_wall_s": medians,
        "speedup": {count: medians[ranks[0]] / medians[count] for count in ranks},
        "same_summary": len(summaries) == 1 and all(r.returncode == 0 for r in runs),
    }
