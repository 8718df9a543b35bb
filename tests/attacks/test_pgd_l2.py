"""PGD-L2 on the tiny CNN of the FGSM/BIM tests."""

import foolbox as fb
import pytest
import torch
from torch import Tensor, nn

from captum_contrastive.attacks import ATTACKS, PGDL2, AdversarialBatch
from captum_contrastive.presets.base import Normalize
from tests.attacks.test_foolbox_attacks import (
    MEAN,
    NUM_CLASSES,
    PREPROCESSING,
    STD,
    data,
    predict,
    tiny_cnn,
)

EPSILON = 0.2


def pgd(**kwargs) -> PGDL2:
    """Large steps, so the L2 projection is active (every image reaches the rim)."""
    return PGDL2(**{"epsilon": EPSILON, "steps": 10, "rel_stepsize": 0.25, **kwargs})


@pytest.fixture
def setup() -> tuple[nn.Module, Tensor, Tensor]:
    model = tiny_cnn()
    x = data()
    return model, x, predict(model, x)


def test_registered_as_pgd_l2() -> None:
    assert ATTACKS["pgd_l2"] is PGDL2
    assert PGDL2.name == "pgd_l2"
    assert PGDL2(epsilon=1.0).random_start is False


def test_success_is_re_verified_and_l2_is_within_epsilon(setup) -> None:
    model, x, labels = setup
    attack = pgd()
    batch = attack(model, x, labels, preprocessing=PREPROCESSING)

    assert isinstance(batch, AdversarialBatch)
    assert batch.attack == "pgd_l2"
    assert torch.equal(batch.adversarial_predictions, predict(model, batch.adversarial))
    assert torch.equal(batch.success, batch.adversarial_predictions != labels)
    assert batch.success.any() and not batch.success.all()
    assert 0 <= batch.adversarial.min() and batch.adversarial.max() <= 1
    delta = (batch.adversarial - x).flatten(1)
    torch.testing.assert_close(batch.l2, delta.norm(dim=1))
    assert (batch.l2 <= EPSILON + 1e-5).all()
    assert (batch.l2 >= 0.99 * EPSILON).all(), "large steps reach the rim"
    assert batch.params == {
        **attack.hyperparameters(),
        "targeted": False,
        "bounds": [0.0, 1.0],
        "batch_size": None,
        "foolbox_version": fb.__version__,
    }


def test_equals_a_direct_foolbox_call(setup) -> None:
    model, x, labels = setup
    batch = pgd()(model, x, labels, preprocessing=PREPROCESSING)
    fmodel = fb.PyTorchModel(model, bounds=(0, 1), preprocessing=PREPROCESSING)
    direct = fb.attacks.L2PGD(rel_stepsize=0.25, steps=10, random_start=False)
    _, clipped, _ = direct(fmodel, x, labels, epsilons=EPSILON)
    torch.testing.assert_close(batch.adversarial, clipped)


def test_targeted(setup) -> None:
    model, x, labels = setup
    targets = (labels + 1) % NUM_CLASSES
    batch = pgd(epsilon=1.0)(
        model, x, labels, preprocessing=PREPROCESSING, targets=targets
    )
    assert batch.params["targeted"] is True
    assert torch.equal(batch.success, batch.adversarial_predictions == targets)
    assert batch.success.any()
    assert (batch.l2 <= 1.0 + 1e-5).all()


def test_model_state_is_restored(setup) -> None:
    model, x, labels = setup
    model.train()
    model.features[1].eval()
    modes = [m.training for m in model.modules()]
    params = list(model.parameters())
    params[0].grad = torch.full_like(params[0], 0.5)
    params[1].requires_grad_(False)
    before = [(p.grad, p.requires_grad) for p in params]
    grad_values = params[0].grad.clone()
    pointers = [p.data_ptr() for p in params]

    pgd()(model, x, labels, preprocessing=PREPROCESSING)

    assert [m.training for m in model.modules()] == modes
    for p, (grad, requires_grad) in zip(params, before, strict=True):
        assert p.grad is grad
        assert p.requires_grad == requires_grad
    assert torch.equal(params[0].grad, grad_values)
    assert [p.data_ptr() for p in params] == pointers


def test_deterministic_without_random_start(setup) -> None:
    model, x, labels = setup
    first = pgd()(model, x, labels, preprocessing=PREPROCESSING)
    second = pgd()(model, x, labels, preprocessing=PREPROCESSING)
    assert torch.equal(first.adversarial, second.adversarial)


def test_random_start_follows_torch_global_rng(setup) -> None:
    model, x, labels = setup
    attack = pgd(steps=1, random_start=True)

    def run(seed: int) -> Tensor:
        torch.manual_seed(seed)
        return attack(model, x, labels, preprocessing=PREPROCESSING).adversarial

    assert torch.equal(run(0), run(0))
    assert not torch.equal(run(0), run(1))
    plain = pgd(steps=1)(model, x, labels, preprocessing=PREPROCESSING)
    assert not torch.equal(run(0), plain.adversarial)
    assert attack.settings() != pgd(steps=1).settings()


def test_chunks_give_the_same_result(setup) -> None:
    model, x, labels = setup
    whole = pgd()(model, x, labels, preprocessing=PREPROCESSING)
    chunked = pgd(batch_size=4)(model, x, labels, preprocessing=PREPROCESSING)
    torch.testing.assert_close(chunked.adversarial, whole.adversarial)


def test_preprocessing_equals_a_normalizing_model(setup) -> None:
    model, x, labels = setup
    through_foolbox = pgd()(model, x, labels, preprocessing=PREPROCESSING)
    wrapped = nn.Sequential(Normalize(MEAN, STD), model)
    in_the_model = pgd()(wrapped, x, labels)
    torch.testing.assert_close(
        through_foolbox.adversarial, in_the_model.adversarial, atol=1e-5, rtol=0
    )
