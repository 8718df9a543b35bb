"""The run's folder: can it be written, is there room for the cache, and what a
failed write means in the user's words."""

from __future__ import annotations

import errno
import math
import os
import shutil
from pathlib import Path

__all__ = [
    "NoRoomError",
    "OutFolderError",
    "cache_bytes_estimate",
    "check_free_space",
    "check_run_folder",
    "check_writable",
    "folder_bytes",
    "write_error",
]

#: The errors of a write the user can fix by choosing another folder.
WRITE_ERRNOS = frozenset(
    {
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EEXIST,
    }
)


class OutFolderError(ValueError):
    """The output folder cannot be used; the message says why and what to do."""


class NoRoomError(OutFolderError):
    """The cache a run will write does not fit the free space of its folder."""


def _existing_ancestor(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable(path: Path, option: str = "`out`") -> None:
    """Raise :class:`OutFolderError` unless ``path`` is, or can be created as, a
    folder this process can write into.

    Args:
        path (Path): the folder.
        option (str): how the message names it, e.g. ``"`--out`"``.
    """
    found = _existing_ancestor(path)
    if found.exists() and not found.is_dir():
        where = (
            "is a file"
            if found == Path(os.path.abspath(path))
            else (f"cannot be created: {found} is a file")
        )
        raise OutFolderError(
            f"{option} {path} {where}; give a folder path (it is created if missing)"
        )
    if not os.access(found, os.W_OK | os.X_OK):
        rerender = (
            ", or re-render a finished run's reports from it with `--report-out DIR`"
            if option == "`--out`"
            else ""
        )
        raise OutFolderError(
            f"{option} {path} is read-only ({found} cannot be written); choose a "
            f"writable folder{rerender}"
        )


def check_run_folder(out: Path) -> None:
    """Raise :class:`OutFolderError` unless ``out`` holds a run's cache."""
    if not (Path(out) / "cache").is_dir():
        raise OutFolderError(
            f"`out` {out} holds no run to re-render (no {Path(out) / 'cache'}); "
            "`--report-out` re-renders the reports of a finished run in `--out`"
        )


def folder_bytes(path: Path) -> int:
    """The bytes of the files under ``path`` (0 when it does not exist)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def cache_bytes_estimate(
    image_bytes: int, n_images: int, attack_runs: int, map_requests: int
) -> int:
    """About the bytes a run's attacks and maps take in its cache: per attack
    run the clean and adversarial images, and per map request one map of an
    image's size per image (an upper bound: single-channel maps take less).

    Examples::

        >>> cache_bytes_estimate(3 * 224 * 224 * 4, 100, 2, 10) / 2**20
        803.90625
    """
    return image_bytes * n_images * (2 * attack_runs + map_requests)


def _size(size: float) -> str:
    """Bytes as a reader would say them: ``1.50 GiB``, ``12.0 MiB``, ``3 KiB``."""
    if size >= 2**30:
        return f"{size / 2**30:.2f} GiB"
    if size >= 2**20:
        return f"{size / 2**20:.1f} MiB"
    return f"{math.ceil(size / 2**10):g} KiB"


def check_free_space(out: Path, needed: int, cached: int = 0) -> None:
    """Raise :class:`NoRoomError` when the ``needed`` bytes of a run's cache,
    less the ``cached`` bytes already there, exceed the free space of ``out``'s
    file system."""
    missing = max(0, needed - cached)
    free = shutil.disk_usage(_existing_ancestor(out)).free
    if missing <= free:
        return
    raise NoRoomError(
        f"the run's cache needs about {_size(missing)} more (an estimate: "
        f"{_size(needed)} in all, {_size(cached)} cached already) but {out} has "
        f"{_size(free)} free; free some space, choose another `out`, or lower "
        "`n_images`"
    )


def write_error(error: OSError) -> str | None:
    """A one-line message for a failed write the user can fix, naming the path;
    ``None`` for other errors."""
    if error.errno not in WRITE_ERRNOS:
        return None
    path = error.filename or "the output folder"
    reason = error.strerror or str(error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        advice = (
            "free some space or choose another `out`; then run the same command "
            "again to resume"
        )
    else:
        advice = (
            "choose a writable `out` (or `--report-out DIR` to re-render a "
            "finished run)"
        )
    return f"cannot write {path} ({reason}): {advice}"
