import foolbox as fb
import pytest
import torch
from torch import Tensor, nn

from captum_contrastive.attacks.batch import AdversarialBatch
from captum_contrastive.attacks.foolbox_attacks import (
    BIM,
    FGSM,
    CarliniWagnerL2,
    FoolboxAttack,
)
from captum_contrastive.attacks.model_state import preserved_model_state
from captum_contrastive.presets.base import Normalize

MEAN = [0.4, 0.5, 0.6]
STD = [0.2, 0.25, 0.3]
PREPROCESSING = {"mean": MEAN, "std": STD, "axis": -3}
NUM_CLASSES = 4


class TinyCNN(nn.Module):
    """Takes normalized 16x16 images; has BatchNorm and Dropout (mode matters)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 8, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(32, 4))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def tiny_cnn(seed: int = 0) -> TinyCNN:
    torch.manual_seed(seed)
    model = TinyCNN()
    with torch.no_grad():
        model.head[2].weight.mul_(8)
        model.features[1].running_var.fill_(0.05)
    return model.eval()


def data(n: int = 6, seed: int = 1) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, 16, 16, generator=generator)


def predict(model: nn.Module, x: Tensor) -> Tensor:
    with torch.no_grad():
        return model(Normalize(MEAN, STD)(x)).argmax(1)


@pytest.fixture
def setup() -> tuple[TinyCNN, Tensor, Tensor]:
    model = tiny_cnn()
    x = data()
    return model, x, predict(model, x)


def fast_cw(**kwargs) -> CarliniWagnerL2:
    config = {"steps": 30, "binary_search_steps": 3, "stepsize": 0.05}
    return CarliniWagnerL2(**{**config, **kwargs})


ATTACKS = [
    pytest.param(lambda: FGSM(epsilon=0.1), id="fgsm"),
    pytest.param(lambda: BIM(epsilon=0.1, steps=5), id="bim"),
    pytest.param(fast_cw, id="cw"),
]


@pytest.mark.parametrize("make_attack", ATTACKS)
def test_batch_is_consistent_with_a_fresh_forward_pass(make_attack, setup) -> None:
    model, x, labels = setup
    attack: FoolboxAttack = make_attack()
    batch = attack(model, x, labels, preprocessing=PREPROCESSING)

    assert isinstance(batch, AdversarialBatch)
    assert batch.attack == attack.name
    assert torch.equal(batch.clean, x)
    assert torch.equal(batch.labels, labels)
    assert torch.equal(batch.indices, torch.arange(len(x)))
    assert batch.targets is None
    assert torch.equal(batch.clean_predictions, predict(model, x))
    assert torch.equal(batch.adversarial_predictions, predict(model, batch.adversarial))
    assert torch.equal(batch.success, batch.adversarial_predictions != labels)
    assert batch.success.any()
    assert 0 <= batch.adversarial.min() and batch.adversarial.max() <= 1
    failed = ~batch.success
    assert torch.equal(batch.adversarial_predictions[failed], labels[failed])
    if attack.name != "cw":
        assert (batch.l2[failed] > 0).all(), "failed FGSM/BIM keep their perturbation"
    delta = (batch.adversarial - x).flatten(1)
    torch.testing.assert_close(batch.l2, delta.norm(dim=1))
    torch.testing.assert_close(batch.linf, delta.abs().amax(dim=1))
    assert batch.params["foolbox_version"] == fb.__version__
    assert batch.params["targeted"] is False
    assert batch.params.items() >= attack.hyperparameters().items()


@pytest.mark.parametrize(
    "make_attack",
    [pytest.param(lambda: FGSM(epsilon=0.05), id="fgsm"), ATTACKS[1]],
)
def test_linf_attacks_respect_epsilon(make_attack, setup) -> None:
    model, x, labels = setup
    attack = make_attack()
    batch = attack(model, x, labels, preprocessing=PREPROCESSING)
    assert (batch.linf <= attack.epsilon + 1e-6).all()


@pytest.mark.parametrize("make_attack", ATTACKS)
def test_deterministic(make_attack, setup) -> None:
    model, x, labels = setup
    first = make_attack()(model, x, labels, preprocessing=PREPROCESSING)
    second = make_attack()(model, x, labels, preprocessing=PREPROCESSING)
    assert torch.equal(first.adversarial, second.adversarial)
    assert torch.equal(first.success, second.success)


@pytest.mark.parametrize(
    "make_attack",
    [pytest.param(lambda: FGSM(epsilon=0.3), id="fgsm"), fast_cw],
)
def test_targeted(make_attack, setup) -> None:
    model, x, labels = setup
    targets = (labels + 1) % NUM_CLASSES
    batch = make_attack()(
        model, x, labels, preprocessing=PREPROCESSING, targets=targets
    )
    assert torch.equal(batch.targets, targets)
    assert batch.params["targeted"] is True
    assert torch.equal(batch.success, batch.adversarial_predictions == targets)
    assert batch.success.any()
    failed = ~batch.success
    assert torch.equal(
        batch.adversarial_predictions[failed], predict(model, batch.adversarial)[failed]
    )


def test_failed_cw_zeros_become_the_clean_image_and_fail(setup) -> None:
    model, x, labels = setup
    hopeless = CarliniWagnerL2(steps=1, binary_search_steps=1, initial_const=1e-9)
    fmodel = fb.PyTorchModel(model, bounds=(0, 1), preprocessing=PREPROCESSING)
    _, raw, _ = hopeless.foolbox_attack(targeted=False)(
        fmodel, x, labels, epsilons=None
    )
    assert (raw == 0).all()

    batch = hopeless(model, x, labels, preprocessing=PREPROCESSING)
    assert not batch.success.any()
    assert torch.equal(batch.adversarial, x)
    assert torch.equal(batch.adversarial_predictions, labels)
    assert (batch.l2 == 0).all() and (batch.linf == 0).all()


class BrightnessModel(nn.Module):
    """Class 0 for bright images, class 1 for black ones."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(10.0))

    def forward(self, x: Tensor) -> Tensor:
        mean = x.mean(dim=(1, 2, 3))
        return torch.stack([mean, 0.1 - mean], dim=1) * self.scale


