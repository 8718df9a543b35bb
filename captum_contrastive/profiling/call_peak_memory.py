"""Peak-memory measurement of one call, on the CPU (resident set) or on CUDA.

CPU
    PyTorch has no allocator statistics for CPU tensors, so the peak is read from
    the operating system: the growth of the process's resident set size (RSS) over
    the call. On Linux the kernel keeps the high-water mark of the RSS (``VmHWM`` in
    ``/proc/self/status``) and resets it to the current RSS when ``"5"`` is written
    to ``/proc/self/clear_refs``. :func:`measure_peak_rss` resets it, reads the
    baseline RSS, runs the call and reads the mark: an exact peak, with no sampling
    that could miss a short spike. Where ``clear_refs`` cannot be written, a
    background thread samples ``/proc/self/statm`` every 0.5 ms instead (the method
    is recorded in the result).

    The RSS only drops when the C allocator hands freed memory back to the kernel.
    glibc keeps freed blocks below its (dynamic, up to 32 MiB) mmap threshold in
    its heap, so a second call in the same process may reuse them and show a
    smaller growth. The benchmark therefore measures each variant in a *fresh
    subprocess* (:func:`run_child`) started with ``MALLOC_MMAP_THRESHOLD_=65536``,
    which makes glibc serve every block of 64 KiB or more with its own ``mmap`` and
    unmap it on free, so the RSS follows the live tensors closely.

CUDA
    ``torch.cuda.reset_peak_memory_stats`` then ``max_memory_allocated`` minus the
    memory allocated before the call (:func:`measure_peak_cuda`): exact, and
    in-process is fine because the caching allocator keeps its own statistics.
"""

from __future__ import annotations

import gc
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "CHILD_ENV",
    "MemoryMeasurement",
    "current_rss_bytes",
    "measure_peak_cuda",
    "measure_peak_memory",
    "measure_peak_rss",
    "run_child",
    "settle_allocator",
]

#: Environment of the fresh subprocesses that measure CPU memory (see module doc).
CHILD_ENV: dict[str, str] = {"MALLOC_MMAP_THRESHOLD_": "65536"}

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_SAMPLE_INTERVAL_S = 0.0005


@dataclass
class MemoryMeasurement:
    r"""The peak memory of one call.

    Attributes:
        peak_bytes (int): the largest memory in use during the call, minus the
            memory in use just before it (RSS on the CPU, allocated bytes on CUDA).
        baseline_bytes (int): the memory in use just before the call.
        method (str): ``"rss_hwm"`` (kernel high-water mark), ``"rss_sampled"``
            (sampling thread) or ``"cuda_max_allocated"``.
    """

    peak_bytes: int
    baseline_bytes: int
    method: str

    def to_dict(self) -> dict[str, Any]:
        r"""A JSON-ready dict."""
        return asdict(self)


def current_rss_bytes() -> int:
    r"""The resident set size of this process, in bytes.

    Returns:
        *int* bytes, from ``/proc/self/statm`` (Linux) or, elsewhere, the peak
        RSS reported by ``getrusage`` (an upper bound).
    """
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except OSError:
        return _max_rss_bytes()


def _max_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def _reset_high_water_mark() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def _high_water_mark_bytes() -> int:
    with open("/proc/self/status") as status:
        match = re.search(r"^VmHWM:\s+(\d+)\s+kB", status.read(), re.MULTILINE)
    if match is None:
        raise OSError("no VmHWM line in /proc/self/status")
    return int(match.group(1)) * 1024


class _RssSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = current_rss_bytes()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(_SAMPLE_INTERVAL_S):
            self.peak = max(self.peak, current_rss_bytes())

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return max(self.peak, current_rss_bytes())


def measure_peak_rss(fn: Callable[[], Any]) -> tuple[MemoryMeasurement, Any]:
    r"""Run ``fn()`` once and measure how far the process's RSS rose above its start.

    The result counts every byte the call touched for the first time and still held
    at its peak: tensors, autograd buffers, library scratch space, and (in a warm
    process) nothing that the C allocator could serve from memory it kept from
    earlier calls. Run it in a fresh process (see :func:`run_child`) for numbers
    that do not depend on what ran before.

    Args:
        fn (Callable[[], Any]): the call to measure.

    Returns:
        *(MemoryMeasurement, Any)*: the measurement and ``fn``'s return value.

    Examples::

        >>> measurement, _ = measure_peak_rss(lambda: torch.ones(2**24))  # 64 MiB
        >>> measurement.peak_bytes > 60 * 2**20
        True
    """
    gc.collect()
    exact = _reset_high_water_mark()
    sampler = None
    if exact:
        baseline = current_rss_bytes()
    else:
        sampler = _RssSampler()
        baseline = current_rss_bytes()
        sampler.start()
    try:
        output = fn()
    finally:
        peak = _high_water_mark_bytes() if sampler is None else sampler.stop()
    method = "rss_hwm" if sampler is None else "rss_sampled"
    return MemoryMeasurement(max(0, peak - baseline), baseline, method), output


