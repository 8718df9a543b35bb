"""Speed and memory benchmarks: an interleaved timing harness, peak-memory
measurement, and the comparison of the contrastive methods with naive equivalents.

The command line is ``python benchmarks/speed.py`` (see ``--help``).

Modules: :mod:`~captum_contrastive.profiling.timing` (the interleaved timing
harness), :mod:`~captum_contrastive.profiling.memory` (peak memory of one call),
:mod:`~captum_contrastive.profiling.variants` (the variants compared),
:mod:`~captum_contrastive.profiling.benchmark_models` (models, inputs and sizes),
:mod:`~captum_contrastive.profiling.grouped_timing` (variants timed in groups),
:mod:`~captum_contrastive.profiling.agreement` (variants that must agree),
:mod:`~captum_contrastive.profiling.variant_memory` (peak memory per variant),
:mod:`~captum_contrastive.profiling.comparisons` (the ratios reported),
:mod:`~captum_contrastive.profiling.speed_benchmark` (one run) and
:mod:`~captum_contrastive.profiling.text_report` (its table).

It sits at the top with the command line: it may import the rest of the package,
and nothing in the library imports it.
"""

# Kept importable from here; it lives in captum_contrastive.environment.
from captum_contrastive.environment import environment_info as environment_info
from captum_contrastive.profiling.benchmark_models import (
    MODEL_PRESETS,
    ModelPreset,
    TinyCNN,
    load_benchmark_model,
    make_inputs,
)
from captum_contrastive.profiling.comparisons import COMPARISONS, Comparison
from captum_contrastive.profiling.grouped_timing import TIMING_GROUPS
from captum_contrastive.profiling.memory import (
    MemoryMeasurement,
    current_rss_bytes,
    measure_peak_cuda,
    measure_peak_memory,
    measure_peak_rss,
    run_child,
    settle_allocator,
)
from captum_contrastive.profiling.speed_benchmark import run_speed_benchmark
from captum_contrastive.profiling.text_report import format_results
from captum_contrastive.profiling.timing import (
    TimingResult,
    median,
    time_interleaved,
)
from captum_contrastive.profiling.variants import (
    ALL_VARIANTS,
    GUIDED_VARIANTS,
    build_variants,
)

__all__ = [
    "ALL_VARIANTS",
    "COMPARISONS",
    "GUIDED_VARIANTS",
    "MODEL_PRESETS",
    "Comparison",
    "MemoryMeasurement",
    "ModelPreset",
    "TIMING_GROUPS",
    "TimingResult",
    "TinyCNN",
    "build_variants",
    "current_rss_bytes",
    "format_results",
    "load_benchmark_model",
    "make_inputs",
    "measure_peak_cuda",
    "measure_peak_memory",
    "measure_peak_rss",
    "median",
    "run_child",
    "run_speed_benchmark",
    "settle_allocator",
    "time_interleaved",
]
