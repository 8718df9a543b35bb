"""Run every study of the paper and write report.md.

Perturbation recovery, class and adversarial discriminativity with controls, and
localization, sanity checks and ROAD (every registered study) on the offline
shapes preset by default; the same as ``captum-contrastive run``.

python benchmarks/run_all.py --help
"""

import sys

from captum_contrastive.pipeline.cli import main

if __name__ == "__main__":
    sys.exit(
        main(
            description=__doc__.splitlines()[0],
            default_out="results/benchmark",
        )
    )
