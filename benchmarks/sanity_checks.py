"""Sanity checks (Adebayo et al., 2018): do the maps depend on the model?

Cascading and independent model-parameter randomisation and RandomLogit, for
every method, on the offline shapes preset by default.

python benchmarks/sanity_checks.py --help
"""

import sys

from captum_contrastive.pipeline.cli import main

if __name__ == "__main__":
    sys.exit(
        main(
            studies=("sanity",),
            description=__doc__.splitlines()[0],
            default_out="results/sanity",
        )
    )