class AllZeroCW(CarliniWagnerL2):
    """Foolbox's C&W output for total failure, which the criterion calls a success."""

    def foolbox_attack(self, targeted: bool = False):
        def attack(fmodel, x, criterion, *, epsilons):
            zeros = torch.zeros_like(x)
            return zeros, zeros, torch.ones(len(x), dtype=torch.bool)

        return attack


def test_zero_placeholder_is_a_failure_even_when_black_is_misclassified() -> None:
    model = BrightnessModel()
    x = torch.full((2, 3, 4, 4), 0.8)
    labels = torch.zeros(2, dtype=torch.long)
    assert predict_raw(model, torch.zeros_like(x)).eq(1).all()

    batch = AllZeroCW()(model, x, labels)
    assert not batch.success.any()
    assert torch.equal(batch.adversarial, x)


def predict_raw(model: nn.Module, x: Tensor) -> Tensor:
    with torch.no_grad():
        return model(x).argmax(1)


def test_untargeted_fgsm_equals_one_step_bim(setup) -> None:
    model, x, labels = setup
    fgsm = FGSM(epsilon=0.1)(model, x, labels, preprocessing=PREPROCESSING)
    bim = BIM(epsilon=0.1, steps=1, rel_stepsize=1.0)(
        model, x, labels, preprocessing=PREPROCESSING
    )
    torch.testing.assert_close(fgsm.adversarial, bim.adversarial)


