"""Verified, per-shard results on disk, safe to share between processes.

A stage (the selection, an attack, the maps of one method, a study) is identified
by a :class:`StageKey`: everything its result depends on, as content (the
settings, the model's fingerprint, the data's identity, the keys of the stages it
consumes). Its results are stored per shard of image indices, so any subset can be
computed alone (another process, another machine) and merged.

Each shard file holds a SHA-256 checksum of its payload, the digest of the key it
was computed for, its indices and a digest of the inputs it was computed from. A
shard that is missing, unreadable, truncated, or does not match is recomputed,
with a :class:`StaleShardWarning` naming the file. Writes are atomic with unique
temporary names, and each shard is computed under an exclusive file lock, so two
processes on one folder share the work: the second waits for a shard the first
is computing, then reads it.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from captum_contrastive.atomic_files import atomic_write_bytes, atomic_write_text
from captum_contrastive.fingerprint import digest

__all__ = [
    "MissingShardError",
    "StageCache",
    "StageKey",
    "StaleShardWarning",
    "file_lock",
    "shards",
]

_MAGIC = b"captum-contrastive shard v1\n"


class StaleShardWarning(UserWarning):
    """A cached shard could not be used and is being recomputed."""


class MissingShardError(LookupError):
    """A read-only cache has no usable shard for the indices asked for."""


def shards(indices: Sequence[int], shard_size: int) -> list[list[int]]:
    """Consecutive chunks of ``indices`` of at most ``shard_size``."""
    if shard_size < 1:
        raise ValueError(f"`shard_size` must be positive, got {shard_size}")
    values = [int(i) for i in indices]
    return [values[i : i + shard_size] for i in range(0, len(values), shard_size)]


@dataclass(frozen=True)
class StageKey:
    """Everything one stage's result depends on.

    Attributes:
        stage: the stage's kind, e.g. ``"attack"`` (a folder name).
        parts: JSON-ready content: settings, fingerprints, identities, and the
            :attr:`digest` of each upstream key.
    """

    stage: str
    parts: dict[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """The key's content digest (its cache folder name)."""
        return digest({"stage": self.stage, **self.parts}, length=24)

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage, "digest": self.digest, **self.parts}


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created), held inside the context."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _encode(payload: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    body = buffer.getvalue()
    return _MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def _decode(data: bytes) -> dict[str, Any]:
    """The payload of a shard file; ``ValueError`` says what is wrong."""
    if not data:
        raise ValueError("empty")
    if not data.startswith(_MAGIC):
        raise ValueError("not a shard file of this version")
    checksum, _, body = data[len(_MAGIC) :].partition(b"\n")
    if hashlib.sha256(body).hexdigest().encode() != checksum:
        raise ValueError("checksum mismatch (truncated or overwritten)")
    try:
        return torch.load(io.BytesIO(body), weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable payload
        raise ValueError(f"unreadable ({type(error).__name__}: {error})") from error


class StageCache:
    """Results of one stage, one verified file per shard of image indices.

    Args:
        root (str or Path): the run's cache directory.
        key (StageKey): everything the result depends on.
        read_only (bool): never compute: a missing shard raises
            :class:`MissingShardError` (``--merge-only``).

    Examples::

        >>> cache = StageCache("results/x/cache", StageKey("maps", {...}))
        >>> maps = cache.load_or_compute([0, 1, 2], compute)["maps"]
    """

    def __init__(
        self, root: str | Path, key: StageKey, read_only: bool = False
    ) -> None:
        self.key = key
        self.read_only = read_only
        self.directory = Path(root) / key.stage / key.digest
        if read_only:  # nothing is written: the cache may be on read-only media
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        key_file = self.directory / "key.json"
        if not key_file.exists():
            atomic_write_text(key_file, json.dumps(key.to_json(), indent=1))

    def path(self, indices: Sequence[int]) -> Path:
        """The shard file of ``indices``."""
        return self.directory / f"shard_{digest([int(i) for i in indices])}.pt"

    def _check(
        self, path: Path, indices: list[int], inputs: str | None
    ) -> dict[str, Any]:
        """The shard's payload; ``ValueError`` or ``OSError`` says why not."""
        payload = _decode(path.read_bytes())
        if payload.get("key") != self.key.digest:
            raise ValueError("written for another stage key")
        if payload.get("indices") != indices:
            raise ValueError("written for other image indices")
        if inputs is not None and payload.get("inputs") != inputs:
            raise ValueError("computed from other input images or targets")
        return payload

    def has(self, indices: Sequence[int]) -> bool:
        """Whether a usable shard of ``indices`` is stored (checksum, key and
        indices verified; the inputs are not known here)."""
        indices = [int(i) for i in indices]
        path = self.path(indices)
        try:
            self._check(path, indices, None)
        except (OSError, ValueError):
            return False
        return True

    def _read(
        self, path: Path, indices: list[int], inputs: str | None
    ) -> dict[str, Any] | None:
        if not path.exists():
            return None
        try:
            payload = self._check(path, indices, inputs)
        except (OSError, ValueError) as error:
            warnings.warn(
                f"cache shard {path} is unusable: {error}; recomputing it",
                StaleShardWarning,
                stacklevel=3,
            )
            return None
        return payload["result"]

    def load_or_compute(
        self,
        indices: Sequence[int],
        compute: Callable[[list[int]], dict[str, Any]],
        inputs: str | None = None,
    ) -> dict[str, Any]:
        """The stored, verified result for these indices, or ``compute(indices)``.

        Args:
            indices (sequence of int): the shard's dataset indices.
            compute (callable): ``compute(indices) -> dict`` of tensors and plain
                Python values (stored and loaded with ``weights_only=True``).
            inputs (str, optional): a digest of the inputs the result is computed
                from (images, targets); a stored shard with another one is stale.

        Returns:
            The result dict.
        """
        indices = [int(i) for i in indices]
        path = self.path(indices)
        try:
            # Files are written atomically: a usable one is read without the
            # lock, so processes reading a shared cache never queue.
            return self._check(path, indices, inputs)["result"]
        except (OSError, ValueError):
            pass
        if self.read_only:  # no lock: nothing is written, nothing is waited for
            result = self._read(path, indices, inputs)
            if result is None:
                raise MissingShardError(
                    f"{self.key.stage} shard of images {_span(indices)} is not in "
                    f"the cache ({path})"
                )
            return result
        with file_lock(path.with_suffix(".lock")):
            result = self._read(path, indices, inputs)
            if result is None:
                result = compute(indices)
                payload = {
                    "key": self.key.digest,
                    "indices": indices,
                    "inputs": inputs,
                    "result": result,
                }
                atomic_write_bytes(path, _encode(payload))
        return result


def _span(indices: list[int]) -> str:
    """``first..last`` of a shard's indices (``none`` for a stage of no images)."""
    return f"{indices[0]}..{indices[-1]}" if indices else "(none)"
