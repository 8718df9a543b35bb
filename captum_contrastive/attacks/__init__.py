"""Foolbox 3 attacks as typed adapters returning :class:`AdversarialBatch`.

It may import the foundation modules (``atomic_files``, ``devices``,
``random_streams`` ...) and nothing above them: no study, no pipeline.
"""

from captum_contrastive.attacks.batch import AdversarialBatch
from captum_contrastive.attacks.calibration import (
    CalibrationError,
    EpsilonCalibration,
    calibrate_epsilon,
)
from captum_contrastive.attacks.foolbox_attacks import (
    BIM,
    FGSM,
    PGDL2,
    CarliniWagnerL2,
    FoolboxAttack,
)
from captum_contrastive.attacks.model_state import model_device, preserved_model_state
from captum_contrastive.attacks.noise_control import equal_norm_noise
from captum_contrastive.attacks.registry import ATTACKS, build_attack, register_attack

__all__ = [
    "ATTACKS",
    "BIM",
    "FGSM",
    "PGDL2",
    "AdversarialBatch",
    "CalibrationError",
    "CarliniWagnerL2",
    "EpsilonCalibration",
    "FoolboxAttack",
    "build_attack",
    "calibrate_epsilon",
    "equal_norm_noise",
    "model_device",
    "preserved_model_state",
    "register_attack",
]
