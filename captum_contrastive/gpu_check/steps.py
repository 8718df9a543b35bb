"""The GPU check's steps: each one command line, a time limit and a judgement.

:func:`gpu_plan` lists them; :mod:`~captum_contrastive.gpu_check.running`
launches them and each step's ``judge`` reads what its command left behind.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from captum_contrastive.gpu_check.summary_comparison import (
    SummaryTolerance,
    compare_runs,
)

__all__ = ["CheckStep", "StepOutcome", "gpu_plan"]

PYTHON = sys.executable
#: The benchmark's command, as a user types it (``captum-contrastive ...``).
COMMAND = [PYTHON, "-m", "captum_contrastive"]
#: ``torchrun --standalone --nproc_per_node=2``, as a module of the interpreter.
TORCHRUN = [PYTHON, "-m", "torch.distributed.run", "--standalone"]
#: The test files that hold the CUDA-marked tests.
CUDA_TESTS = [
    "tests/attr/test_cuda.py",
    "tests/attacks/test_cuda_attacks.py",
    "tests/pipeline/test_scale_out.py",
    "tests/test_methods_on_cuda.py",
]
#: The 224x224 run whose peak CUDA memory is measured: MobileNetV2 with random
#: weights, the Foolbox ImageNet samples labelled by it, FGSM, the two studies
#: of every attacked image (with the sanity and ROAD studies too, it did not end
#: within 330 s on an H200 on 2026-12-04).
MEMORY_RUN_OPTIONS = [
    "--attacks",
    "fgsm",
    "--studies",
    "adversarial,recovery",
    "--n-images",
    "16",
]


@dataclass
class StepOutcome:
    """What a step found: passed or not, its wall time and the lines to read."""

    name: str
    passed: bool
    seconds: float
    lines: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "seconds": round(self.seconds, 1),
            "lines": self.lines,
        }


Judge = Callable[[int, str], tuple[bool, list[str]]]


@dataclass(frozen=True)
class CheckStep:
    """One step: a command, its environment, its time limit, and how its
    result is judged from its exit status and output (``judge``).

    Attributes:
        name: the step's name in the report.
        argv: the command line.
        timeout_s: seconds before it is stopped and failed.
        phase: steps of a phase run at once; phases run in order.
        threads: ``OMP_NUM_THREADS`` of the command.
        cuda_visible: ``CUDA_VISIBLE_DEVICES``, or ``None`` to inherit it.
        judge: ``(returncode, output) -> (passed, lines)``; called after every
            step of the phase has ended.
        run_options: for a benchmark run, its options (checked by the dry run).
    """

    name: str
    argv: list[str]
    timeout_s: float
    phase: int
    judge: Judge
    threads: int = 2
    cuda_visible: str | None = None
    run_options: list[str] | None = None


def _run_options(out: Path, device: str, extra: list[str] | None = None) -> list[str]:
    return ["--out", str(out), "--no-progress", "--device", device, *(extra or [])]


def _exit_lines(returncode: int, output: str) -> list[str]:
    if returncode == 0:
        return []
    tail = [line for line in output.strip().splitlines() if line.strip()][-8:]
    return [f"exit status {returncode}", *tail]


def _judge_tests(returncode: int, output: str) -> tuple[bool, list[str]]:
    lines_out = output.splitlines()
    summary = [line for line in lines_out if " in " in line and "passed" in line]
    skipped = [line for line in lines_out if line.startswith("SKIPPED")]
    lines = summary[-1:] + skipped + _exit_lines(returncode, output)
    return returncode == 0 and bool(summary), lines


def _judge_speed(folder: Path) -> Judge:
    def judge(returncode: int, output: str) -> tuple[bool, list[str]]:
        records = sorted(folder.glob("speed-*.json"))
        if returncode != 0 or not records:
            return False, _exit_lines(returncode, output) or ["no speed record"]
        return True, speed_lines(json.loads(records[-1].read_text()))

    return judge


def speed_lines(record: dict[str, Any]) -> list[str]:
    """The ratios of a ``speed`` record, each with its target where it has one."""
    lines = []
    for model, result in record["models"].items():
        if "skipped" in result:
            lines.append(f"{model}: skipped ({result['skipped']})")
            continue
        settings = result["settings"]
        shape, device = settings["input_shape"], settings["device"]
        lines.append(f"{model}: input {shape} on {device}")
        for variant, row in result["variants"].items():
            peak = (row.get("memory") or {}).get("peak_bytes")
            memory = "" if peak is None else f", peak {peak / 2**30:.2f} GiB"
            lines.append(f"  {variant}: median {row['median_s'] * 1e3:.1f} ms{memory}")
        for comparison in result.get("comparisons", []):
            target = comparison.get("target")
            met = "met" if comparison.get("holds") else "missed"
            verdict = "" if target is None else f" (target <= {target}: {met})"
            lines.append(
                f"  {comparison['name']}: {comparison['ratio']:.3f}{verdict}"
                if comparison.get("ratio") is not None
                else f"  {comparison['name']}: n/a"
            )
    return lines


def _judge_run(folder: Path) -> Judge:
    def judge(returncode: int, output: str) -> tuple[bool, list[str]]:
        if returncode != 0 or not (folder / "summary.csv").exists():
            return False, _exit_lines(returncode, output) or ["no summary.csv"]
        peaks = dict(_find(json.loads((folder / "results.json").read_text())))
        return True, [f"{name}: {value}" for name, value in sorted(peaks.items())]

    return judge


def _find(tree: Any, names: tuple[str, ...] = ("cuda_peak_gib", "peak_rss_gib")):
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key in names and value is not None:
                yield key, round(float(value), 3)
            else:
                yield from _find(value, names)
    elif isinstance(tree, list):
        for value in tree:
            yield from _find(value, names)


def _judge_comparison(
    reference: Path, compared: Path, exact: bool, tolerance: SummaryTolerance
) -> Judge:
    def judge(returncode: int, output: str) -> tuple[bool, list[str]]:
        base, run = _judge_run(compared)(returncode, output)
        if not base or not (reference / "summary.csv").exists():
            return False, run + [f"nothing to compare: {reference} or {compared}"]
        comparison = compare_runs(reference, compared, tolerance)
        identical = "identical" if comparison.identical else "not identical"
        lines = run + [f"against {reference.name}: {identical}", *comparison.lines()]
        return (comparison.identical if exact else comparison.agrees), lines

    return judge


def _noisy_methods() -> tuple[str, ...]:
    """The benchmark's methods that draw noise (on the input's device)."""
    from captum_contrastive.methods import build_methods

    return tuple(name for name, spec in build_methods().items() if spec.per_image_noise)


def gpu_plan(
    out: Path,
    device: str = "cuda",
    cpu_reference: Path | None = None,
    memory_data: tuple[Path, Path, Path] | None = None,
    cpu_threads: int = 4,
    tolerance: SummaryTolerance | None = None,
) -> list[CheckStep]:
    """The steps of the GPU check, writing under ``out``.

    Phase 1, alone on the GPU so its timings are clean: Enhanced GBP's speed
    ratios on VGG16 at 224x224 with batch 32. Phase 2, at once: the CUDA-marked
    tests; the default run on the CPU (unless ``cpu_reference`` names a finished
    one) and on ``device``, compared within ``tolerance``; the default run by
    two ``torchrun`` ranks sharing the GPU, which must equal the one-process
    run exactly; and a 224x224 MobileNetV2 run for peak CUDA memory.

    Args:
        out (Path): folder of every run and record.
        device (str): ``"cuda"``.
        cpu_reference (Path, optional): a finished CPU default run to compare
            with instead of running one.
        memory_data (tuple, optional): ``(weights, images, labels)`` of the
            224x224 run; without them that step is left out.
        cpu_threads (int): threads of the CPU default run.
        tolerance (SummaryTolerance, optional): CPU against CUDA numbers.
    """
    tolerance = tolerance or SummaryTolerance(noisy_methods=_noisy_methods())
    cpu_run = cpu_reference or out / "default_cpu"
    cuda_run, torchrun_run = out / "default_cuda", out / "default_torchrun"
    steps = [
        _speed_step(out / "speed", device),
        _cuda_tests_step(),
        _device_run_step(cpu_run, cuda_run, device, tolerance),
        _torchrun_step(cuda_run, torchrun_run, device, tolerance),
    ]
    if cpu_reference is None:
        steps.append(_cpu_reference_step(cpu_run, cpu_threads))
    if memory_data is not None:
        steps.append(_memory_step(out / "mobilenet_v2_224", device, memory_data))
    return steps


def _speed_step(speed: Path, device: str) -> CheckStep:
    """Phase 1: Enhanced GBP's speed ratios on VGG16, 224x224, batch 32."""
    return CheckStep(
        "speed: Enhanced GBP on vgg16, 224x224, batch 32",
        [*COMMAND, "speed", "--device", device, "--models", "vgg16"]
        + ["--batch", "32", "--size", "224", "--repeats", "5", "--out", str(speed)],
        timeout_s=150,
        phase=1,
        judge=_judge_speed(speed),
    )


