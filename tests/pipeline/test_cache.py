import io
import multiprocessing
import warnings

import pytest
import torch

from captum_contrastive.pipeline.cache import (
    StageCache,
    StageKey,
    StaleShardWarning,
    shards,
)

KEY = StageKey("stage", {"a": 1})


def _double(indices: list[int]) -> dict:
    return {"values": torch.tensor(indices) * 2}


def test_shards_split_in_order() -> None:
    assert shards([5, 6, 7, 8, 9], 2) == [[5, 6], [7, 8], [9]]
    with pytest.raises(ValueError, match="shard_size"):
        shards([1], 0)


def test_key_digest_is_content() -> None:
    assert (
        StageKey("s", {"a": 1, "b": 2}).digest == StageKey("s", {"b": 2, "a": 1}).digest
    )
    assert StageKey("s", {"a": 1}).digest != StageKey("s", {"a": 2}).digest
    assert StageKey("s", {"a": 1}).digest != StageKey("t", {"a": 1}).digest


def test_load_or_compute_resumes_without_recomputing(tmp_path) -> None:
    calls = []

    def compute(indices: list[int]) -> dict:
        calls.append(list(indices))
        return _double(indices)

    first = StageCache(tmp_path, KEY).load_or_compute([1, 2], compute)
    again = StageCache(tmp_path, KEY).load_or_compute([1, 2], compute)
    assert calls == [[1, 2]]
    assert torch.equal(first["values"], again["values"])
    StageCache(tmp_path, StageKey("stage", {"a": 2})).load_or_compute([1, 2], compute)
    assert len(calls) == 2
    assert not list(tmp_path.rglob("*.tmp*"))


def test_interrupted_compute_leaves_no_shard(tmp_path) -> None:
    cache = StageCache(tmp_path, KEY)

    def fail(indices: list[int]) -> dict:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.load_or_compute([1], fail)
    assert not cache.path([1]).exists()


def _valid_torch_bytes() -> bytes:
    buffer = io.BytesIO()
    torch.save({"values": torch.tensor([7, 7])}, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: _valid_torch_bytes(), id="overwritten-loadable"),
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: data[:-3] + b"xyz", id="flipped-bytes"),
    ],
)
def test_damaged_shard_is_recomputed_with_a_warning_naming_it(tmp_path, damage) -> None:
    cache = StageCache(tmp_path, KEY)
    cache.load_or_compute([1, 2], _double)
    path = cache.path([1, 2])
    path.write_bytes(damage(path.read_bytes()))
    with pytest.warns(StaleShardWarning, match=str(path)):
        result = cache.load_or_compute([1, 2], _double)
    assert torch.equal(result["values"], torch.tensor([2, 4]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = StageCache(tmp_path, KEY).load_or_compute([1, 2], _double)
    assert torch.equal(again["values"], torch.tensor([2, 4]))


def test_shard_of_another_key_or_other_inputs_is_not_used(tmp_path) -> None:
    cache = StageCache(tmp_path, KEY)
    cache.load_or_compute([1, 2], _double, inputs="images-a")
    with pytest.warns(StaleShardWarning, match="other input"):
        cache.load_or_compute([1, 2], lambda i: {"values": torch.tensor(i)}, "images-b")
    other = StageCache(tmp_path, StageKey("stage", {"a": 3}))
    other.path([1, 2]).write_bytes(cache.path([1, 2]).read_bytes())
    with pytest.warns(StaleShardWarning, match="another stage key"):
        other.load_or_compute([1, 2], _double)


def _compute_in_process(root: str, log: str, barrier) -> list[int]:
    barrier.wait()
    cache = StageCache(root, KEY)
    values = []
    for shard in shards(range(12), 3):

        def compute(indices: list[int]) -> dict:
            with open(log, "a") as handle:
                handle.write(f"{indices[0]}\n")
            return _double(indices)

        values += cache.load_or_compute(shard, compute)["values"].tolist()
    return values


def test_two_processes_share_the_work_without_corrupting_it(tmp_path) -> None:
    context = multiprocessing.get_context("fork")
    log = tmp_path / "computed.log"
    with context.Manager() as manager:
        barrier = manager.Barrier(2)
        with context.Pool(2) as pool:
            args = [(str(tmp_path / "cache"), str(log), barrier)] * 2
            first, second = pool.starmap(_compute_in_process, args)
    expected = [2 * i for i in range(12)]
    assert first == second == expected
    computed = log.read_text().split()
    assert sorted(computed) == sorted(set(computed)), "a shard was computed twice"
    assert len(computed) == 4
