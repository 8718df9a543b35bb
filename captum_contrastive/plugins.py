"""Plug-ins: your modules that register methods, attack families or studies,
imported before the command line reads its options.

A method (:func:`~captum_contrastive.methods.register_method`), an attack
family (:func:`~captum_contrastive.pipeline.attack_families.register_family`) or
a study (:func:`~captum_contrastive.pipeline.study_registry.register_unit`) is
one module with one registration. In a program, import that module before the
run. On the command line, name it in the environment variable
:data:`PLUGINS_VARIABLE` (module names, separated by commas)::

    CAPTUM_CONTRASTIVE_PLUGINS=map_entropy_study captum-contrastive run \\
        --studies map-entropy,recovery

or, in an installed package, as an entry point of the group
:data:`ENTRY_POINT_GROUP` (``pyproject.toml``)::

    [project.entry-points."captum_contrastive.plugins"]
    map_entropy = "my_package.map_entropy_study"

Every ``captum-contrastive`` command (and ``benchmarks/run_all.py``, the same
command line) imports them first (:func:`load_plugins`), and ``torchrun`` ranks
inherit the variable. The other scripts of ``benchmarks/`` (speed, memory,
projection, attack strength) measure the built-in methods and attacks and load
no plug-ins.

This module imports nothing from the package.
"""

from __future__ import annotations

import importlib
import os
import traceback
from collections.abc import Mapping
from importlib.metadata import entry_points

__all__ = [
    "ENTRY_POINT_GROUP",
    "PLUGINS_VARIABLE",
    "PluginError",
    "load_plugins",
    "plugin_modules",
]

#: The environment variable naming plug-in modules (comma-separated).
PLUGINS_VARIABLE = "CAPTUM_CONTRASTIVE_PLUGINS"
#: The entry-point group of installed plug-ins (each value a module).
ENTRY_POINT_GROUP = "captum_contrastive.plugins"

_loaded: list[str] = []


class PluginError(ImportError):
    """A plug-in module could not be imported; the message names it, where it
    was named, and the error it raised."""


def plugin_modules(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The plug-in modules to import, each with where it was named: the
    entry points of :data:`ENTRY_POINT_GROUP`, then :data:`PLUGINS_VARIABLE`.

    Args:
        environ (Mapping, optional): the environment. Default: ``os.environ``

    Returns:
        dict: module name -> its source, in import order.
    """
    environ = os.environ if environ is None else environ
    found = {
        point.value.split(":")[0]: f"entry point {point.name!r} of {point.group!r}"
        for point in entry_points(group=ENTRY_POINT_GROUP)
    }
    for name in environ.get(PLUGINS_VARIABLE, "").split(","):
        if name.strip():
            found.setdefault(name.strip(), f"${PLUGINS_VARIABLE}")
    return found


def load_plugins(environ: Mapping[str, str] | None = None) -> list[str]:
    """Import every plug-in module (:func:`plugin_modules`) once; returns the
    modules imported by this call.

    Raises:
        PluginError: a module could not be imported (not found, or its import
            raised); the message says which module, where it was named and why.
    """
    imported = []
    for name, source in plugin_modules(environ).items():
        if name in _loaded:
            continue
        try:
            importlib.import_module(name)
        except Exception as error:  # the plug-in's own error, reported as such
            raise PluginError(_failure(name, source, error)) from error
        _loaded.append(name)
        imported.append(name)
    return imported


def _failure(name: str, source: str, error: Exception) -> str:
    """Why the plug-in ``name`` failed, in the user's words: not found on the
    path, or its import raised (with the file and line that raised)."""
    head = f"the plug-in module {name!r} (named in {source})"
    missing = getattr(error, "name", None)
    if (
        isinstance(error, ModuleNotFoundError)
        and missing
        and (name == missing or name.startswith(f"{missing}."))
    ):
        return (
            f"{head} was not found: {error}. Check its spelling and that its "
            "folder is on the Python path (PYTHONPATH)."
        )
    frames = traceback.extract_tb(error.__traceback__)
    # The plug-in's own line: the last frame outside importlib and this package.
    package = os.path.dirname(os.path.abspath(__file__))
    own = [
        f
        for f in frames
        if "importlib" not in f.filename
        and not os.path.abspath(f.filename).startswith(package + os.sep)
    ]
    at = f" at {own[-1].filename}:{own[-1].lineno}" if own else ""
    return f"{head} raised {type(error).__name__} while it was imported{at}: {error}"
