"""The study units: each declares its needs, evaluates, and renders its section.

Importing this package registers every unit in :data:`UNITS`.
"""

from captum_contrastive.pipeline.units.adversarial import AdversarialUnit
from captum_contrastive.pipeline.units.base import (
    UNITS,
    MapRequest,
    ReportSection,
    RunData,
    StudyResult,
    StudyUnit,
    SummaryRow,
    Verdict,
    register_unit,
)
from captum_contrastive.pipeline.units.class_discriminativity import (
    ClassDiscriminativityUnit,
)
from captum_contrastive.pipeline.units.localization import LocalizationUnit
from captum_contrastive.pipeline.units.recovery import RecoveryUnit
from captum_contrastive.pipeline.units.road import RoadUnit
from captum_contrastive.pipeline.units.sanity import SanityUnit

__all__ = [
    "UNITS",
    "AdversarialUnit",
    "ClassDiscriminativityUnit",
    "LocalizationUnit",
    "MapRequest",
    "RecoveryUnit",
    "ReportSection",
    "RoadUnit",
    "RunData",
    "SanityUnit",
    "StudyResult",
    "StudyUnit",
    "SummaryRow",
    "Verdict",
    "register_unit",
]
