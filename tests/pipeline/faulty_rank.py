"""The benchmark's command line with a fault injected into one rank, for the
scale-out tests: ``python faulty_rank.py kill|raise RANK [options...]``.

After the chosen rank has computed its first work item it kills itself
(``SIGKILL``, as the kernel's OOM killer or a lost node would) or raises.
"""

import os
import signal
import sys

from captum_contrastive.pipeline import shared_work
from captum_contrastive.pipeline.cli import main

MODE, FAULTY_RANK, ARGV = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
_compute_maps = shared_work.compute_requested_maps


def _faulty_maps(view, requests):
    _compute_maps(view, requests)
    if int(os.environ.get("RANK", "0")) != FAULTY_RANK:
        return
    if MODE == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise RuntimeError(f"injected failure on rank {FAULTY_RANK}")


shared_work.compute_requested_maps = _faulty_maps

if __name__ == "__main__":
    sys.exit(main(ARGV))
