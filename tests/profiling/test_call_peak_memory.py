"""Peak-memory measurement: an allocation of known size is seen."""

from __future__ import annotations

import json
import mmap
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

from captum_contrastive.profiling import call_peak_memory as memory
from captum_contrastive.profiling.call_peak_memory import (
    current_rss_bytes,
    measure_peak_memory,
    measure_peak_rss,
    run_child,
)

MIB = 2**20
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc/self"
)


def allocate(mebibytes: int) -> torch.Tensor:
    """A float32 tensor with every page written (for fresh processes)."""
    return torch.ones(mebibytes * MIB // 4)


def fresh_pages(mebibytes: int) -> mmap.mmap:
    """An anonymous mapping with every page written: the RSS grows by exactly this
    much. (A tensor of the same size may be served from heap memory that earlier
    tests freed but the process still holds; then the RSS does not grow, which is
    why the benchmark measures in fresh processes.)"""
    block = mmap.mmap(-1, mebibytes * MIB)
    torch.frombuffer(block, dtype=torch.uint8).fill_(1)
    return block


@linux_only
def test_peak_of_a_known_allocation() -> None:
    measurement, block = measure_peak_rss(lambda: fresh_pages(64))
    assert len(block) == 64 * MIB
    assert measurement.method in ("rss_hwm", "rss_sampled")
    assert 60 * MIB <= measurement.peak_bytes <= 100 * MIB
    assert measurement.baseline_bytes > 0


@linux_only
def test_a_freed_temporary_still_counts() -> None:
    def temporary() -> int:
        block = fresh_pages(48)
        size = len(block)
        block.close()  # unmapped: the RSS drops again before the call returns
        return size

    before = current_rss_bytes()
    measurement, size = measure_peak_rss(temporary)
    assert size == 48 * MIB
    assert measurement.peak_bytes >= 44 * MIB
    assert current_rss_bytes() < before + 44 * MIB


@linux_only
def test_sampling_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_reset_high_water_mark", lambda: False)
    measurement, _ = measure_peak_rss(lambda: fresh_pages(64))
    assert measurement.method == "rss_sampled"
    assert 60 * MIB <= measurement.peak_bytes <= 100 * MIB


@linux_only
def test_dispatch_on_cpu_and_current_rss() -> None:
    assert current_rss_bytes() > 0
    measurement, _ = measure_peak_memory(lambda: fresh_pages(40), "cpu")
    assert measurement.peak_bytes >= 38 * MIB


def child_allocates(args: Sequence[str], result_path: str) -> None:
    """A child for run_child: measures an allocation of ``args[0]`` MiB."""
    measurement, _ = measure_peak_rss(lambda: allocate(int(args[0])))
    result = measurement.to_dict()
    result["env"] = memory.CHILD_ENV
    Path(result_path).write_text(json.dumps(result))


@linux_only
def test_run_child_measures_in_a_fresh_process() -> None:
    result = run_child(f"{__name__}:child_allocates", ["40"])
    assert result["method"] == "rss_hwm"
    assert 38 * MIB <= result["peak_bytes"] <= 60 * MIB


def test_run_child_reports_failure() -> None:
    with pytest.raises(RuntimeError, match="exit code"):
        run_child("json:no_such_function", [])
