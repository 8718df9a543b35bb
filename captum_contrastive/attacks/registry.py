"""The attack registry: attacks by name, filled by a class decorator."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

from captum_contrastive.attacks.base import FoolboxAttack

__all__ = ["ATTACKS", "build_attack", "register_attack"]

A = TypeVar("A", bound=type[FoolboxAttack])

#: Registered attacks by name, filled by :func:`register_attack`.
ATTACKS: dict[str, type[FoolboxAttack]] = {}

#: Keys that :meth:`FoolboxAttack.settings` and :meth:`FoolboxAttack.params` add
#: next to the fields, so no field may take them.
RESERVED = frozenset({"attack", "bounds", "foolbox_version", "targeted"})

_NAME = re.compile(r"[a-z][a-z0-9_]*")


def register_attack(name: str) -> Callable[[A], A]:
    """Class decorator: register an attack under ``name`` and give it that name.

    The name becomes the class's ``name`` (``AdversarialBatch.attack``, the
    progress bar, the ``"attack"`` entry of :meth:`FoolboxAttack.settings`).

    Args:
        name: lower-case identifier, e.g. ``"fgsm"``; unique in :data:`ATTACKS`.

    Returns:
        The decorator, which returns the class unchanged otherwise.

    Examples::

        >>> @register_attack("pgd_l2")
        ... class PGDL2(FoolboxAttack):
        ...     epsilon: float
        ...     ...
        >>> ATTACKS["pgd_l2"] is PGDL2
        True
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"attack names are lower-case identifiers like 'pgd_l2', got {name!r}"
        )

    def decorator(cls: A) -> A:
        _check_registrable(name, cls)
        cls.name = name
        ATTACKS[name] = cls
        return cls

    return decorator


def build_attack(name: str, **settings: Any) -> FoolboxAttack:
    """The registered attack ``name`` configured with ``settings``.

    Args:
        name: a key of :data:`ATTACKS`, e.g. ``"bim"``.
        **settings: constructor arguments (fields) of that attack, e.g.
            ``epsilon=0.03, steps=10``.

    Returns:
        The attack instance.

    Raises:
        ValueError: ``name`` is not registered (the message lists those that are).
        TypeError: a setting is not a field of the attack (the message names it
            and lists the fields).

    Examples::

        >>> build_attack("bim", epsilon=0.03, steps=5)
        BIM(epsilon=0.03, steps=5, rel_stepsize=0.2, abs_stepsize=None, random_start=False)
    """  # noqa: E501
    cls = ATTACKS.get(name)
    if cls is None:
        known = ", ".join(repr(n) for n in sorted(ATTACKS))
        raise ValueError(f"unknown attack {name!r}; registered attacks: {known}")
    accepted = sorted((f.name for f in fields(cls) if f.init), key=_run_last)
    unknown = sorted(set(settings) - set(accepted))
    if unknown:
        raise TypeError(
            f"attack {name!r} ({cls.__name__}) has no setting "
            f"{', '.join(repr(u) for u in unknown)}; its settings are: "
            f"{', '.join(accepted)}"
        )
    return cls(**settings)


def _check_registrable(name: str, cls: type) -> None:
    if not (isinstance(cls, type) and issubclass(cls, FoolboxAttack)):
        raise TypeError(f"@register_attack({name!r}) needs a FoolboxAttack subclass")
    known = ATTACKS.get(name)
    if known is not None and _path(known) != _path(cls):
        raise ValueError(f"attack name {name!r} is already taken by {_path(known)}")
    own = cls.__dict__.get("name")
    if own is not None and own != name and ATTACKS.get(own) is cls:
        raise ValueError(f"{_path(cls)} is already registered as {own!r}")
    taken = sorted(RESERVED & {f.name for f in fields(cls)})
    if taken:
        raise ValueError(f"{_path(cls)} has fields with reserved names: {taken}")


def _run_last(name: str) -> bool:
    return name in {f.name for f in fields(FoolboxAttack)}


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