def test_foolbox_alone_leaves_gradients_on_parameters(setup) -> None:
    model, x, labels = setup
    fmodel = fb.PyTorchModel(model, bounds=(0, 1), preprocessing=PREPROCESSING)
    fb.attacks.FGSM()(fmodel, x, labels, epsilons=0.1)
    assert any(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("make_attack", ATTACKS)
def test_parameter_gradients_and_flags_are_restored(make_attack, setup) -> None:
    model, x, labels = setup
    params = list(model.parameters())
    params[0].grad = torch.full_like(params[0], 0.5)
    params[1].requires_grad_(False)
    before = [(p.grad, p.requires_grad) for p in params]
    values = params[0].grad.clone()

    make_attack()(model, x, labels, preprocessing=PREPROCESSING)

    for p, (grad, requires_grad) in zip(params, before, strict=True):
        assert p.grad is grad
        assert p.requires_grad == requires_grad
    assert torch.equal(params[0].grad, values)


def test_training_mode_is_restored_per_module(setup) -> None:
    model, x, labels = setup
    model.train()
    model.features[1].eval()
    modes = [m.training for m in model.modules()]
    batch = BIM(epsilon=0.1, steps=3)(model, x, labels, preprocessing=PREPROCESSING)
    assert [m.training for m in model.modules()] == modes
    model.eval()
    assert torch.equal(batch.clean_predictions, predict(model, x))


class Exploding(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: Tensor) -> Tensor:
        if x.requires_grad:
            raise RuntimeError("boom")
        return self.inner(x)


def test_state_is_restored_when_the_attack_raises(setup) -> None:
    inner, x, labels = setup
    model = Exploding(inner).train()
    grads = [p.grad for p in model.parameters()]
    with pytest.raises(RuntimeError, match="boom"):
        FGSM(epsilon=0.1)(model, x, labels, preprocessing=PREPROCESSING)
    assert all(m.training for m in model.modules())
    assert all(p.requires_grad for p in model.parameters())
    assert [p.grad for p in model.parameters()] == grads


def test_preserved_model_state_freezes_and_evaluates(setup) -> None:
    model = setup[0].train()
    with preserved_model_state(model):
        assert not any(m.training for m in model.modules())
        assert not any(p.requires_grad for p in model.parameters())
    assert model.training


def test_model_device_and_parameters_untouched(setup) -> None:
    model, x, labels = setup
    pointers = [p.data_ptr() for p in model.parameters()]
    FGSM(epsilon=0.1)(model, x, labels, preprocessing=PREPROCESSING)
    assert [p.data_ptr() for p in model.parameters()] == pointers
    assert all(p.device.type == "cpu" for p in model.parameters())


@pytest.mark.parametrize("make_attack", ATTACKS)
def test_preprocessing_equals_a_normalizing_model(make_attack, setup) -> None:
    model, x, labels = setup
    through_foolbox = make_attack()(model, x, labels, preprocessing=PREPROCESSING)
    wrapped = nn.Sequential(Normalize(MEAN, STD), model)
    in_the_model = make_attack()(wrapped, x, labels)
    torch.testing.assert_close(
        through_foolbox.adversarial, in_the_model.adversarial, atol=1e-5, rtol=0
    )
    assert torch.equal(through_foolbox.success, in_the_model.success)


def test_chunks_give_the_same_result_for_independent_attacks(setup) -> None:
    model, x, labels = setup
    whole = BIM(epsilon=0.1, steps=4)(model, x, labels, preprocessing=PREPROCESSING)
    chunked = BIM(epsilon=0.1, steps=4, batch_size=4, progress=True)(
        model, x, labels, preprocessing=PREPROCESSING
    )
    torch.testing.assert_close(chunked.adversarial, whole.adversarial)
    assert chunked.params["batch_size"] == 4


def test_shards_concatenate_to_the_whole_run(setup) -> None:
    model, x, labels = setup
    attack = BIM(epsilon=0.1, steps=4, batch_size=2)
    whole = attack(model, x, labels, preprocessing=PREPROCESSING)
    shards = [
        attack(
            model,
            x[rows],
            labels[rows],
            preprocessing=PREPROCESSING,
            indices=torch.arange(len(x))[rows],
        )
        for rows in (slice(0, 2), slice(2, None))
    ]
    merged = AdversarialBatch.concatenate(shards)
    assert torch.equal(merged.indices, whole.indices)
    torch.testing.assert_close(merged.adversarial, whole.adversarial)


def test_progress_bar_is_written(setup, capsys) -> None:
    model, x, labels = setup
    FGSM(epsilon=0.1, progress=True)(model, x, labels, preprocessing=PREPROCESSING)
    assert "fgsm" in capsys.readouterr().err


def test_works_under_no_grad(setup) -> None:
    model, x, labels = setup
    with torch.no_grad():
        batch = FGSM(epsilon=0.1)(model, x, labels, preprocessing=PREPROCESSING)
    assert batch.success.any()


def test_misclassified_clean_images_count_as_successes(setup) -> None:
    model, x, labels = setup
    wrong = (labels + 1) % NUM_CLASSES
    batch = FGSM(epsilon=0.01)(model, x, wrong, preprocessing=PREPROCESSING)
    assert batch.success.all()
    assert torch.equal(batch.clean_predictions, labels)
    assert not (batch.clean_predictions == batch.labels).any()


def test_images_that_require_grad(setup) -> None:
    model, x, labels = setup
    batch = BIM(epsilon=0.1, steps=2)(
        model, x.requires_grad_(), labels, preprocessing=PREPROCESSING
    )
    assert not batch.clean.requires_grad and not batch.adversarial.requires_grad


def test_indices_are_recorded(setup) -> None:
    model, x, labels = setup
    indices = torch.arange(100, 100 + len(x))
    batch = FGSM(epsilon=0.1)(
        model, x, labels, preprocessing=PREPROCESSING, indices=indices
    )
    assert torch.equal(batch.indices, indices)


def test_saves_and_loads(setup, tmp_path) -> None:
    model, x, labels = setup
    batch = fast_cw()(model, x, labels, preprocessing=PREPROCESSING)
    batch.save(tmp_path / "cw.pt")
    loaded = AdversarialBatch.load(tmp_path / "cw.pt")
    assert torch.equal(loaded.adversarial, batch.adversarial)
    assert loaded.params == batch.params


@pytest.mark.parametrize(
    "images, labels, kwargs, match",
    [
        (data() * 2, None, {}, "`images` must lie in"),
        (data() - 0.5, None, {}, "`images` must lie in"),
        (data()[:0], torch.zeros(0, dtype=torch.long), {}, "`images` is an empty"),
        (data(), torch.zeros(5, dtype=torch.long), {}, "`labels` must have shape"),
        (data(), torch.zeros(6), {}, "`labels` must hold integers"),
        (data(), torch.full((6,), 4), {}, "`labels` contains class 4"),
        (data(), None, {"targets": [0] * 6}, "`targets` equal `labels`"),
        (data(), None, {"targets": [0, 1]}, "`targets` must have shape"),
        (data(), None, {"indices": [0]}, "`indices` must have shape"),
        (data()[0], None, {}, r"shape \(N, C, H, W\)"),
    ],
)
def test_bad_input(setup, images, labels, kwargs, match) -> None:
    model = setup[0]
    if labels is None:
        labels = torch.zeros(len(images), dtype=torch.long)
    with pytest.raises(ValueError, match=match):
        FGSM(epsilon=0.1)(model, images, labels, preprocessing=PREPROCESSING, **kwargs)


def test_nan_input(setup) -> None:
    model, x, labels = setup
    x = x.clone()
    x[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="`images` contains NaN"):
        fast_cw()(model, x, labels, preprocessing=PREPROCESSING)


@pytest.mark.parametrize(
    "make",
    [
        lambda: FGSM(epsilon=0),
        lambda: FGSM(epsilon=float("nan")),
        lambda: BIM(epsilon=0.1, steps=0),
        lambda: CarliniWagnerL2(confidence=-1),
        lambda: CarliniWagnerL2(binary_search_steps=1.5),
        lambda: FGSM(epsilon=0.1, batch_size=0),
    ],
)
def test_bad_configuration(make) -> None:
    with pytest.raises(ValueError):
        make()
