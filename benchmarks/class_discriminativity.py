"""Class discriminativity (paper Fig. 1) on multi-object images.

python benchmarks/class_discriminativity.py --help
"""

import sys

from captum_contrastive.pipeline.cli import main

if __name__ == "__main__":
    sys.exit(
        main(
            studies=("class",),
            description=__doc__.splitlines()[0],
            default_out="results/class_discriminativity",
        )
    )
