"""Load the documentation's worked study example (``docs/examples/``) for a
test, and unregister it afterwards so that other tests see the built-in
studies only."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from captum_contrastive.pipeline.study_registry import UNITS, registered_units

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples"
MODULE = "map_entropy_study"


@contextmanager
def load_example() -> Iterator[ModuleType]:
    """Import ``docs/examples/map_entropy_study.py`` (registering its unit) and
    remove it from the registry and ``sys.modules`` on exit."""
    registered_units()  # the built-in units first, as a user's session has them
    before = dict(UNITS)
    spec = importlib.util.spec_from_file_location(MODULE, EXAMPLE / f"{MODULE}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(MODULE, None)
        UNITS.clear()
        UNITS.update(before)
