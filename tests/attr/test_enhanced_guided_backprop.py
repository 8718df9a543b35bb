import numpy as np
import pytest
import torch
from torch.overrides import _get_current_function_mode_stack

from captum_contrastive import EnhancedGuidedBackprop
from tests.tiny_models import CaseModel, ReferenceGuidedReLU, images, small_cnn


def _reference_guided(x: torch.Tensor, cls: list[int]) -> np.ndarray:
    model = CaseModel("parallel_branches", ReferenceGuidedReLU.apply)
    x = x.clone().requires_grad_(True)
    scores = model(x)[torch.arange(len(cls)), torch.tensor(cls)]
    (grad,) = torch.autograd.grad(scores.sum(), x)
    return grad.numpy().astype(np.float64)


def _hand_formula(g_k: np.ndarray, g_m: np.ndarray) -> np.ndarray:
    out = np.zeros_like(g_k)
    for n in range(g_k.shape[0]):
        for c in range(g_k.shape[1]):
            s_k = np.maximum(g_k[n, c], 0)
            s_m = np.maximum(g_m[n, c], 0)
            e_k, e_m = s_k.sum(), s_m.sum()
            norm_k = s_k / e_k if e_k > 0 else np.zeros_like(s_k)
            norm_m = s_m / e_m if e_m > 0 else np.zeros_like(s_m)
            out[n, c] = np.maximum(norm_k - norm_m, 0)
    return out


def test_matches_the_formula_computed_by_hand() -> None:
    x = images(3)
    k, m = [0, 1, 3], [2, 0, 1]
    model = CaseModel("parallel_branches", torch.relu).eval()
    result = EnhancedGuidedBackprop(model).attribute(x, target=k, contrast_target=m)
    expected = _hand_formula(_reference_guided(x, k), _reference_guided(x, m))
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-5, atol=1e-7)
    assert result.shape == x.shape and (result >= 0).all()
    assert result.abs().sum() > 0


def test_default_target_is_prediction_and_contrast_is_runner_up() -> None:
    model = small_cnn()
    x = images(4)
    logits = model(x)
    top2 = logits.topk(2, dim=1).indices
    egbp = EnhancedGuidedBackprop(model)
    default = egbp.attribute(x)
    explicit = egbp.attribute(x, target=top2[:, 0], contrast_target=top2[:, 1])
    torch.testing.assert_close(default, explicit)
    not_top = (top2[:, 0] + 1) % 5
    masked = logits.clone()
    masked[torch.arange(4), not_top] = -float("inf")
    runner_up = masked.argmax(dim=1)
    torch.testing.assert_close(
        egbp.attribute(x, target=not_top),
        egbp.attribute(x, target=not_top, contrast_target=runner_up),
    )
    assert torch.equal(runner_up, top2[:, 0])


@pytest.mark.parametrize(
    "target, contrast",
    [
        (2, 4),
        ([2, 2, 2], [4, 4, 4]),
        (torch.tensor([2, 2, 2]), torch.tensor([4, 4, 4])),
    ],
)
def test_target_formats_agree(target, contrast) -> None:
    model, x = small_cnn(), images(3)
    reference = EnhancedGuidedBackprop(model).attribute(x, target=2, contrast_target=4)
    result = EnhancedGuidedBackprop(model).attribute(
        x, target=target, contrast_target=contrast
    )
    torch.testing.assert_close(result, reference)


def test_batch_equals_single_calls() -> None:
    model, x = small_cnn(), images(4)
    batch = EnhancedGuidedBackprop(model).attribute(x)
    singles = torch.cat(
        [EnhancedGuidedBackprop(model).attribute(x[i : i + 1]) for i in range(4)]
    )
    torch.testing.assert_close(batch, singles, rtol=1e-5, atol=1e-8)


def test_internal_batch_size_is_identical() -> None:
    model, x = small_cnn(), images(5)
    egbp = EnhancedGuidedBackprop(model)
    torch.testing.assert_close(
        egbp.attribute(
            x, target=0, contrast_target=[1, 2, 3, 4, 1], internal_batch_size=2
        ),
        egbp.attribute(x, target=0, contrast_target=[1, 2, 3, 4, 1]),
        rtol=1e-5,
        atol=1e-9,
    )


