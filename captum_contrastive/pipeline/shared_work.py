"""This process's share of a split run's attacks and maps, and what is missing.

The items (:mod:`~captum_contrastive.pipeline.work_items`) are computed through
the same cached stages as a single-process run, on a view of the run's data cut
to one shard: the cache files, and so the numbers, are the same for any split.
A work item reads its shard's images from the selection's image shards and holds
one shard's images, attacked images and noise controls while it works.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from captum_contrastive.attacks.foolbox_attacks import FoolboxAttack
from captum_contrastive.pipeline.cache import StageCache, StageKey, shards
from captum_contrastive.pipeline.ranks import Ranks
from captum_contrastive.pipeline.requested_maps import (
    compute_requested_maps,
    map_key,
    prepare_controls,
)
from captum_contrastive.pipeline.run_data import MapRequest, RunData
from captum_contrastive.pipeline.stages import AttackedImages, attack_key, attack_shard
from captum_contrastive.pipeline.units import StudyUnit
from captum_contrastive.pipeline.work_items import (
    WorkItem,
    attack_cost,
    balanced_split,
    map_cost,
)

__all__ = ["MissingWorkError", "SharePlan", "compute_share", "missing_items"]


class MissingWorkError(LookupError):
    """``--merge-only`` found items that no part has computed yet.

    Attributes:
        missing: the items, described.
    """

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        listed = "\n  ".join(missing)
        super().__init__(
            f"{len(missing)} work items are not in the cache yet:\n  {listed}\n"
            "Run the missing `--shard i/n` parts (or leave out `--merge-only` to "
            "compute them here)."
        )


@dataclass
class SharePlan:
    """The items of a run and what they need.

    Attributes:
        attacks: the attack runs, as they will run (calibrated, fitted).
        attack_keys: each attack run's stage key on the run's selection.
        requests: every map request of the run's studies.
        work_items: every work item, in a fixed order (attack chains by run, then clean
            maps), one per shard.
    """

    attacks: dict[str, FoolboxAttack]
    attack_keys: dict[str, StageKey]
    requests: list[MapRequest]
    work_items: list[WorkItem]

    @classmethod
    def build(
        cls,
        data: RunData,
        attacks: dict[str, FoolboxAttack],
        requests: list[MapRequest],
    ) -> SharePlan:
        requests = list(dict.fromkeys(requests))
        items = []
        for position, shard in enumerate(
            shards(data.selection.indices, data.config.shard_size)
        ):
            for run, attack in attacks.items():
                cost = attack_cost(attack) + _maps_cost(data, requests, run)
                items.append(WorkItem(run, position, tuple(shard), cost * len(shard)))
            clean = _maps_cost(data, requests, None)
            if clean:
                items.append(WorkItem(None, position, tuple(shard), clean * len(shard)))
        items.sort(key=lambda u: (u.run is None, u.run or "", u.shard))
        keys = {
            run: attack_key(
                data.context, attack, data.selection, data.config.shard_size
            )
            for run, attack in attacks.items()
        }
        return cls(attacks, keys, requests, items)

    def share(self, ranks: Ranks) -> list[WorkItem]:
        """This process's items."""
        split = balanced_split([u.cost for u in self.work_items], ranks.world_size)
        return [self.work_items[p] for p in split[ranks.rank]]

    def requests_of(self, run: str | None) -> list[MapRequest]:
        """The map requests of ``run``'s chains (``None``: the clean maps)."""
        return _requests_of(self.requests, run)


def _requests_of(requests: list[MapRequest], run: str | None) -> list[MapRequest]:
    """The requests of an attack chain of ``run``, or (``None``) the clean ones."""
    if run is None:
        return [r for r in requests if r.condition == "clean"]
    return [r for r in requests if r.run == run]


def _maps_cost(data: RunData, requests: list[MapRequest], run: str | None) -> float:
    return sum(map_cost(data.specs[r.method]) for r in _requests_of(requests, run))


def _shard_view(
    data: RunData, item: WorkItem, attacked: AttackedImages | None
) -> RunData:
    """``data`` cut to the item's shard (same keys, so the same cache files),
    with the shard's attacked images and their controls."""
    view = data.cut(item.indices)
    if attacked is not None:
        view.attacks = {item.run: attacked}
        prepare_controls(view)
    return view


def compute_share(
    data: RunData,
    plan: SharePlan,
    ranks: Ranks,
    studies: Sequence[StudyUnit] = (),
) -> dict[str, Any]:
    """Compute this process's items into the cache, one after the other, and
    each study's per-shard work on them (:meth:`StudyUnit.shard_work`).

    Returns:
        This rank's account: its items, their estimated cost and its busy
        seconds (attacks, maps, studies' per-shard work).
    """
    busy = {"attacks": 0.0, "maps": 0.0, "studies": 0.0}
    mine = plan.share(ranks)
    for item in mine:
        attacked = None
        start = time.perf_counter()
        if item.run is not None:
            attack, key = plan.attacks[item.run], plan.attack_keys[item.run]
            batch = attack_shard(
                data.context,
                attack,
                key,
                list(item.indices),
                data.stored_images,
            )
            attacked = AttackedImages(batch, key)
            busy["attacks"] += time.perf_counter() - start
            start = time.perf_counter()
        view = _shard_view(data, item, attacked)
        compute_requested_maps(view, plan.requests_of(item.run))
        busy["maps"] += time.perf_counter() - start
        start = time.perf_counter()
        for study in studies:
            study.shard_work(view, item.run)
        busy["studies"] += time.perf_counter() - start
    return {
        "rank": ranks.rank,
        "work_items": len(mine),
        "estimated_cost": sum(u.cost for u in mine),
        "busy_seconds": busy,
    }


def missing_items(data: RunData, plan: SharePlan) -> list[str]:
    """The items whose attack shard or map shards are not in the cache."""
    context = data.context
    missing = []
    for item in plan.work_items:
        caches = []
        if item.run is not None:
            caches.append(StageCache(context.cache_root, plan.attack_keys[item.run]))
        for request in plan.requests_of(item.run):
            source = (
                data.selection.key if item.run is None else plan.attack_keys[item.run]
            )
            key = map_key(data, request, source)
            caches.append(StageCache(context.cache_root, key))
        if not all(cache.has(item.indices) for cache in caches):
            missing.append(item.describe())
    return missing
