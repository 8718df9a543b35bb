"""Profiling: what the methods and the benchmark cost, in time and memory.

Not to be confused with the benchmark itself (the paper's studies,
:mod:`captum_contrastive.pipeline`). The scripts in ``benchmarks/`` are thin
command-line entry points to both; the logic lives here and in the pipeline.
The speed profile's command line is ``python benchmarks/speed.py`` (also
``captum-contrastive speed``; see ``--help``).

Modules:

- :mod:`~captum_contrastive.profiling.timing`: the interleaved timing harness;
- :mod:`~captum_contrastive.profiling.call_peak_memory`: peak memory of one
  call;
- :mod:`~captum_contrastive.profiling.variants`: the variants compared;
- :mod:`~captum_contrastive.profiling.profiled_models`: models, inputs and sizes;
- :mod:`~captum_contrastive.profiling.grouped_timing`: variants timed in groups;
- :mod:`~captum_contrastive.profiling.agreement`: variants that must agree;
- :mod:`~captum_contrastive.profiling.variant_peak_memory`: peak memory per
  variant;
- :mod:`~captum_contrastive.profiling.comparisons`: the ratios reported;
- :mod:`~captum_contrastive.profiling.speed_profile`: one speed profile, and
  :mod:`~captum_contrastive.profiling.text_report` its table;
- :mod:`~captum_contrastive.profiling.run_peak_memory`,
  :mod:`~captum_contrastive.profiling.projection`,
  :mod:`~captum_contrastive.profiling.split_timing`,
  :mod:`~captum_contrastive.profiling.road_cost`: the cost of whole benchmark
  runs (peak memory, projected and measured time, the ROAD solver).

It sits at the top with the command line: it may import the rest of the package,
and nothing in the library imports it.
"""

# Kept importable from here; it lives in captum_contrastive.environment.
from captum_contrastive.environment import environment_info as environment_info
from captum_contrastive.profiling.call_peak_memory import (
    MemoryMeasurement,
    current_rss_bytes,
    measure_peak_cuda,
    measure_peak_memory,
    measure_peak_rss,
    run_child,
    settle_allocator,
)
from captum_contrastive.profiling.comparisons import COMPARISONS, Comparison
from captum_contrastive.profiling.grouped_timing import TIMING_GROUPS
from captum_contrastive.profiling.profiled_models import (
    MODEL_PRESETS,
    ModelPreset,
    TinyCNN,
    load_benchmark_model,
    make_inputs,
)
from captum_contrastive.profiling.speed_profile import run_speed_benchmark
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
