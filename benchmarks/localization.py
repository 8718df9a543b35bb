"""Localization: share of each map's positive mass on the object mask.

python benchmarks/localization.py --help
"""

import sys

from captum_contrastive.pipeline.cli import main

if __name__ == "__main__":
    sys.exit(
        main(
            studies=("localization",),
            description=__doc__.splitlines()[0],
            default_out="results/localization",
        )
    )
