"""Give the memory a process freed back to the system, and read its resident
memory: the glibc detail every layer that reads shards needs.

This module imports nothing from the package.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import resource
import sys
from typing import Any

__all__ = [
    "TRIM_GROWTH_BYTES",
    "peak_rss_bytes",
    "resident_bytes",
    "return_freed_memory",
]


def resident_bytes() -> int:
    """The process's resident memory now (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return peak_rss_bytes()


#: Resident memory a process may gain over its level after the last
#: :func:`return_freed_memory` before freed memory is returned again.
TRIM_GROWTH_BYTES = 256 * 2**20
_after_last_trim: list[int] = []


@functools.cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or ``None`` (another C library)."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
    return trim


def return_freed_memory() -> bool:
    """Return the memory the process freed to the system, when its resident
    memory grew by :data:`TRIM_GROWTH_BYTES` since the last time; returns
    whether it did.

    glibc's malloc raises its mmap threshold each time a large block is freed
    (up to 32 MiB), after which blocks of a shard's size (19 MB of 224 x 224
    images) come from its heaps, where freed memory is kept for reuse rather
    than returned. A run that reads thousands of shards then grows its resident
    memory with the number of shards read, though it holds no more of them
    (measured: 3.5 GiB at 512 images against 1.4 GiB at 64). ``malloc_trim``
    hands the free pages back (about 0.1 s); calling it only after such growth
    keeps its cost to a few calls a run, and the peak to the memory in use plus
    :data:`TRIM_GROWTH_BYTES`. Fixing the mmap threshold instead would double
    the time of a convolution pass (every large block mapped afresh). Without
    glibc this does nothing.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    resident = resident_bytes()
    if _after_last_trim and resident - _after_last_trim[0] < TRIM_GROWTH_BYTES:
        return False
    trim(0)
    _after_last_trim[:] = [resident_bytes()]
    return True


def peak_rss_bytes() -> int:
    """The process's peak resident memory so far, in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024
