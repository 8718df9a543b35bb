"""Adversarial discriminativity (paper Figs. 3, 5).

With class-only, input-only and equal-norm noise controls.

python benchmarks/adversarial_maps.py --help
"""

import sys

from captum_contrastive.pipeline.cli import main

if __name__ == "__main__":
    sys.exit(
        main(
            studies=("adversarial",),
            description=__doc__.splitlines()[0],
            default_out="results/adversarial_maps",
        )
    )