def _cuda_tests_step() -> CheckStep:
    """Phase 2: the CUDA-marked tests."""
    return CheckStep(
        "CUDA-marked tests",
        [PYTHON, "-m", "pytest", "-q", "-rs", "-m", "cuda"]
        + ["-p", "no:cacheprovider", *CUDA_TESTS],
        timeout_s=330,
        phase=2,
        judge=_judge_tests,
    )


def _device_run_step(
    cpu_run: Path, cuda_run: Path, device: str, tolerance: SummaryTolerance
) -> CheckStep:
    """Phase 2: the default run on ``device``, compared with the CPU run."""
    return CheckStep(
        f"default run on {device} against the CPU run",
        [*COMMAND, "run", *_run_options(cuda_run, device)],
        timeout_s=330,
        phase=2,
        judge=_judge_comparison(cpu_run, cuda_run, False, tolerance),
        run_options=_run_options(cuda_run, device),
    )


def _torchrun_step(
    cuda_run: Path, torchrun_run: Path, device: str, tolerance: SummaryTolerance
) -> CheckStep:
    """Phase 2: the default run by two torchrun ranks, equal to the one-process run."""
    return CheckStep(
        f"default run by two torchrun ranks sharing one {device} device",
        [*TORCHRUN, "--nproc_per_node=2", "-m", "captum_contrastive", "run"]
        + _run_options(torchrun_run, device),
        timeout_s=330,
        phase=2,
        judge=_judge_comparison(cuda_run, torchrun_run, True, tolerance),
        cuda_visible="0",
        run_options=_run_options(torchrun_run, device),
    )


