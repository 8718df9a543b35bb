"""Launching the GPU check's steps: a phase's commands at once, each with its
own log and time limit, then each judged from its exit status and output."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from captum_contrastive.gpu_check.steps import CheckStep, StepOutcome

__all__ = ["run_steps"]


def _environment(step: CheckStep) -> dict[str, str]:
    environment = {**os.environ, "OMP_NUM_THREADS": str(step.threads)}
    environment["PYTHONUNBUFFERED"] = "1"
    if step.cuda_visible is not None:
        environment["CUDA_VISIBLE_DEVICES"] = step.cuda_visible
    return environment


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower())[:60]


def run_steps(
    steps: Sequence[CheckStep],
    logs: Path,
    report: Callable[[StepOutcome], None] = lambda outcome: None,
) -> list[StepOutcome]:
    """Run ``steps`` phase by phase; the steps of a phase run at once.

    A step past its ``timeout_s`` is killed and fails. Each step's output goes
    to ``logs/<step>.log``.

    Returns:
        one :class:`StepOutcome` per step, in the order of ``steps``.
    """
    logs.mkdir(parents=True, exist_ok=True)
    outcomes: dict[int, StepOutcome] = {}
    for phase in sorted({step.phase for step in steps}):
        chosen = [(i, s) for i, s in enumerate(steps) if s.phase == phase]
        started = {i: _start(step, logs) for i, step in chosen}
        ended = _wait_all({i: (started[i], step.timeout_s) for i, step in chosen})
        # Judged once the whole phase has ended: a judge may read another
        # step's run (the torchrun run is compared with the one-process run).
        for i, step in chosen:
            outcomes[i] = _judged(step, *ended[i], Path(started[i][1].name))
            report(outcomes[i])
    return [outcomes[i] for i in range(len(steps))]


def _judged(
    step: CheckStep, returncode: int | None, seconds: float, log: Path
) -> StepOutcome:
    output = log.read_text(errors="replace")
    if returncode is None:
        lines = [f"stopped after {step.timeout_s:.0f} s", *output.splitlines()[-5:]]
        return StepOutcome(step.name, False, seconds, lines)
    passed, lines = step.judge(returncode, output)
    return StepOutcome(step.name, passed, seconds, lines)


def _start(step: CheckStep, logs: Path):
    log = open(logs / f"{_slug(step.name)}.log", "w")
    log.write(" ".join(step.argv) + "\n")
    log.flush()
    process = subprocess.Popen(
        step.argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=_environment(step),
        start_new_session=True,
    )
    return process, log, time.monotonic()


def _wait_all(running: dict) -> dict[int, tuple[int | None, float]]:
    """Wait for every process; kill each at its deadline. Returns, per step,
    its exit status (``None`` when killed) and its seconds."""
    ended: dict[int, tuple[int | None, float]] = {}
    while len(ended) < len(running):
        for i, ((process, log, began), timeout_s) in running.items():
            if i in ended:
                continue
            returncode = process.poll()
            seconds = time.monotonic() - began
            if returncode is None and seconds > timeout_s:
                os.killpg(process.pid, 9)
                process.wait()
            elif returncode is None:
                continue
            log.close()
            ended[i] = returncode, seconds
        time.sleep(0.2)
    return ended
