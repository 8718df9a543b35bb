"""Speed and memory benchmarks: an interleaved timing harness, peak-memory
measurement, and the comparison of the contrastive methods with naive equivalents.

The command line is ``python benchmarks/speed.py`` (see ``--help``).
"""

from captum_contrastive.profiling.memory import (
    MemoryMeasurement,
    current_rss_bytes,
    measure_peak_cuda,
    measure_peak_memory,
    measure_peak_rss,
    run_child,
    settle_allocator,
)
from captum_contrastive.profiling.speed import (
    ALL_VARIANTS,
    COMPARISONS,
    GUIDED_VARIANTS,
    MODEL_PRESETS,
    TIMING_GROUPS,
    Comparison,
    ModelPreset,
    TinyCNN,
    build_variants,
    environment_info,
    format_results,
    load_benchmark_model,
    make_inputs,
    run_speed_benchmark,
    write_json_atomic,
)
from captum_contrastive.profiling.timing import (
    TimingResult,
    median,
    time_interleaved,
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
    "environment_info",
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
    "write_json_atomic",
]
