"""One method's maps of a run, left in the stage cache and read shard by shard.

A run holds, for every method, the maps of every image under every condition
(clean, adversarial, controls): at 224 x 224 that is 0.6 MB per map, about
30 MB per image for the default methods and one attack, so holding them all
would make memory grow with the number of images. The maps stage therefore
writes each shard to the cache and keeps a :class:`StoredMaps`: the shards'
places, and a loader that reads (and verifies) one shard when it is asked for.
Its rows are taken like a tensor's (``maps[success]``, ``maps[:8]``), which
gives another :class:`StoredMaps`; :meth:`StoredMaps.load` reads them
(:func:`~captum_contrastive.studies.rows.loaded` reads a tensor or these alike).

The studies consume maps row by row
(:func:`~captum_contrastive.studies.rows.by_row_chunks`), so only a chunk of
rows is in memory at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["StoredMaps"]

#: ``load_shard(position) -> (rows, C, H, W)`` maps of the shard at that position.
ShardLoader = Callable[[int], Tensor]


@dataclass(frozen=True)
class StoredMaps:
    """Maps of ``len(shard_rows)`` images, kept in the cache.

    Attributes:
        shard_sizes: the rows of each stored shard, in order.
        map_shape: one map's shape ``(C, H, W)``.
        load_shard: reads the shard at a position (verified against its key and
            inputs; recomputed if it has gone).
        rows: the rows of the whole set this view holds, in order.
    """

    shard_sizes: tuple[int, ...]
    map_shape: tuple[int, ...]
    load_shard: ShardLoader
    rows: tuple[int, ...]

    @classmethod
    def of_shards(
        cls,
        shard_sizes: Sequence[int],
        map_shape: Sequence[int],
        load_shard: ShardLoader,
    ) -> StoredMaps:
        """Every row of the shards."""
        total = sum(shard_sizes)
        return cls(
            tuple(shard_sizes), tuple(map_shape), load_shard, tuple(range(total))
        )

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.rows), *self.map_shape)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, rows: slice | Tensor | Sequence[int] | Sequence[bool]):
        """The maps of some rows, still in the cache (rows as for a tensor: a
        slice, a bool mask or integer positions)."""
        return StoredMaps(
            self.shard_sizes, self.map_shape, self.load_shard, self._taken(rows)
        )

    def _taken(self, rows: slice | Tensor | Sequence[int] | Sequence[bool]):
        if isinstance(rows, slice):
            return self.rows[rows]
        if isinstance(rows, int):
            raise TypeError("take rows with a slice, a mask or a list of positions")
        chosen = torch.as_tensor(rows)
        if chosen.dim() != 1 or chosen.is_floating_point() or chosen.is_complex():
            raise IndexError(
                "rows are a 1-D bool mask or 1-D integer positions, got "
                f"{tuple(chosen.shape)} {chosen.dtype}"
            )
        if chosen.dtype == torch.bool:
            if chosen.shape != (len(self.rows),):
                raise IndexError(
                    f"a mask of {tuple(chosen.shape)} for {len(self.rows)} maps"
                )
            chosen = chosen.nonzero().flatten()
        return tuple(self.rows[int(position)] for position in chosen.flatten())

    def load(self) -> Tensor:
        """The maps of this view's rows, read shard by shard from the cache."""
        if not self.rows:
            return torch.empty(0, *self.map_shape)
        starts = [0]
        for size in self.shard_sizes:
            starts.append(starts[-1] + size)
        wanted: dict[int, list[tuple[int, int]]] = {}
        for out_row, row in enumerate(self.rows):
            shard = _shard_of(starts, row)
            wanted.setdefault(shard, []).append((out_row, row - starts[shard]))
        found = torch.empty(len(self.rows), *self.map_shape)
        for shard, pairs in wanted.items():
            stored = self.load_shard(shard)
            out_rows = torch.tensor([out for out, _ in pairs])
            found[out_rows] = stored[torch.tensor([inner for _, inner in pairs])]
        return found


def _shard_of(starts: list[int], row: int) -> int:
    if not 0 <= row < starts[-1]:
        raise IndexError(f"row {row} of {starts[-1]} maps")
    low, high = 0, len(starts) - 2
    while low < high:
        middle = (low + high + 1) // 2
        if starts[middle] <= row:
            low = middle
        else:
            high = middle - 1
    return low
