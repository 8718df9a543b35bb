"""The GPU check: the CUDA-marked tests, the default run on CUDA against the
CPU, Enhanced GBP's speed on VGG16, peak CUDA memory of a 224x224 run, and two
``torchrun`` ranks sharing one GPU (``benchmarks/gpu_check.py``).

It may import the rest of the package; nothing in the package imports it.
"""

from captum_contrastive.gpu_check.cli import main
from captum_contrastive.gpu_check.steps import CheckStep, StepOutcome, gpu_plan
from captum_contrastive.gpu_check.summary_comparison import (
    SummaryComparison,
    SummaryTolerance,
    compare_runs,
)

__all__ = [
    "CheckStep",
    "StepOutcome",
    "SummaryComparison",
    "SummaryTolerance",
    "compare_runs",
    "gpu_plan",
    "main",
]
