import json

import pytest
import torch

from captum_contrastive.presets.shapes_model import SHAPES_WEIGHTS
from captum_contrastive.presets.shapes_random_labels import (
    RandomLabelSettings,
    permuted_labels,
    train_random_label_model,
)

#: A training budget small enough for a test, large enough to memorise.
TINY = RandomLabelSettings(train_size=32, epochs=20, batch_size=16, test_size=64)


@pytest.fixture(scope="module")
def tiny():
    return train_random_label_model(0, TINY)


def test_memorises_permuted_labels_on_a_tiny_set(tiny) -> None:
    metrics = tiny.metrics
    assert metrics["train_accuracy"] >= 0.9
    assert metrics["test_top1"] < 0.5 and metrics["chance"] == 1 / 8
    assert metrics["label_agreement"] < 0.5
    assert metrics["train_accuracy_true_labels"] < 0.6
    assert len(metrics["history"]) == TINY.epochs
    assert metrics["history"][-1]["loss"] < metrics["history"][0]["loss"]
    assert metrics["settings"] == TINY.to_json() and metrics["seed"] == 0
    assert metrics["train_seconds"] > 0 and metrics["train_cpu_seconds"] > 0
    assert not tiny.model.training
    assert json.dumps(metrics)


def test_deterministic_given_the_seed_and_leaves_the_global_state() -> None:
    settings = RandomLabelSettings(train_size=8, epochs=1, batch_size=4, test_size=8)
    state = torch.random.get_rng_state()
    first = train_random_label_model(3, settings).model.state_dict()
    assert torch.equal(torch.random.get_rng_state(), state)
    again = train_random_label_model(3, settings).model.state_dict()
    other = train_random_label_model(4, settings).model.state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_permuted_labels_keep_the_class_counts() -> None:
    labels = torch.arange(8).repeat(25)
    permuted = permuted_labels(labels, seed=0)
    assert torch.equal(permuted.bincount(), labels.bincount())
    assert (permuted != labels).float().mean() > 0.7
    assert torch.equal(permuted_labels(labels, seed=0), permuted)
    assert not torch.equal(permuted_labels(labels, seed=1), permuted)


def test_defaults_are_the_shipped_hyperparameters() -> None:
    shipped = json.loads(SHAPES_WEIGHTS.with_suffix(".json").read_text())
    hyper = shipped["hyperparameters"]
    ours = RandomLabelSettings().to_json()
    for name in ("batch_size", "lr", "weight_decay", "widths", "hidden"):
        assert ours[name] == hyper[name], name
    for name in ("dropout", "pooled_size", "batch_norm", "num_threads"):
        assert ours[name] == hyper[name], name


@pytest.mark.parametrize(
    "change", [dict(epochs=0), dict(train_size=3, batch_size=2), dict(batch_size=1)]
)
def test_settings_are_checked(change) -> None:
    with pytest.raises(ValueError):
        RandomLabelSettings(**change)
