"""The paper's evaluations on any model and data, as a library.

:func:`run_benchmark` runs them all, cached per shard of images; the study functions
(:func:`perturbation_recovery`, :func:`adversarial_discriminativity`,
:func:`class_discriminativity`, :func:`localization`) can be called on their own.
"""

from captum_contrastive.studies.adversarial import (
    CONDITIONS,
    adversarial_discriminativity,
    equal_norm_noise,
    random_map_reference,
)
from captum_contrastive.studies.class_discriminativity import (
    PAIR_METHODS,
    class_discriminativity,
    class_pairs,
)
from captum_contrastive.studies.config import BenchmarkConfig
from captum_contrastive.studies.localization import localization
from captum_contrastive.studies.methods import (
    DEFAULT_METHODS,
    METHODS,
    MethodSpec,
    compute_maps,
)
from captum_contrastive.studies.recovery import perturbation_recovery
from captum_contrastive.studies.report import write_outputs
from captum_contrastive.studies.runner import BenchmarkRun, run_benchmark
from captum_contrastive.studies.verdicts import (
    claim_adversarial_change,
    claim_filtering_effect,
    claim_recovery,
)

__all__ = [
    "CONDITIONS",
    "DEFAULT_METHODS",
    "METHODS",
    "PAIR_METHODS",
    "BenchmarkConfig",
    "BenchmarkRun",
    "MethodSpec",
    "adversarial_discriminativity",
    "claim_adversarial_change",
    "claim_filtering_effect",
    "claim_recovery",
    "class_discriminativity",
    "class_pairs",
    "compute_maps",
    "equal_norm_noise",
    "localization",
    "perturbation_recovery",
    "random_map_reference",
    "run_benchmark",
    "write_outputs",
]
