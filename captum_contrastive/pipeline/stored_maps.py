"""A run's maps and images, left in the stage cache and read shard by shard.

A run holds, for every method, the maps of every image under every condition
(clean, adversarial, controls): at 224 x 224 that is 0.6 MB per map, about
30 MB per image for the default methods and one attack, so holding them all
would make memory grow with the number of images. The maps stage therefore
writes each shard to the cache and keeps a :class:`StoredMaps`: the shards'
places, and a loader that reads (and verifies) one shard when it is asked for.
Its rows are taken like a tensor's (``maps[success]``, ``maps[:8]``), which
gives another :class:`StoredMaps`; :meth:`StoredMaps.load` reads them
(:func:`~captum_contrastive.row_chunks.loaded` reads a tensor or these alike).

The studies consume maps row by row
(:func:`~captum_contrastive.row_chunks.by_row_chunks`), so only a chunk of
rows is in memory at a time.

The images are kept the same way (:class:`StoredImages`): the selected images
(the selection's image shards), each attack run's clean and adversarial images
(its attack shards) and the noise controls (computed from an attack shard when
read). Their rows taken with ``[]`` are read at once, as a tensor, so the code
that takes a few images (``data.images[:8]``) keeps working; :meth:`StoredImages.view`
takes rows without reading them.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from captum_contrastive.freed_memory import return_freed_memory

__all__ = [
    "KEPT_SHARDS",
    "StoredImages",
    "StoredMaps",
    "forget_kept_shards",
    "kept_shards",
    "take_rows",
]

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
        rows: the rows of the whole set this view holds, in order (a
            ``range`` for a whole set, so a view costs no memory per row).
        dtype: the rows' dtype when there are none to read.
    """

    shard_sizes: tuple[int, ...]
    map_shape: tuple[int, ...]
    load_shard: ShardLoader
    rows: Sequence[int]
    dtype: torch.dtype = torch.float32

    @classmethod
    def of_shards(
        cls,
        shard_sizes: Sequence[int],
        map_shape: Sequence[int],
        load_shard: ShardLoader,
        dtype: torch.dtype = torch.float32,
    ):
        """Every row of the shards."""
        total = sum(shard_sizes)
        return cls(
            tuple(shard_sizes), tuple(map_shape), load_shard, range(total), dtype
        )

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.rows), *self.map_shape)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def row_bytes(self) -> int:
        """The bytes of one row."""
        count = 1
        for size in self.map_shape:
            count *= int(size)
        return count * torch.empty((), dtype=self.dtype).element_size()

    def __getitem__(self, rows: slice | Tensor | Sequence[int] | Sequence[bool]):
        """The maps of some rows, still in the cache (rows as for a tensor: a
        slice, a bool mask or integer positions)."""
        return self.view(rows)

    def view(self, rows: slice | Tensor | Sequence[int] | Sequence[bool]):
        """Some rows, still in the cache (rows as for a tensor's ``[]``)."""
        return replace(self, rows=self._taken(rows))

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
            return torch.empty(0, *self.map_shape, dtype=self.dtype)
        starts = [0]
        for size in self.shard_sizes:
            starts.append(starts[-1] + size)
        wanted: dict[int, list[tuple[int, int]]] = {}
        for out_row, row in enumerate(self.rows):
            shard = _shard_of(starts, row)
            wanted.setdefault(shard, []).append((out_row, row - starts[shard]))
        found = torch.empty(len(self.rows), *self.map_shape, dtype=self.dtype)
        for shard, pairs in wanted.items():
            stored = self.load_shard(shard)
            out_rows = torch.tensor([out for out, _ in pairs])
            found[out_rows] = stored[torch.tensor([inner for _, inner in pairs])]
            del stored
        return found


@dataclass(frozen=True)
class StoredImages(StoredMaps):
    """Images (or masks, or noise controls) of a run, kept in the cache.

    Like :class:`StoredMaps`, but ``images[rows]`` reads the rows (a tensor,
    as a tensor's ``[]`` gives; an integer gives one image): the rows a study
    takes this way are few (a figure's, a sanity check's), or one shard's.
    :meth:`view` takes rows without reading them (a stored view);
    :meth:`~StoredMaps.load` reads a view's rows.
    """

    def __getitem__(self, rows: int | slice | Tensor | Sequence[int] | Sequence[bool]):
        if isinstance(rows, int):
            if not -len(self.rows) <= rows < len(self.rows):
                raise IndexError(f"image {rows} of {len(self.rows)}")
            return self.view([rows % len(self.rows)]).load()[0]
        return self.view(rows).load()

    @property
    def device(self) -> torch.device:
        """Where the rows are read to: the CPU."""
        return torch.device("cpu")


def take_rows(values, rows):
    """``values[rows]``, left in the cache when ``values`` is stored (a view of
    :class:`StoredImages` or :class:`StoredMaps`), else indexed."""
    if isinstance(values, StoredMaps):
        return values.view(rows)
    return values[rows]


#: Shards read from the cache that a process keeps, all loaders together, so
#: that reading one shard's rows in several chunks, or two fields of one attack
#: shard (its clean and adversarial images), reads its file once.
KEPT_SHARDS = 4
_kept: OrderedDict[tuple[int, int], object] = OrderedDict()
_kept_lock = threading.Lock()
_loaders = itertools.count()


def kept_shards(load_shard: Callable[[int], object]) -> Callable[[int], object]:
    """``load_shard`` whose last results are kept: the process keeps the
    :data:`KEPT_SHARDS` shards read last, of every loader together (least
    recently used out first), so it holds a few shards whatever the number of
    images or attack runs. Thread-safe."""
    loader = next(_loaders)

    def load(position: int):
        key = (loader, position)
        with _kept_lock:
            if key in _kept:
                _kept.move_to_end(key)
                return _kept[key]
        value = load_shard(position)
        return_freed_memory()
        with _kept_lock:
            _kept[key] = value
            _kept.move_to_end(key)
            while len(_kept) > KEPT_SHARDS:
                _kept.popitem(last=False)
        return value

    return load


def forget_kept_shards() -> None:
    """Drop the kept shards (:func:`kept_shards`), e.g. at a run's end."""
    with _kept_lock:
        _kept.clear()


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