def measure_peak_cuda(
    fn: Callable[[], Any], device: torch.device | str | None = None
) -> tuple[MemoryMeasurement, Any]:
    r"""Run ``fn()`` once and measure the peak CUDA memory it allocated.

    Args:
        fn (Callable[[], Any]): the call to measure.
        device (torch.device or str, optional): the CUDA device. Default: None
            (the current device).

    Returns:
        *(MemoryMeasurement, Any)*: ``max_memory_allocated`` during the call minus
        ``memory_allocated`` before it, and ``fn``'s return value.
    """
    gc.collect()
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    baseline = torch.cuda.memory_allocated(device)
    output = fn()
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device)
    measurement = MemoryMeasurement(
        max(0, peak - baseline), baseline, "cuda_max_allocated"
    )
    return measurement, output


def measure_peak_memory(
    fn: Callable[[], Any], device: torch.device | str = "cpu"
) -> tuple[MemoryMeasurement, Any]:
    r"""In-process peak memory of ``fn()`` on ``device``: RSS on the CPU, CUDA stats
    on a CUDA device.

    Args:
        fn (Callable[[], Any]): the call to measure.
        device (torch.device or str): where ``fn`` computes. Default: ``"cpu"``

    Returns:
        *(MemoryMeasurement, Any)*: the measurement and ``fn``'s return value.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return measure_peak_cuda(fn, device)
    return measure_peak_rss(fn)


def settle_allocator() -> None:
    r"""Put glibc's malloc into the state of a process that has used large tensors.

    glibc serves a block above its *mmap threshold* with its own ``mmap`` (fresh,
    zeroed pages on every allocation: page faults) and returns the free space at
    the top of its heap to the kernel above a *trim threshold*. Both start low
    (128 KiB) and rise, up to 32 MiB (64-bit), whenever a block served by ``mmap``
    is freed. So the speed of a variant depends on the largest tensor freed earlier
    in the process: on the shapes model (batch 64, 32x32) Captum's GuidedBackprop
    ran 20% faster after one 30 MiB tensor had been freed, ours 7% faster, so
    ``gbp / captum_gbp`` moved from 0.97-1.03 to 1.10-1.20 depending on whether
    vgg16 ran first. Allocating and freeing one block just under 32 MiB raises the
    threshold to its cap, so every benchmark starts from the same state, the one a
    long-running process that has handled images and models is in anyway. Harmless
    with other allocators; no effect when ``MALLOC_MMAP_THRESHOLD_`` fixes the
    threshold (as in the memory subprocesses).

    Examples::

        >>> settle_allocator()
    """
    block = torch.empty(32 * 2**20 - 2**16, dtype=torch.uint8)
    block.fill_(0)
    del block


def run_child(
    entry: str,
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    r"""Run ``module:function`` in a fresh Python process and return its JSON result.

    The child is called as ``function(args, result_path)`` and must write a JSON
    object to ``result_path``. It inherits ``sys.path`` (through ``PYTHONPATH``) and
    gets :data:`CHILD_ENV` plus ``env``.

    Args:
        entry (str): ``"package.module:function"``.
        args (Sequence[str]): string arguments for the child.
        env (Mapping[str, str], optional): more environment variables.
            Default: None
        timeout (float, optional): seconds before the child is killed.
            Default: None

    Returns:
        *dict* the child's JSON result.

    Raises:
        RuntimeError: the child failed; the message holds the end of its stderr.
    """
    module, function = entry.split(":")
    code = (
        "import importlib, sys\n"
        f"fn = getattr(importlib.import_module({module!r}), {function!r})\n"
        "fn(sys.argv[1:-1], sys.argv[-1])\n"
    )
    child_env = dict(os.environ)
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    child_env.update(CHILD_ENV)
    child_env.update(env or {})
    with tempfile.TemporaryDirectory(prefix="cc-memory-") as tmp:
        result_path = Path(tmp) / "result.json"
        completed = subprocess.run(
            [sys.executable, "-c", code, *args, str(result_path)],
            env=child_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if completed.returncode != 0 or not result_path.exists():
            raise RuntimeError(
                f"memory child {entry} {list(args)} failed with exit code "
                f"{completed.returncode}:\n{completed.stderr[-3000:]}"
            )
        return json.loads(result_path.read_text())
