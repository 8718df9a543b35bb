"""A run's work as independent items, and their balanced split over processes.

The attack and map stages of a run are cut into items that need nothing from
each other:

- an **attack chain**: one attack run on one shard of the selected images, then
  every map of that run's images on that shard (adversarial, clean image with
  the adversarial class, equal-norm noise), then the studies' per-shard work on
  it (the recovery curves);
- the **clean maps** of one shard: every method's maps of the clean images.

A item reads and writes the same cache shards the single-process run uses (same
keys, same shard boundaries), so any split gives the same files and the same
numbers. Items are shared out by estimated cost, largest first, each to the
least loaded part (:func:`balanced_split`): deterministic, so every process
computes the same split without talking to the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from captum_contrastive.attacks.foolbox_attacks import FoolboxAttack
from captum_contrastive.methods import MethodSpec

__all__ = [
    "WorkItem",
    "attack_cost",
    "balanced_split",
    "map_cost",
]


@dataclass(frozen=True)
class WorkItem:
    """One item of work on one shard of the selected images.

    Attributes:
        run: the attack run of an attack chain; ``None`` for clean maps.
        shard: the shard's position among the selection's shards.
        indices: the shard's dataset indices.
        cost: estimated cost (forward-and-backward passes over the shard).
    """

    run: str | None
    shard: int
    indices: tuple[int, ...]
    cost: float

    def describe(self) -> str:
        what = "clean maps" if self.run is None else f"attack {self.run} and its maps"
        first, last = self.indices[0], self.indices[-1]
        return (
            f"{what}, shard {self.shard} ({len(self.indices)} images, {first}..{last})"
        )


def attack_cost(attack: FoolboxAttack) -> float:
    """Gradient passes per image: steps times binary-search steps (1 for FGSM)."""
    steps = getattr(attack, "steps", None) or 1
    searches = getattr(attack, "binary_search_steps", None) or 1
    return float(steps * searches)


def map_cost(spec: MethodSpec) -> float:
    """Passes per image of one method: its IG steps (a contrastive IG's too) or
    its SmoothGrad samples, else 1."""
    passes = spec.settings.get("n_steps") or spec.settings.get("nt_samples") or 1
    return float(passes)


def balanced_split(costs: Sequence[float], parts: int) -> list[list[int]]:
    """Positions ``0..len(costs)-1`` shared out over ``parts`` processes: the
    costliest first, each to the part with the least cost so far (ties: the
    lower part, then the earlier position); each part's positions in order.

    Deterministic: every process computes the same split.
    """
    if parts < 1:
        raise ValueError(f"`parts` must be positive, got {parts}")
    load = [0.0] * parts
    chosen: list[list[int]] = [[] for _ in range(parts)]
    for position in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        part = min(range(parts), key=lambda p: (load[p], p))
        load[part] += costs[position]
        chosen[part].append(position)
    return [sorted(found) for found in chosen]
