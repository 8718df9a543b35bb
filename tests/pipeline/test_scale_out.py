"""A run split over torchrun ranks or ``--shard`` parts gives the numbers of one
process; a killed rank resumes; a raising rank ends the job."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
RUN_ALL = ROOT / "benchmarks" / "run_all.py"
FAULTY = Path(__file__).with_name("faulty_rank.py")
#: Small, but with every kind of unit: two attacks (one C&W), clean and
#: adversarial maps, controls, and several studies to share out.
SMALL_RUN = """
n_images = 8
shard_size = 4
select_shard_size = 3
methods = ["enhanced_gbp", "saliency"]
attacks = ["cw", "fgsm"]
studies = ["recovery", "adversarial", "sanity", "road"]
kappas = [0.0]
sweep_kappas = [0.0]
cw_steps = 10
cw_binary_search_steps = 1
n_resamples = 100
control_runs = ["cw-k0"]
sanity_images = 4
sanity_depth = 1
sanity_independent_layers = 1
road_images = 4
"""
#: What may differ between a split and an unsplit run: timings and measured
#: memory, and the output folder.
UNCOMPARED_RUN_FIELDS = ("resident_gib", "peak_rss_gib", "cuda_peak_gib")


def _options(tmp: Path, out: Path) -> list[str]:
    config = tmp / "small.toml"
    config.write_text(SMALL_RUN)
    return ["--config", str(config), "--out", str(out), "--no-progress"]


def _environment() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}


def _process(command: list[str], timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=_environment()
    )


def _single(options: list[str]) -> subprocess.CompletedProcess:
    return _process([sys.executable, str(RUN_ALL), *options])


def _torchrun(script: Path, arguments: list[str]) -> subprocess.CompletedProcess:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    launcher += ["--nproc_per_node=2", "--monitor-interval=0.5"]
    return _process([*launcher, str(script), *arguments])


def _comparable(out: Path) -> str:
    results = json.loads((out / "results.json").read_text())
    results.pop("timings")
    results.pop("rank_timings", None)
    results.get("sanity", {}).pop("cost", None)  # seconds, like the timings
    results["run"]["config"].pop("out")
    for name in UNCOMPARED_RUN_FIELDS:
        results["run"]["memory"].pop(name)
    return json.dumps(results, sort_keys=True)


def _cache_files(out: Path) -> dict[str, int]:
    """Every stored shard of the attack, map, recovery-curve and study stages,
    with its mtime."""
    found = {}
    for stage in ("attack", "maps", "recovery_curves", "study"):
        for path in (out / "cache" / stage).glob("*/shard_*.pt"):
            found[str(path.relative_to(out))] = path.stat().st_mtime_ns
    return found


def _assert_same_numbers(out: Path, reference: Path) -> None:
    assert (out / "summary.csv").read_bytes() == (
        reference / "summary.csv"
    ).read_bytes()
    assert _comparable(out) == _comparable(reference)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The run in one process."""
    tmp = tmp_path_factory.mktemp("one_process")
    done = _single(_options(tmp, tmp / "out"))
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp / "out"


def test_two_torchrun_ranks_give_the_numbers_of_one_process(reference, tmp_path):
    out = tmp_path / "out"
    done = _torchrun(RUN_ALL, _options(tmp_path, out))
    assert done.returncode == 0, done.stderr[-3000:]
    _assert_same_numbers(out, reference)
    ranks = json.loads((out / "results.json").read_text())["rank_timings"]
    assert [r["rank"] for r in ranks] == [0, 1]
    assert all(r["work_items"] > 0 and r["studies"] for r in ranks)
    assert "torchrun rank 1 of 2" in done.stdout


def test_shards_then_a_merge_give_the_numbers_of_one_process(reference, tmp_path):
    out = tmp_path / "out"
    options = _options(tmp_path, out)
    second = _single([*options, "--shard", "1/2"])
    assert second.returncode == 0, second.stderr[-3000:]
    assert "shard 1/2" in second.stdout
    assert not (out / "summary.csv").exists()
    early = _single([*options, "--merge-only"])
    assert early.returncode == 3
    assert "work items are not in the cache" in early.stderr
    assert "shard 0 (4 images" in early.stderr
    assert not (out / "summary.csv").exists()
    first = _single([*options, "--shard", "0/2"])
    assert first.returncode == 0, first.stderr[-3000:]
    shards_done = _cache_files(out)
    assert any("recovery_curves" in name for name in shards_done)
    merged = _single([*options, "--merge-only"])
    assert merged.returncode == 0, merged.stderr[-3000:]
    _assert_same_numbers(out, reference)
    merged_files = _cache_files(out)
    assert {k: merged_files[k] for k in shards_done} == shards_done
    # Under torchrun the ranks scan the selection in waves; a read-only merge
    # must not ask for scan chunks past the choice's end, which no part made.
    again = _torchrun(RUN_ALL, [*options, "--merge-only"])
    assert again.returncode == 0, again.stderr[-3000:]
    assert _cache_files(out) == merged_files, "a merge on a full cache computed"
    _assert_same_numbers(out, reference)


def test_a_killed_rank_resumes_without_losing_work(reference, tmp_path):
    out = tmp_path / "out"
    options = _options(tmp_path, out)
    killed = _torchrun(FAULTY, ["kill", "1", *options])
    assert killed.returncode != 0
    assert not (out / "summary.csv").exists()
    before = _cache_files(out)
    assert before, "no unit was finished before the kill"
    rerun = _torchrun(RUN_ALL, options)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    after = _cache_files(out)
    assert {k: after[k] for k in before} == before, "finished units were recomputed"
    _assert_same_numbers(out, reference)


def test_a_raising_rank_ends_the_job_with_its_error(tmp_path):
    start = time.perf_counter()
    done = _torchrun(FAULTY, ["raise", "1", *_options(tmp_path, tmp_path / "out")])
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-3000:]
    assert time.perf_counter() - start < 120, output[-3000:]
    # torchrun's failure summary (the failed ranks, the first one as the root
    # cause) carries the raising rank's error.
    summary = output.partition("Failures:")[2]
    assert "injected failure on rank 1" in summary, output[-3000:]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_two_cuda_ranks_sharing_one_gpu_give_the_numbers_of_one_cuda_process(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    # One visible GPU: the two ranks share it (gloo allows that, NCCL does not).
    environment = {**_environment(), "CUDA_VISIBLE_DEVICES": "0"}
    single = [
        sys.executable,
        str(RUN_ALL),
        *_options(tmp_path, one),
        "--device",
        "cuda",
    ]
    done = subprocess.run(single, capture_output=True, text=True, env=environment)
    assert done.returncode == 0, done.stderr[-3000:]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    split = [*launcher, "--nproc_per_node=2", str(RUN_ALL), *_options(tmp_path, two)]
    done = subprocess.run(
        [*split, "--device", "cuda"], capture_output=True, text=True, env=environment
    )
    assert done.returncode == 0, done.stderr[-3000:]
    _assert_same_numbers(two, one)
