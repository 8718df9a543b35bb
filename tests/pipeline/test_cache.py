import torch

from captum_contrastive.pipeline.cache import StageCache, shards


def test_shards_split_in_order() -> None:
    assert shards([5, 6, 7, 8, 9], 2) == [[5, 6], [7, 8], [9]]


def test_load_or_compute_resumes_without_recomputing(tmp_path) -> None:
    calls = []

    def compute(indices: list[int]) -> dict:
        calls.append(list(indices))
        return {"values": torch.tensor(indices) * 2}

    cache = StageCache(tmp_path, "stage", {"a": 1})
    first = cache.load_or_compute([1, 2], compute)
    again = StageCache(tmp_path, "stage", {"a": 1}).load_or_compute([1, 2], compute)
    assert calls == [[1, 2]]
    assert torch.equal(first["values"], again["values"])
    other_key = StageCache(tmp_path, "stage", {"a": 2})
    other_key.load_or_compute([1, 2], compute)
    assert len(calls) == 2
    assert not list(tmp_path.rglob("*.tmp"))


def test_interrupted_compute_leaves_no_shard(tmp_path) -> None:
    cache = StageCache(tmp_path, "stage", {})

    def fail(indices: list[int]) -> dict:
        raise KeyboardInterrupt

    try:
        cache.load_or_compute([1], fail)
    except KeyboardInterrupt:
        pass
    assert not cache.path([1]).exists()
