"""Run settings from a file: ``--config run.toml`` (or the ``config.json`` a run
writes beside its results, which is enough to rerun it)."""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path
from typing import Any

from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.options import CLI_ONLY

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["CLI_ONLY_KEYS", "read_config_file", "resolved_config"]

#: Keys a file may set besides the config fields: the command-line switches
#: of :data:`~captum_contrastive.pipeline.options.CLI_ONLY` marked ``in_file``.
CLI_ONLY_KEYS: tuple[str, ...] = tuple(o.name for o in CLI_ONLY if o.in_file)


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ValueError(f"`--config` {path} does not exist")
    try:
        if path.suffix == ".json":
            return json.loads(path.read_text())
        if path.suffix == ".toml":
            return tomllib.loads(path.read_text())
    except (ValueError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"`--config` {path} cannot be read: {error}") from error
    raise ValueError(f"`--config` {path} must be a .toml or .json file")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The settings in ``path``: config field names (``n_images`` or
    ``n-images``), lists as tuples; an unknown key is refused, naming it.

    Args:
        path (str or Path): a ``.toml`` or ``.json`` file.

    Returns:
        dict of config fields (and :data:`CLI_ONLY_KEYS`).
    """
    path = Path(path)
    values = _read(path)
    if not isinstance(values, dict):
        raise ValueError(f"`--config` {path} must hold a table of settings")
    allowed = set(BenchmarkConfig.field_names()) | set(CLI_ONLY_KEYS)
    settings = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in allowed:
            close = difflib.get_close_matches(name, sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"`--config` {path} sets unknown key {key!r}{hint}; the keys are "
                f"the config fields: {sorted(allowed)}"
            )
        settings[name] = tuple(value) if isinstance(value, list) else value
    return settings


def resolved_config(config: BenchmarkConfig) -> dict[str, Any]:
    """Every field of ``config``, JSON-ready: ``--config`` with it reruns the run."""
    return config.to_dict()
