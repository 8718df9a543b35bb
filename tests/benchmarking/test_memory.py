"""Peak-memory measurement: an allocation of known size is seen."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

from captum_contrastive.benchmarking import memory
from captum_contrastive.benchmarking.memory import (
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
    return torch.ones(mebibytes * MIB // 4)  # float32, every page written


@linux_only
def test_peak_of_a_known_allocation() -> None:
    measurement, output = measure_peak_rss(lambda: allocate(64))
    assert output.numel() * 4 == 64 * MIB
    assert measurement.method in ("rss_hwm", "rss_sampled")
    assert 60 * MIB <= measurement.peak_bytes <= 100 * MIB
    assert measurement.baseline_bytes > 0


@linux_only
def test_a_freed_temporary_still_counts() -> None:
    def temporary_then_small() -> float:
        return float(allocate(48).sum())

    measurement, value = measure_peak_rss(temporary_then_small)
    assert value == 48 * MIB // 4
    assert measurement.peak_bytes >= 44 * MIB


@linux_only
def test_sampling_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_reset_high_water_mark", lambda: False)
    measurement, _ = measure_peak_rss(lambda: allocate(64))
    assert measurement.method == "rss_sampled"
    assert 60 * MIB <= measurement.peak_bytes <= 100 * MIB


@linux_only
def test_dispatch_on_cpu_and_current_rss() -> None:
    assert current_rss_bytes() > 0
    measurement, _ = measure_peak_memory(lambda: allocate(32), "cpu")
    assert measurement.peak_bytes >= 28 * MIB


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
