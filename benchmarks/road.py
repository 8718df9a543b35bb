"""ROAD (Rong et al., 2022): MoRF and LeRF curves with noisy linear imputation.

Every method's clean maps against a seeded random ranking, on the offline shapes
preset by default.

python benchmarks/road.py --help
"""

import sys

from captum_contrastive.pipeline.cli import main

if __name__ == "__main__":
    sys.exit(
        main(
            studies=("road",),
            description=__doc__.splitlines()[0],
            default_out="results/road",
        )
    )
