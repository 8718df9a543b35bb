"""Maps left in the cache are read shard by shard, like a tensor's rows."""

from __future__ import annotations

import pytest
import torch

from captum_contrastive.pipeline.stored_maps import StoredMaps
from captum_contrastive.row_chunks import loaded


def _stored(sizes=(3, 3, 2)) -> tuple[StoredMaps, torch.Tensor, list[int]]:
    whole = torch.arange(sum(sizes) * 4, dtype=torch.float32).reshape(-1, 1, 2, 2)
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    reads: list[int] = []

    def load_shard(part: int) -> torch.Tensor:
        reads.append(part)
        return whole[starts[part] : starts[part] + sizes[part]].clone()

    return StoredMaps.of_shards(sizes, (1, 2, 2), load_shard), whole, reads


@pytest.mark.parametrize(
    "rows",
    [
        slice(None),
        slice(2, 7),
        [7, 0, 3],
        torch.tensor([5, 5, 1]),
        torch.tensor([True, False, True, True, False, False, False, True]),
    ],
)
def test_rows_are_taken_as_from_a_tensor(rows) -> None:
    stored, whole, _ = _stored()
    view = stored[rows]
    assert torch.equal(view.load(), whole[rows])
    assert view.shape == whole[rows].shape and len(view) == len(whole[rows])


def test_a_view_of_a_view_and_only_the_needed_shards_are_read() -> None:
    stored, whole, reads = _stored()
    view = stored[torch.tensor([0, 1, 1, 0, 0, 0, 1, 1], dtype=torch.bool)][1:]
    assert torch.equal(view.load(), whole[[2, 6, 7]])
    assert reads == [0, 2]
    assert loaded(view).shape == (3, 1, 2, 2)
    assert loaded(whole) is whole


def test_nothing_is_read_until_load_and_wrong_rows_fail() -> None:
    stored, _, reads = _stored()
    stored[2:5]
    assert reads == []
    assert stored[5:5].load().shape == (0, 1, 2, 2)
    with pytest.raises(IndexError):
        stored[torch.tensor([True, False])]
    with pytest.raises(IndexError):
        stored[[8]].load()
    with pytest.raises(IndexError):
        stored[[0.5]]
    with pytest.raises(IndexError):
        stored[torch.tensor([[0, 1]])]
    with pytest.raises(TypeError):
        stored[0]
