"""``benchmarks/gpu_check.py --dry-run`` on the CPU: the plan's benchmark command
lines parse, the CUDA tests are collected, and the speed step runs on a tiny
model; a command line the benchmark refuses is reported."""

import subprocess
import sys
from pathlib import Path

from captum_contrastive.gpu_check.cli import _checked_options
from captum_contrastive.gpu_check.steps import CheckStep

ROOT = Path(__file__).resolve().parents[2]


def test_the_dry_run_checks_the_whole_plan(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--dry-run"]
        + ["--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "6 steps planned, 0 problems" in done.stdout
    assert "egbp / captum_gbp_x2:" in done.stdout
    assert "--batch 32 --size 224" in done.stdout


def test_a_refused_command_line_is_a_problem():
    step = CheckStep(
        "bad", [], 1, 1, lambda rc, out: (True, []), run_options=["--n-images", "0"]
    )
    problems = _checked_options(step)
    assert len(problems) == 1 and "n_images" in problems[0].replace("-", "_")
