"""Speed and peak memory of Enhanced GBP, GuidedBackprop and contrastive IG.

The same as ``captum-contrastive speed``; see ``python benchmarks/speed.py --help``.
"""

import os
import sys

# Passive OpenMP waiting must be set before torch loads (see
# captum_contrastive.profiling.cli.ensure_passive_omp_wait).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from captum_contrastive.profiling.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
