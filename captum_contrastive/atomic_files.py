"""Write files so that a reader never sees a partial one, whoever else writes.

Every write goes to a uniquely named temporary file in the destination's folder
(``tempfile.mkstemp``: unique across processes *and* threads), is flushed and
fsynced, then renamed over the destination. Two processes writing the same path
leave one complete file, never a mix; a crash leaves the old file or none.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
]


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A unique temporary path beside ``path``, renamed over it on success.

    For writers that want a file name (``savefig``, ``torch.save``). The suffix is
    kept, so format detection by extension still works. On error the temporary
    file is removed and ``path`` is left as it was.

    Examples::

        >>> with atomic_path("out/figure.png") as tmp:
        ...     figure.savefig(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _atomic_write(path: str | Path, mode: str, write: Callable[[IO], Any]) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, mode) as handle:
        write(handle)
        handle.flush()
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    return _atomic_write(path, "wb", lambda handle: handle.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(
    path: str | Path,
    data: Any,
    indent: int | None = 1,
    default: Callable[[Any], Any] | None = None,
) -> Path:
    """Write ``data`` as JSON to ``path`` atomically; returns ``path``.

    Args:
        path (str or Path): the destination; parent folders are created.
        data (Any): JSON-serializable data (``default`` converts the rest).
        indent (int, optional): JSON indentation. Default: 1
        default (callable, optional): ``json.dumps``'s ``default``.
    """
    return atomic_write_text(path, json.dumps(data, indent=indent, default=default))
