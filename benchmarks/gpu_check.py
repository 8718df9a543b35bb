"""The GPU check (about 6 minutes on one GPU), or its dry run on a CPU.

python benchmarks/gpu_check.py --out results/gpu_check
python benchmarks/gpu_check.py --dry-run
"""

import sys

from captum_contrastive.gpu_check import main

if __name__ == "__main__":
    sys.exit(main())
