"""Run the studies on a model and data: configuration, cached stages, the report.

:func:`run_benchmark` attacks, explains and evaluates as a :class:`BenchmarkConfig`
says, with every stage cached on disk under a key made of what it depends on;
:func:`write_outputs` writes ``report.md``, ``results.json``, ``summary.csv`` and the
figures.

Its stage layer (configuration, cache, stages, maps) may import the foundation,
attribution, measures (``metrics``, ``attacks``) and model (``presets``) layers,
but never :mod:`captum_contrastive.studies` or ``plots``; its study units
(:mod:`captum_contrastive.pipeline.units`) may import the studies and the stage
layer; the runner, the report and the command line sit above them.
``tests/test_import_rules.py`` checks this.
"""

from captum_contrastive.methods import (
    DEFAULT_METHODS,
    METHODS,
    MethodSpec,
    compute_maps,
)
from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.report import read_summaries, write_outputs
from captum_contrastive.pipeline.runner import BenchmarkRun, run_benchmark

__all__ = [
    "DEFAULT_METHODS",
    "METHODS",
    "BenchmarkConfig",
    "BenchmarkRun",
    "MethodSpec",
    "compute_maps",
    "read_summaries",
    "run_benchmark",
    "write_outputs",
]
