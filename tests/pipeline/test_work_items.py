import random

import pytest
import torch

from captum_contrastive.attacks.foolbox_attacks import BIM, FGSM, CarliniWagnerL2
from captum_contrastive.methods import MethodSettings, build_methods
from captum_contrastive.pipeline.cache import StageKey
from captum_contrastive.pipeline.ranks import Ranks
from captum_contrastive.pipeline.shared_work import SharePlan
from captum_contrastive.pipeline.units import MapRequest
from captum_contrastive.pipeline.work_items import (
    attack_cost,
    balanced_split,
    map_cost,
)


@pytest.mark.parametrize("parts", [1, 2, 3, 8])
def test_balanced_split_gives_every_position_to_exactly_one_part(parts):
    costs = [random.Random(parts).uniform(0.1, 10) for _ in range(37)]
    split = balanced_split(costs, parts)
    assert len(split) == parts
    assert sorted(p for part in split for p in part) == list(range(37))
    assert all(part == sorted(part) for part in split)


def test_balanced_split_is_balanced_within_one_unit():
    rng = random.Random(0)
    for _ in range(50):
        costs = [rng.uniform(0.1, 10) for _ in range(rng.randint(1, 40))]
        loads = [sum(costs[p] for p in part) for part in balanced_split(costs, 3)]
        assert max(loads) - min(loads) <= max(costs) + 1e-9


def test_balanced_split_is_deterministic_and_prefers_the_costly_first():
    assert balanced_split([1, 5, 1, 3], 2) == balanced_split([1, 5, 1, 3], 2)
    assert balanced_split([1, 5, 1, 3], 2) == [[1], [0, 2, 3]]
    assert balanced_split([], 2) == [[], []]
    with pytest.raises(ValueError, match="parts"):
        balanced_split([1.0], 0)


def test_costs_follow_the_steps_of_attacks_and_methods():
    assert attack_cost(FGSM(epsilon=0.01)) == 1
    assert attack_cost(BIM(epsilon=0.01, steps=10)) == 10
    cw = CarliniWagnerL2(steps=20, binary_search_steps=3)
    assert attack_cost(cw) == 60
    specs = build_methods(MethodSettings(ig_steps=16, smoothgrad_samples=8))
    assert map_cost(specs["saliency"]) == 1
    assert map_cost(specs["integrated_gradients"]) == 16
    assert map_cost(specs["smoothgrad"]) == 8


def _key(stage: str, **parts) -> StageKey:
    return StageKey(stage, parts)


class _Data:
    """The parts of RunData a share plan reads."""

    def __init__(self, n: int, shard_size: int) -> None:
        indices = list(range(100, 100 + n))
        self.selection = type("S", (), {"indices": indices, "key": StageKey("s")})()
        self.config = type("C", (), {"shard_size": shard_size})()
        self.specs = build_methods(MethodSettings())
        self.context = type("X", (), {"key": staticmethod(_key)})()


def test_share_plan_units_cover_every_shard_and_split_disjointly():
    cw = CarliniWagnerL2(steps=10, binary_search_steps=1)
    attacks = {"fgsm": FGSM(epsilon=0.01), "cw-k0": cw}
    requests = [
        MapRequest("saliency", "clean"),
        MapRequest("saliency", "adversarial", "fgsm"),
        MapRequest("saliency", "adversarial", "cw-k0"),
        MapRequest("integrated_gradients", "noise", "cw-k0"),
    ]
    plan = SharePlan.build(_Data(10, 4), attacks, requests)
    assert len(plan.work_items) == 3 * 3  # 3 shards x (2 attack chains + clean maps)
    assert {u.indices for u in plan.work_items} == {
        tuple(range(100, 104)),
        tuple(range(104, 108)),
        (108, 109),
    }
    assert plan.requests_of(None) == [requests[0]]
    assert plan.requests_of("cw-k0") == requests[2:]
    for world in (1, 2, 4):
        shares = [plan.share(Ranks(r, world, "shard")) for r in range(world)]
        every = [u for share in shares for u in share]
        assert sorted(every, key=plan.work_items.index) == plan.work_items
    assert set(plan.attack_keys) == set(attacks)
    chain = next(u for u in plan.work_items if u.run == "cw-k0" and u.shard == 0)
    assert chain.cost == 4 * (10 + 1 + 16)
    assert "attack cw-k0" in chain.describe() and "4 images" in chain.describe()


def test_a_single_process_is_the_only_main_one():
    assert Ranks().is_main and not Ranks().splits_work
    assert Ranks().gather("x") == ["x"]
    assert not Ranks(0, 2, "shard").is_main
    assert Ranks(0, 2, "torchrun").is_main and not Ranks(1, 2, "torchrun").is_main
    assert torch.distributed.is_available()
