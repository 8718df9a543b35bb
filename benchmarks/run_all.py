"""Run every study of the paper and write report.md.

Perturbation recovery, class and adversarial discriminativity with controls, and
localization, on the offline shapes preset by default.

python benchmarks/run_all.py --help
"""

import sys

from captum_contrastive.pipeline.cli import main
from captum_contrastive.pipeline.config import STUDIES

if __name__ == "__main__":
    sys.exit(
        main(
            studies=STUDIES,
            description=__doc__.splitlines()[0],
            default_out="results/benchmark",
        )
    )
