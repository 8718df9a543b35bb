"""The processes of one run: a single process, ``torchrun`` ranks, or one
``--shard i/n`` part of an array job.

A run is a set of work items (:mod:`~captum_contrastive.pipeline.work_items`).
Every process computes its own share into the shared cache; a process group is
used only to wait for each other between phases and to gather timings. Under
``torchrun`` the group is ``torch.distributed``'s, on gloo (the CPU control
plane; CUDA work never goes through it), with a timeout. A ``--shard`` part has
no group: it computes its share and stops, and a later run without ``--shard``
merges.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "Ranks",
    "RanksError",
    "shared_gpu_index",
    "joined_ranks",
    "parse_shard",
]

#: Seconds a rank waits for the others at a phase's end before it fails. A
#: phase ends within about one work item of each other on every rank, except the
#: last, where rank 0 waits for the studies the others evaluate.
DEFAULT_TIMEOUT_S = 2 * 3600


class RanksError(ValueError):
    """The split asked for cannot be made (a malformed ``shard``, ``shard``
    under ``torchrun``, a CUDA device that conflicts with the ranks)."""


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` as ``(i, n)``, with ``0 <= i < n``."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not found:
        raise RanksError(f"`shard` must look like i/n (e.g. 0/4), got {text!r}")
    index, count = int(found.group(1)), int(found.group(2))
    if count < 1 or not 0 <= index < count:
        raise RanksError(f"`shard` i/n needs 0 <= i < n, got {text!r}")
    return index, count


@dataclass(frozen=True)
class Ranks:
    """Which part of the work this process does.

    Attributes:
        rank: this process's part, ``0 <= rank < world_size``.
        world_size: how many parts the work is split into.
        mode: ``"single"``, ``"torchrun"`` (a process group) or ``"shard"``
            (``--shard i/n``: no group, no waiting, no outputs).
        local_rank: the rank on this machine (its CUDA device).
    """

    rank: int = 0
    world_size: int = 1
    mode: str = "single"
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Whether this process writes the outputs."""
        return self.rank == 0 and self.mode != "shard"

    @property
    def splits_work(self) -> bool:
        """Whether the units are shared out (torchrun or ``--shard``)."""
        return self.mode != "single"

    def barrier(self) -> None:
        """Wait for every rank (a no-op without a process group)."""
        if self.mode == "torchrun":
            torch.distributed.barrier()

    def gather(self, value: Any) -> list[Any]:
        """``value`` of every rank, in rank order (one entry without a group)."""
        if self.mode != "torchrun":
            return [value]
        found: list[Any] = [None] * self.world_size
        torch.distributed.all_gather_object(found, value)
        return found

    def describe(self) -> str:
        if self.mode == "torchrun":
            return f"torchrun rank {self.rank} of {self.world_size}"
        if self.mode == "shard":
            return f"shard {self.rank}/{self.world_size}"
        return "one process"


def _torchrun_ranks() -> Ranks | None:
    """The ranks ``torchrun`` (or another launcher) set in the environment."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    return Ranks(
        rank=int(os.environ["RANK"]),
        world_size=world,
        mode="torchrun",
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )


def shared_gpu_index(local_rank: int, gpu_count: int | None = None) -> int:
    """The GPU of the rank numbered ``local_rank`` on its node: its own when the
    node has a GPU per rank, else shared round-robin with other ranks.

    Args:
        local_rank (int): ``LOCAL_RANK``.
        gpu_count (int, optional): the node's visible GPUs; by default
            ``torch.cuda.device_count()``.

    Raises:
        RanksError: no GPU is visible.
    """
    count = torch.cuda.device_count() if gpu_count is None else gpu_count
    if count < 1:
        raise RanksError("`device` 'cuda' under torchrun, but this node sees no GPU")
    return local_rank % count


@contextmanager
def joined_ranks(
    shard: str | None = None,
    device: str = "cpu",
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Iterator[Ranks]:
    """This process's :class:`Ranks`, with its process group held for the scope.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) the process group is created on gloo
    with ``timeout_s``, and destroyed on leaving, however the scope ends; with
    ``device`` on CUDA, the rank's device is ``cuda:LOCAL_RANK``, or, when a node
    runs more ranks than it has GPUs, ``cuda:(LOCAL_RANK mod GPUs)``: ranks then
    share GPUs round-robin (gloo, unlike NCCL, allows that).

    Args:
        shard (str, optional): ``"i/n"`` for one part of an array job.
        device (str): the run's device.
        timeout_s (float): seconds any rank waits for the others.

    Raises:
        RanksError: ``shard`` under ``torchrun``, a malformed ``shard``, or
            ``cuda:N`` under ``torchrun``.
    """
    launched = _torchrun_ranks()
    if shard is not None:
        if launched is not None:
            raise RanksError(
                "`shard` splits the work without a process group; under torchrun "
                "the ranks split it already: leave `shard` out"
            )
        index, count = parse_shard(shard)
        yield Ranks(index, count, "shard" if count > 1 else "single")
        return
    if launched is None:
        yield Ranks()
        return
    if str(device).startswith("cuda"):
        if str(device) != "cuda":
            raise RanksError(
                f"`device` {device!r} under torchrun: pass `cuda`, and each rank "
                "uses cuda:LOCAL_RANK"
            )
        torch.cuda.set_device(shared_gpu_index(launched.local_rank))
    torch.distributed.init_process_group(
        backend="gloo", timeout=timedelta(seconds=timeout_s)
    )
    try:
        yield launched
    finally:
        torch.distributed.destroy_process_group()
