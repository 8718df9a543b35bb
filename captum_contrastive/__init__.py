"""Contrastive, class-discriminative saliency for Captum."""

from captum_contrastive.attr import (
    ContrastiveAttribution,
    ContrastMode,
    Deconvolution,
    EnhancedGuidedBackprop,
    GuidedBackprop,
    ModifiedReluAttribution,
    Normalization,
    TrainingModeWarning,
    contrast_maps,
    normalize,
)
from captum_contrastive.guided import (
    ReluRule,
    TorchScriptError,
    TorchScriptWarning,
    UnsupportedActivationError,
    UnsupportedActivationWarning,
    guided_relu,
)
from captum_contrastive.version import __version__ as __version__

__all__ = [
    "ContrastMode",
    "ContrastiveAttribution",
    "Deconvolution",
    "EnhancedGuidedBackprop",
    "GuidedBackprop",
    "ModifiedReluAttribution",
    "Normalization",
    "ReluRule",
    "TorchScriptError",
    "TorchScriptWarning",
    "TrainingModeWarning",
    "UnsupportedActivationError",
    "UnsupportedActivationWarning",
    "contrast_maps",
    "guided_relu",
    "normalize",
]
