"""Per-image measures over chunks of rows equal one call over all rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from captum_contrastive.metrics import positive_mass_fraction, spatial_map, spearman
from captum_contrastive.pipeline.stored_maps import StoredMaps
from captum_contrastive.row_chunks import by_row_chunks


def _maps(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, 3, 6, 6, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("chunk_rows", [1, 3, 7, 100])
def test_chunks_give_the_whole_result(chunk_rows) -> None:
    a, b = _maps(7, 0), _maps(7, 1)
    masks = _maps(7, 2)[:, 0] > 0

    def measure(x, y, m):
        return {
            "rho": spearman(spatial_map(x), spatial_map(y)),
            "mass": positive_mass_fraction(x, m),
        }

    whole = measure(a, b, masks)
    chunked = by_row_chunks(measure, a, b, masks, chunk_rows=chunk_rows)
    for name in whole:
        np.testing.assert_array_equal(chunked[name], whole[name])


def test_stored_maps_are_read_a_chunk_at_a_time() -> None:
    a = _maps(6, 0)
    loaded_rows: list[int] = []

    def load_shard(part: int) -> torch.Tensor:
        loaded_rows.append(part)
        return a[part * 2 : part * 2 + 2]

    stored = StoredMaps.of_shards([2, 2, 2], (3, 6, 6), load_shard)
    seen: list[int] = []

    def measure(x: torch.Tensor) -> np.ndarray:
        assert isinstance(x, torch.Tensor)
        seen.append(len(x))
        return x.flatten(1).sum(1).numpy()

    found = by_row_chunks(measure, stored, chunk_rows=4)
    np.testing.assert_allclose(found, a.flatten(1).sum(1).numpy())
    assert seen == [4, 2]
    assert loaded_rows == [0, 1, 2]


def test_misaligned_rows_and_bad_chunks_fail() -> None:
    with pytest.raises(ValueError, match="different lengths"):
        by_row_chunks(lambda x, y: x, _maps(3, 0), _maps(4, 0))
    with pytest.raises(ValueError, match="positive"):
        by_row_chunks(lambda x: x, _maps(3, 0), chunk_rows=0)
