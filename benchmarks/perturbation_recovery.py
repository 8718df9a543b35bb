"""Perturbation recovery (paper Fig. 4).

C&W adversarials explained for their adversarial class; top pixels replaced.

python benchmarks/perturbation_recovery.py --help
"""

import sys

from captum_contrastive.pipeline.cli import main

if __name__ == "__main__":
    sys.exit(
        main(
            studies=("recovery",),
            description=__doc__.splitlines()[0],
            default_out="results/recovery",
        )
    )
