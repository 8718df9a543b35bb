"""Attack shards computed side by side in threads give the results of one at a
time, and leave the model as it was."""

import pytest
import torch

from captum_contrastive.attacks.foolbox_attacks import BIM, CarliniWagnerL2
from captum_contrastive.pipeline.attack_pool import (
    attack_pool,
    attack_workers,
    draws_global_randomness,
)
from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.stages import (
    StageContext,
    select_correct,
    start_attack,
)
from tests.fake_preset import fake_preset

CW = CarliniWagnerL2(steps=15, binary_search_steps=2, abort_early=True)


def _attacked(tmp_path, workers: int, attacks: dict):
    preset = fake_preset()
    preset.model.head.weight.requires_grad_(True)
    context = StageContext.for_preset(preset, tmp_path / "cache", progress=False)
    selection = select_correct(context, 12)
    with attack_pool(preset.model, workers) as pool:
        pending = {
            name: start_attack(context, name, attack, selection, 4, pool)
            for name, attack in attacks.items()
        }
        found = {name: p.result() for name, p in pending.items()}
    flags = [p.requires_grad for p in preset.model.parameters()]
    return found, flags, preset.model.training


def test_threads_give_the_results_of_one_shard_at_a_time(tmp_path) -> None:
    attacks = {"cw-k0": CW, "bim": BIM(epsilon=0.03, steps=3)}
    serial, _, _ = _attacked(tmp_path / "one", 1, attacks)
    threaded, flags, training = _attacked(tmp_path / "two", 3, attacks)
    for name in attacks:
        # The images are read back from the attack's cache shards.
        loaded = serial[name].batch.load(), threaded[name].batch.load()
        for field, value in loaded[0].__dict__.items():
            other = loaded[1].__dict__[field]
            if isinstance(value, torch.Tensor):
                assert torch.equal(value, other), (name, field)
        assert len(loaded[0].adversarial) == 12
        assert serial[name].key.digest == threaded[name].key.digest
    assert flags[-2] is True and training is False


def test_workers_and_randomness() -> None:
    assert attack_workers(3, "cpu") == 3
    assert 1 <= attack_workers(None, "cpu") <= 4
    assert attack_workers(None, "cuda") == 1
    assert draws_global_randomness(BIM(epsilon=0.03, random_start=True))
    assert not draws_global_randomness(CW)


def test_attack_workers_is_checked() -> None:
    with pytest.raises(ValueError, match="attack_workers"):
        BenchmarkConfig(attack_workers=0)
