"""The paper's studies, each a unit that can be called on its own.

:func:`perturbation_recovery`, :func:`adversarial_discriminativity`,
:func:`class_discriminativity` and :func:`localization` evaluate maps you computed;
the sanity checks (:func:`cascading_randomization`, :func:`independent_randomization`,
:func:`random_logit`, :func:`data_randomization`) compute maps of randomised copies
of a model (or of a model trained on permuted labels) themselves;
:mod:`captum_contrastive.pipeline` runs them all on a model and data, cached.

It may import the attribution layer, ``metrics``, ``attacks``, ``presets`` and
the foundation modules; never :mod:`captum_contrastive.pipeline` (the pipeline's
study units call the studies, not the other way round).
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
from captum_contrastive.studies.sanity import (
    SanityResult,
    SanityRule,
    SanityVerdict,
    cascading_randomization,
    data_randomization,
    independent_randomization,
    parameterized_layers,
    random_logit,
    randomize_layers,
    sanity_verdict,
)
from captum_contrastive.studies.verdicts import (
    claim_adversarial_change,
    claim_filtering_effect,
    claim_recovery,
)

__all__ = [
    "CONDITIONS",
    "PAIR_METHODS",
    "SanityResult",
    "SanityRule",
    "SanityVerdict",
    "adversarial_discriminativity",
    "cascading_randomization",
    "claim_adversarial_change",
    "claim_filtering_effect",
    "claim_recovery",
    "class_discriminativity",
    "class_pairs",
    "data_randomization",
    "equal_norm_noise",
    "independent_randomization",
    "localization",
    "parameterized_layers",
    "perturbation_recovery",
    "random_logit",
    "random_map_reference",
    "randomize_layers",
    "sanity_verdict",
]