def test_zero_energy_channel_gives_zeros_not_nan() -> None:
    def blind_to_green(x: torch.Tensor) -> torch.Tensor:
        x = x * torch.tensor([1.0, 0.0, 1.0]).view(1, 3, 1, 1)
        return small_cnn()(x)

    result = EnhancedGuidedBackprop(blind_to_green).attribute(images(2))
    assert torch.isfinite(result).all()
    assert torch.all(result[:, 1] == 0)
    assert result[:, 0].sum() > 0


def test_tuple_inputs_keep_structure() -> None:
    model = small_cnn()

    def forward(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return model(a * b)

    a, b = images(2, seed=3), images(2, seed=4)
    result = EnhancedGuidedBackprop(forward).attribute((a, b), target=1)
    assert isinstance(result, tuple) and [r.shape for r in result] == [a.shape, b.shape]


def test_shares_one_forward_pass() -> None:
    model = small_cnn()
    calls = {"n": 0}
    model.register_forward_hook(lambda *_: calls.__setitem__("n", calls["n"] + 1))
    EnhancedGuidedBackprop(model).attribute(images(3))
    assert calls["n"] == 1


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(target=5), ValueError, "`target`.*out of range"),
        (dict(target=-1), ValueError, "`target`.*out of range"),
        (dict(contrast_target=9), ValueError, "`contrast_target`.*out of range"),
        (dict(target=2, contrast_target=2), ValueError, "equals `target`"),
        (dict(target=[0, 1, 2], contrast_target=[1, 1, 0]), ValueError, "example 1"),
        (dict(target=[0, 1]), ValueError, "`target` has 2 entries"),
        (dict(contrast_target=[0, 1, 2, 3]), ValueError, "`contrast_target` has 4"),
        (dict(target=1.5), TypeError, "`target`"),
        (dict(target=torch.tensor([0.0, 1.0, 2.0])), TypeError, "`target`"),
        (dict(target=[(0, 1)] * 3), TypeError, "`target`"),
    ],
)
def test_bad_targets(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        EnhancedGuidedBackprop(small_cnn()).attribute(images(3), **kwargs)


@pytest.mark.parametrize(
    "inputs, match",
    [
        (torch.full((2, 3, 8, 8), float("inf")), "NaN or Inf"),
        (torch.rand(2, 8), "channel axis"),
        ([torch.rand(2, 3, 8, 8)], "`inputs` must be a Tensor"),
    ],
)
def test_bad_inputs(inputs, match: str) -> None:
    error = TypeError if isinstance(inputs, list) else ValueError
    with pytest.raises(error, match=match):
        EnhancedGuidedBackprop(small_cnn()).attribute(inputs)


def test_model_output_must_be_class_scores() -> None:
    model = small_cnn()
    with pytest.raises(ValueError, match=r"\(N, num_classes\)"):
        EnhancedGuidedBackprop(lambda x: model(x).sum(dim=1)).attribute(images(2))
    with pytest.raises(ValueError, match=r"\(N, num_classes\)"):
        EnhancedGuidedBackprop(lambda x: model(x)[:, :, None]).attribute(images(2))


def test_state_is_restored_after_exception() -> None:
    model = small_cnn().train()
    for p in model.parameters():
        p.grad = torch.ones_like(p)

    def forward(x: torch.Tensor) -> torch.Tensor:
        model(x)
        raise KeyError("mid-forward")

    x = images(2)
    with pytest.raises(KeyError):
        EnhancedGuidedBackprop(forward).attribute(x)
    assert model.training and not x.requires_grad
    assert all(torch.all(p.grad == 1) for p in model.parameters())
    assert not _get_current_function_mode_stack()
    assert not any(m._forward_hooks or m._backward_hooks for m in model.modules())


def test_parameters_untouched_in_normal_use() -> None:
    model = small_cnn()
    EnhancedGuidedBackprop(model).attribute(images(2))
    assert all(p.grad is None and p.requires_grad for p in model.parameters())
