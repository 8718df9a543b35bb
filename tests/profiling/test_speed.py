"""run_speed_benchmark on a tiny model, the JSON writer, and a CLI smoke run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from captum_contrastive.atomic_files import atomic_write_json
from captum_contrastive.profiling import (
    ALL_VARIANTS,
    TinyCNN,
    build_variants,
    format_results,
    load_benchmark_model,
    run_speed_benchmark,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models on 2 threads of a busy 2-core machine spend their time in
    OpenMP barriers (100x slower); one thread keeps these tests fast."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_setup() -> tuple[TinyCNN, torch.Tensor]:
    torch.manual_seed(0)
    return TinyCNN().eval(), torch.rand(4, 3, 16, 16)


def test_all_variants_run_agree_and_are_reported() -> None:
    model, inputs = tiny_setup()
    result = run_speed_benchmark(
        model,
        inputs,
        variants=ALL_VARIANTS,
        repeats=2,
        internal_batch_size=3,
        ig_n_steps=4,
        memory="inprocess",
    )
    variants = result["variants"]
    assert set(variants) == {*ALL_VARIANTS, "egbp_chunked", "gbp_chunked"}
    for row in variants.values():
        assert len(row["times_s"]) == 2
        assert row["median_s"] > 0
        assert row["memory"]["peak_bytes"] >= 0
    settings = result["settings"]
    assert settings["internal_batch_size"] == 3
    assert settings["ig_n_steps"] == 4
    assert settings["ig_internal_batch_size"] == 32
    order = result["order"]
    assert set(order) == {"guided", "integrated_gradients"}
    assert {name for _, name in order["integrated_gradients"]} == {
        "contrastive_ig",
        "captum_ig_x2",
    }
    assert sum(len(calls) for calls in order.values()) == len(variants) * 3
    checks = {tuple(c["variants"]): c for c in result["checks"]}
    assert set(checks) == {
        ("egbp", "captum_gbp_x2"),
        ("gbp", "captum_gbp"),
        ("egbp_chunked", "egbp"),
        ("gbp_chunked", "gbp"),
        ("contrastive_ig", "captum_ig_x2"),
    }
    assert all(c["agree"] for c in checks.values()), checks
    targets = {
        (c["name"], c["metric"]): c["target"]
        for c in result["comparisons"]
        if c["target"] is not None
    }
    expected = {
        ("egbp / captum_gbp_x2", "time"): 0.80,
        ("egbp / floor", "time"): 1.10,
        ("gbp / captum_gbp", "time"): 1.05,
    }
    # a memory ratio needs a positive denominator; in-process, a tiny model's
    # floor may fit in memory the allocator already holds (growth 0)
    if variants["floor"]["memory"]["peak_bytes"] > 0:
        expected[("egbp / floor", "memory")] = 1.20
    assert targets == expected
    for comparison in result["comparisons"]:
        if comparison["target"] is not None:
            holds = comparison["ratio"] <= comparison["target"]
            assert comparison["holds"] is holds
    table = format_results(result, title="tiny")
    assert "egbp_chunked" in table and "egbp / floor" in table
    json.dumps(result)  # JSON-ready


def test_explicit_classes_are_used_by_every_variant() -> None:
    model, inputs = tiny_setup()
    target, contrast = torch.tensor([1, 2, 3, 4]), torch.tensor([0, 0, 0, 0])
    result = run_speed_benchmark(
        model,
        inputs,
        variants=["egbp", "captum_gbp_x2", "floor"],
        repeats=1,
        target=target,
        contrast_target=contrast,
        memory="off",
    )
    assert result["settings"]["target"] == [1, 2, 3, 4]
    assert result["settings"]["contrast_target"] == [0, 0, 0, 0]
    assert all(row["memory"] is None for row in result["variants"].values())
    assert all(c["metric"] == "time" for c in result["comparisons"])


def test_memory_in_a_fresh_process() -> None:
    model, inputs = tiny_setup()
    result = run_speed_benchmark(
        model, inputs, variants=["floor"], repeats=1, memory="subprocess"
    )
    measured = result["variants"]["floor"]["memory"]
    assert measured["method"] == "rss_hwm"
    assert measured["peak_bytes"] > 0
    assert measured["baseline_bytes"] > measured["peak_bytes"]


def test_bad_variant_names() -> None:
    model, inputs = tiny_setup()
    k = torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match="unknown variants"):
        build_variants(model, inputs, k, k + 1, ["nope"])
    with pytest.raises(ValueError, match="internal_batch_size"):
        build_variants(model, inputs, k, k + 1, ["egbp_chunked"])
    with pytest.raises(ValueError, match="memory mode"):
        run_speed_benchmark(model, inputs, memory="sometimes")


def test_missing_shapes_preset_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "captum_contrastive.presets.shapes_model", None)
    model, note = load_benchmark_model("shapes")
    assert model is None and "skipped" in note


def test_write_json_atomic(tmp_path: Path) -> None:
    # the benchmark writes its record with the shared atomic_write_json
    path = atomic_write_json(tmp_path / "sub" / "x.json", {"a": [1, 2]})
    assert json.loads(path.read_text()) == {"a": [1, 2]}
    atomic_write_json(path, {"a": 3})
    assert json.loads(path.read_text()) == {"a": 3}
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]


def test_cli_quick_smoke(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "speed.py"),
            "--quick",
            "--models",
            "tiny",
            "--memory",
            "inprocess",
            "--min-sample-time",
            "0",
            "--ig-steps",
            "4",
            "--internal-batch-size",
            "1",
            "--out",
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "egbp / captum_gbp_x2" in completed.stdout
    assert "Setting backward hooks" not in completed.stdout + completed.stderr
    (written,) = tmp_path.glob("speed-*.json")
    record = json.loads(written.read_text())
    environment = record["environment"]
    for key in ("torch", "captum", "torch_num_threads", "device"):
        assert environment[key] is not None
    tiny = record["models"]["tiny"]
    assert len(tiny["variants"]["egbp"]["times_s"]) == 2
    assert tiny["settings"]["internal_batch_size"] == 1
    assert "egbp_chunked" in tiny["variants"]
