"""The registry of study units: every study a run, the config and the command
line know of.

A unit class registers itself with :func:`register_unit` when its module is
imported; :mod:`captum_contrastive.pipeline.units` registers the built-in ones, in
the report's order. Everything that lists studies (``--studies``, the
``captum-contrastive`` commands, the default of ``BenchmarkConfig.studies``) reads
this registry, so a study defined outside the package is one module plus one
registration.

This module imports nothing of the pipeline at import time, so that the config
(a lower layer than the units) can check its names against it; the built-in
units are imported the first time a function here is asked for the studies.

Examples::

    >>> from captum_contrastive.pipeline.study_registry import (
    ...     resolve_studies,
    ...     study_names,
    ... )
    >>> study_names()[:2]
    ('recovery', 'adversarial')
    >>> resolve_studies(["class"])  # a unit's command is an alias of its name
    ('class_discriminativity',)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from captum_contrastive.pipeline.units.base import StudyUnit

__all__ = [
    "RESERVED_COMMANDS",
    "UNITS",
    "register_unit",
    "registered_units",
    "resolve_studies",
    "study_aliases",
    "study_names",
    "study_spellings",
]

#: The commands of ``captum-contrastive`` that are not a study's: no study may
#: take them as its name or command.
RESERVED_COMMANDS = ("run", "speed")

#: Every registered unit class, by study name, in registration order (the order
#: of the report and of ``--studies``' default).
UNITS: dict[str, type[StudyUnit]] = {}


def register_unit(cls: type[StudyUnit]) -> type[StudyUnit]:
    """Add a unit class to :data:`UNITS` under its ``name`` (a class decorator).

    Args:
        cls (type[StudyUnit]): the unit class; its ``name`` must be new, and its
            ``command`` (when set) must name no other study or command.

    Returns:
        ``cls``, unchanged.

    Raises:
        ValueError: when the name or the command is taken (by another study, or
            by :data:`RESERVED_COMMANDS`).
    """
    for spelling in _spellings(cls):
        if spelling in RESERVED_COMMANDS:
            raise ValueError(
                f"cannot register the study {cls.name!r} ({_where(cls)}): "
                f"{spelling!r} is a command of captum-contrastive; give the unit "
                "another `name` or `command`"
            )
    taken = {
        spelling: name for name, unit in UNITS.items() for spelling in _spellings(unit)
    }
    for spelling in _spellings(cls):
        if spelling in taken:
            owner = UNITS[taken[spelling]]
            what = "name" if spelling == cls.name else "command"
            raise ValueError(
                f"cannot register the study {cls.name!r} ({_where(cls)}): its "
                f"{what} {spelling!r} is taken by the study {taken[spelling]!r} "
                f"({_where(owner)}); give the new unit another `{what}`, or "
                "import its module once"
            )
    UNITS[cls.name] = cls
    return cls


def _where(cls: type) -> str:
    """Where a unit class is defined, as ``module.Class``."""
    return f"{cls.__module__}.{cls.__qualname__}"


def _spellings(cls: type[StudyUnit]) -> list[str]:
    """The study's name and, when it differs, its command."""
    command = getattr(cls, "command", None)
    return [cls.name] + ([command] if command and command != cls.name else [])


def registered_units() -> dict[str, type[StudyUnit]]:
    """:data:`UNITS`, with the built-in units imported (registered) first."""
    import captum_contrastive.pipeline.units  # noqa: F401  (registers them)

    return UNITS


def study_names() -> tuple[str, ...]:
    """Every registered study, in registration order."""
    return tuple(registered_units())


def study_aliases() -> dict[str, str]:
    """Other spellings of a study in ``--studies``: its command, where the
    command is not its name (``class`` for ``class_discriminativity``)."""
    return {
        unit.command: name
        for name, unit in registered_units().items()
        if unit.command and unit.command != name
    }


def study_spellings() -> list[str]:
    """Each study as the command line spells it: its command, or its name when
    it has none (``--studies``' help lists these)."""
    return [unit.command or name for name, unit in registered_units().items()]


def resolve_studies(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` with each alias (:func:`study_aliases`) replaced by its study's
    name; other names are kept as they are (the config checks them)."""
    aliases = study_aliases()
    return tuple(aliases.get(name, name) for name in names)
