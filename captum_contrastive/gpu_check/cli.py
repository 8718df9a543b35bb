"""``python benchmarks/gpu_check.py``: the GPU check, or its dry run on a CPU.

On a machine with CUDA it runs :func:`~captum_contrastive.gpu_check.steps.gpu_plan`
(about 6 minutes on one H200) and writes ``gpu_check.json`` and ``gpu_check.md``
beside the runs. ``--dry-run`` needs no GPU: it builds the same plan, checks
every benchmark command line with the benchmark's own option parser, collects
the CUDA-marked tests, and runs the speed step on a tiny model on the CPU,
judged as the GPU step is; CI runs it so the check cannot rot between GPUs.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from captum_contrastive.gpu_check.running import run_steps
from captum_contrastive.gpu_check.steps import (
    COMMAND,
    CUDA_TESTS,
    PYTHON,
    CheckStep,
    StepOutcome,
    gpu_plan,
    speed_lines,
)

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gpu_check.py",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=Path("results/gpu_check"))
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="on the CPU: check the plan's command lines and run the speed step "
        "on a tiny model; nothing runs on a GPU",
    )
    parser.add_argument(
        "--cpu-reference",
        type=Path,
        default=None,
        help="a finished CPU default run to compare with (default: run one)",
    )
    parser.add_argument("--cpu-threads", type=int, default=4)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.dry_run:
        return _dry_run(args.out)
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; --dry-run checks the plan on the CPU")
        return 2
    print(_environment_line(), flush=True)
    started = time.monotonic()
    weights, images, labels = _memory_data(args.out / "mobilenet_v2_data")
    steps = gpu_plan(
        args.out,
        "cuda",
        args.cpu_reference,
        (weights, images, labels),
        args.cpu_threads,
    )
    outcomes = run_steps(steps, args.out / "logs", _print_outcome)
    _write_records(args.out, outcomes, time.monotonic() - started)
    failed = [o.name for o in outcomes if not o.passed]
    print(f"\n{len(outcomes) - len(failed)} of {len(outcomes)} steps passed", end="")
    print(
        f" in {time.monotonic() - started:.0f} s"
        + (f"; failed: {failed}" if failed else "")
    )
    return 1 if failed else 0


def _environment_line() -> str:
    properties = torch.cuda.get_device_properties(0)
    return (
        f"torch {torch.__version__} (CUDA {torch.version.cuda}), "
        f"{properties.name}, {properties.total_memory / 2**30:.0f} GiB, "
        f"{torch.cuda.device_count()} visible, Python {platform.python_version()}"
    )


def _memory_data(folder: Path) -> tuple[Path, Path, Path]:
    from captum_contrastive.profiling.run_peak_memory import self_labelled_samples

    labels, weights = self_labelled_samples("mobilenet_v2", folder)
    return weights, folder / "images", labels


def _placeholder_memory_data(folder: Path) -> tuple[Path, Path, Path]:
    """Empty stand-ins for the 224x224 run's files: the dry run checks that run's
    options, which need the files to exist, and labelling the images would cost
    MobileNetV2's forward passes on the CPU."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for name in ("weights.pt", "labels.txt"):
        (folder / name).touch()
    return folder / "weights.pt", folder / "images", folder / "labels.txt"


def _print_outcome(outcome: StepOutcome) -> None:
    mark = "PASS" if outcome.passed else "FAIL"
    print(f"\n[{mark}] {outcome.name} ({outcome.seconds:.0f} s)", flush=True)
    for line in outcome.lines:
        print(f"    {line}", flush=True)


def _write_records(out: Path, outcomes: list[StepOutcome], seconds: float) -> None:
    record = {
        "environment": _environment_line(),
        "seconds": round(seconds, 1),
        "steps": [o.to_json() for o in outcomes],
    }
    (out / "gpu_check.json").write_text(json.dumps(record, indent=2))
    markdown = [f"# GPU check\n\n{record['environment']}; {seconds:.0f} s\n"]
    for outcome in outcomes:
        mark = "pass" if outcome.passed else "FAIL"
        markdown.append(f"## {outcome.name}: {mark} ({outcome.seconds:.0f} s)\n")
        markdown += [f"    {line}" for line in outcome.lines] + [""]
    (out / "gpu_check.md").write_text("\n".join(markdown))


def _dry_run(out: Path) -> int:
    """The plan on the CPU; returns 0 when every check of it holds."""
    steps = gpu_plan(out, "cuda", None, _placeholder_memory_data(out / "placeholders"))
    problems = [p for step in steps for p in _checked_options(step)]
    problems += _collected_cuda_tests()
    speed = _dry_speed(out / "speed_dry")
    print(
        "\n".join(f"plan: phase {s.phase}, {s.name}: {' '.join(s.argv)}" for s in steps)
    )
    print("\n".join(speed.lines))
    if not speed.passed:
        problems.append("the speed step on a tiny CPU model failed")
    for problem in problems:
        print(f"dry run: {problem}")
    print(f"dry run: {len(steps)} steps planned, {len(problems)} problems")
    return 1 if problems else 0


def _checked_options(step: CheckStep) -> list[str]:
    """A benchmark step's options, parsed and validated by the benchmark's own
    parser on the CPU (``--device cuda`` swapped for ``cpu``)."""
    if step.run_options is None:
        return []
    from captum_contrastive.pipeline.cli import build_parser as run_parser
    from captum_contrastive.pipeline.cli import config_from_args

    options = [("cpu" if o == "cuda" else o) for o in step.run_options]
    try:
        parser = run_parser("gpu check", "results/benchmark")
        config_from_args(parser.parse_args(options))
    except (SystemExit, TypeError, ValueError) as error:
        return [f"{step.name}: options {options} refused: {error}"]
    return []


def _collected_cuda_tests() -> list[str]:
    done = subprocess.run(
        [PYTHON, "-m", "pytest", "--collect-only", "-q", "-m", "cuda", *CUDA_TESTS],
        capture_output=True,
        text=True,
    )
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    print(f"dry run: {len(collected)} CUDA-marked tests collected")
    if done.returncode != 0 or len(collected) < 10:
        return [f"CUDA-marked tests not collected: {done.stdout[-500:]}{done.stderr}"]
    return []


def _dry_speed(folder: Path) -> StepOutcome:
    argv = [*COMMAND, "speed", "--device", "cpu", "--models", "tiny", "--quick"]
    argv += ["--variants", "egbp,captum_gbp_x2,floor", "--repeats", "1"]
    argv += ["--min-sample-time", "0", "--memory", "off", "--out", str(folder)]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True)
    records = sorted(folder.glob("speed-*.json"))
    if done.returncode != 0 or not records:
        lines = [done.stdout[-500:], done.stderr[-1000:]]
        return StepOutcome("speed (dry)", False, time.monotonic() - started, lines)
    lines = speed_lines(json.loads(records[-1].read_text()))
    return StepOutcome("speed (dry)", True, time.monotonic() - started, lines)


if __name__ == "__main__":
    sys.exit(main())
