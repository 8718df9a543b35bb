"""The attribution methods: Enhanced Guided Backpropagation, the generic
contrastive attribution, and our guided backpropagation and deconvolution, as
Captum ``Attribution`` subclasses.

It may import the foundation modules and :mod:`captum_contrastive.guided`;
nothing of the benchmark (metrics, attacks, studies, pipeline).
"""

from captum_contrastive.attr._model_checks import TrainingModeWarning
from captum_contrastive.attr.contrastive import ContrastiveAttribution, ContrastMode
from captum_contrastive.attr.enhanced_guided_backprop import EnhancedGuidedBackprop
from captum_contrastive.attr.guided_backprop import (
    Deconvolution,
    GuidedBackprop,
    ModifiedReluAttribution,
)
from captum_contrastive.attr.normalization import (
    ContrastVariant,
    Normalization,
    contrast_maps,
    normalize,
    sum_channels_and_scale,
)

__all__ = [
    "ContrastMode",
    "ContrastVariant",
    "ContrastiveAttribution",
    "Deconvolution",
    "EnhancedGuidedBackprop",
    "GuidedBackprop",
    "ModifiedReluAttribution",
    "Normalization",
    "TrainingModeWarning",
    "contrast_maps",
    "normalize",
    "sum_channels_and_scale",
]
