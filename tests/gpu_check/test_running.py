"""The steps of a phase run at once, each judged after the phase, and a step
past its time limit is stopped and fails."""

import sys
import time

from captum_contrastive.gpu_check.running import run_steps
from captum_contrastive.gpu_check.steps import CheckStep


def _step(name, code, phase=1, timeout_s=20.0):
    def judge(returncode, output):
        return returncode == 0, [output.strip().splitlines()[-1]]

    return CheckStep(name, [sys.executable, "-c", code], timeout_s, phase, judge)


def test_a_phase_runs_at_once_and_a_late_step_is_stopped(tmp_path):
    steps = [
        _step("slow", "import time; time.sleep(1); print('slow done')"),
        _step("also slow", "import time; time.sleep(1); print('also done')"),
        _step("hangs", "import time; time.sleep(60)", timeout_s=1.5),
        _step("fails", "raise SystemExit(3)", phase=2),
    ]
    started = time.monotonic()
    outcomes = run_steps(steps, tmp_path / "logs")
    assert time.monotonic() - started < 10, "phase 1's steps ran one after another"
    assert [o.passed for o in outcomes] == [True, True, False, False]
    assert outcomes[0].lines == ["slow done"]
    assert outcomes[2].lines[0] == "stopped after 2 s"
    assert len(list((tmp_path / "logs").glob("*.log"))) == 4