def _cpu_reference_step(cpu_run: Path, cpu_threads: int) -> CheckStep:
    """Phase 2: the default run on the CPU, the reference of the device run."""
    cpu_options = _run_options(cpu_run, "cpu", ["--threads", str(cpu_threads)])
    return CheckStep(
        "default run on the CPU (the reference)",
        [*COMMAND, "run", *cpu_options],
        timeout_s=360,
        phase=2,
        judge=_judge_run(cpu_run),
        threads=cpu_threads,
        cuda_visible="",
        run_options=cpu_options,
    )


def _memory_step(
    memory_run: Path, device: str, memory_data: tuple[Path, Path, Path]
) -> CheckStep:
    """Phase 2: a 224x224 MobileNetV2 run on ``device`` for its peak memory."""
    weights, images, labels = memory_data
    options = _run_options(memory_run, device, MEMORY_RUN_OPTIONS) + [
        "--model",
        "torchvision:mobilenet_v2",
        "--weights",
        str(weights),
        "--data",
        str(images),
        "--labels",
        str(labels),
    ]
    return CheckStep(
        f"peak memory of a 224x224 MobileNetV2 run on {device}",
        [*COMMAND, "run", *options],
        timeout_s=330,
        phase=2,
        judge=_judge_run(memory_run),
        run_options=options,
    )
