"""Foolbox 3 attacks as typed adapters returning :class:`AdversarialBatch`."""

from captum_contrastive.attacks.batch import AdversarialBatch
from captum_contrastive.attacks.foolbox_attacks import (
    BIM,
    FGSM,
    CarliniWagnerL2,
    FoolboxAttack,
)
from captum_contrastive.attacks.model_state import model_device, preserved_model_state

__all__ = [
    "BIM",
    "FGSM",
    "AdversarialBatch",
    "CarliniWagnerL2",
    "FoolboxAttack",
    "model_device",
    "preserved_model_state",
]
