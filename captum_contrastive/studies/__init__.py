"""The paper's studies, each a unit that can be called on its own.

:func:`perturbation_recovery`, :func:`adversarial_discriminativity`,
:func:`class_discriminativity` and :func:`localization` evaluate maps you computed;
:mod:`captum_contrastive.pipeline` runs them all on a model and data, cached.
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
from captum_contrastive.studies.localization import localization
from captum_contrastive.studies.recovery import perturbation_recovery
from captum_contrastive.studies.verdicts import (
    claim_adversarial_change,
    claim_filtering_effect,
    claim_recovery,
)

__all__ = [
    "CONDITIONS",
    "PAIR_METHODS",
    "adversarial_discriminativity",
    "claim_adversarial_change",
    "claim_filtering_effect",
    "claim_recovery",
    "class_discriminativity",
    "class_pairs",
    "equal_norm_noise",
    "localization",
    "perturbation_recovery",
    "random_map_reference",
]
