"""Per-shard, atomically written results: interrupted runs resume where they stopped.

A stage (an attack, the maps of one method, ...) is identified by a key: a dict of
everything its result depends on. Its results are stored per shard of image indices,
so any subset can be computed alone (another process, another machine) and merged.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

__all__ = ["StageCache", "atomic_write_text", "shards"]


def shards(indices: Sequence[int], shard_size: int) -> list[list[int]]:
    """Consecutive chunks of ``indices`` of at most ``shard_size``."""
    if shard_size < 1:
        raise ValueError(f"`shard_size` must be positive, got {shard_size}")
    values = [int(i) for i in indices]
    return [values[i : i + shard_size] for i in range(0, len(values), shard_size)]


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class StageCache:
    """Results of one stage, one file per shard of image indices.

    Args:
        root (str or Path): the run's cache directory.
        stage (str): stage name, e.g. ``"attack"`` or ``"maps"``.
        key (dict): everything the result depends on (JSON-serializable).
    """

    def __init__(self, root: str | Path, stage: str, key: dict[str, Any]) -> None:
        self.directory = Path(root) / stage / _digest(key)
        self.key = key
        self.directory.mkdir(parents=True, exist_ok=True)
        key_file = self.directory / "key.json"
        if not key_file.exists():
            atomic_write_text(key_file, json.dumps(key, indent=1, default=str))

    def path(self, indices: Sequence[int]) -> Path:
        return self.directory / f"shard_{_digest([int(i) for i in indices])}.pt"

    def load_or_compute(
        self,
        indices: Sequence[int],
        compute: Callable[[list[int]], dict[str, Any]],
    ) -> dict[str, Any]:
        """The stored result for these indices, or ``compute(indices)`` stored.

        Results must be dicts of tensors and plain Python values (they are loaded
        with ``weights_only=True``).
        """
        path = self.path(indices)
        if path.exists():
            return torch.load(path, weights_only=True)
        result = compute([int(i) for i in indices])
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save(result, tmp)
        tmp.replace(path)
        return result
