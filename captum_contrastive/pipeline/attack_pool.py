"""Attack shards of one process computed side by side, in threads.

Every attack shard is independent: its result depends only on its images and the
attack (C&W with early abort: on its shard, which is fixed). With one torch
thread per task, two shards on two cores take the time of one. Torch releases
the GIL inside its kernels, so plain Python threads run them in parallel, and an
oversubscribed machine only time-slices them: unlike two OpenMP threads, which
spin while they wait and were measured 20x slower on a busy 2-core machine.

Only attacks that draw nothing from the global random generator run in threads
(a random start does); the others run one shard after another.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager

import torch
from torch import nn

from captum_contrastive.attacks.foolbox_attacks import FoolboxAttack
from captum_contrastive.attacks.model_state import preserved_model_state

__all__ = ["attack_pool", "attack_workers", "draws_global_randomness"]

#: The most threads :func:`attack_workers` picks by itself.
AUTO_WORKERS_LIMIT = 4


def attack_workers(requested: int | None, device: str | torch.device) -> int:
    """The number of attack shards computed at once.

    Args:
        requested: a number, or ``None`` for one per CPU core this process may
            use (at most :data:`AUTO_WORKERS_LIMIT`) on the CPU, and 1 on CUDA.
        device: where the attacks run.

    Returns:
        at least 1.

    Examples::

        >>> attack_workers(3, "cpu")
        3
    """
    if requested is not None:
        return max(1, int(requested))
    if torch.device(device).type != "cpu":
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return max(1, min(cores, AUTO_WORKERS_LIMIT))


def draws_global_randomness(attack: FoolboxAttack) -> bool:
    """Whether ``attack`` draws from torch's global generator (a random start):
    then its shards must not run side by side."""
    return bool(getattr(attack, "random_start", False))


@contextmanager
def attack_pool(model: nn.Module, workers: int) -> Iterator[Executor | None]:
    """A thread pool of ``workers`` threads for attack shards, or ``None`` for 1.

    The model's modes, ``requires_grad`` flags and ``.grad`` tensors are saved
    once around the whole pool (each attack call also saves and restores them,
    which on its own would race between threads), and restored on exit.

    Examples::

        >>> with attack_pool(preset.model, 2) as executor:
        ...     pending = start_attack(context, "cw-k0", attack, selection,
        ...                            executor=executor)
        ...     attacked = pending.result()
    """
    if workers <= 1:
        yield None
        return
    with preserved_model_state(model), ThreadPoolExecutor(workers) as executor:
        yield executor
