"""The study units: each declares its needs, evaluates, and renders its section.

Importing this package registers every built-in unit in :data:`UNITS`, in the
report's order: the imports below are that order.
"""

# isort: off
from captum_contrastive.pipeline.units.recovery import RecoveryUnit
from captum_contrastive.pipeline.units.adversarial import AdversarialUnit
from captum_contrastive.pipeline.units.class_discriminativity import (
    ClassDiscriminativityUnit,
)
from captum_contrastive.pipeline.units.localization import LocalizationUnit
from captum_contrastive.pipeline.units.sanity import SanityUnit
from captum_contrastive.pipeline.units.road import RoadUnit

# isort: on
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
