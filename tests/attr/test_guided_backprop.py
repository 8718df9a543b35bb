import warnings

import pytest
import torch
import torch.nn.functional as F
import torchvision
from captum.attr import Deconvolution as CaptumDeconvolution
from captum.attr import GuidedBackprop as CaptumGuidedBackprop
from torch.overrides import _get_current_function_mode_stack

from captum_contrastive import Deconvolution, GuidedBackprop
from tests.tiny_models import CaseModel, ReferenceGuidedReLU, images, small_cnn


def _captum(cls: type, model: torch.nn.Module, x: torch.Tensor, target) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(model).attribute(x, target=target)


@pytest.mark.parametrize("arch", ["vgg11", "resnet18"])
@pytest.mark.parametrize(
    "ours, theirs",
    [(GuidedBackprop, CaptumGuidedBackprop), (Deconvolution, CaptumDeconvolution)],
    ids=["GuidedBackprop", "Deconvolution"],
)
def test_equals_captum_on_torchvision_models(
    arch: str, ours: type, theirs: type
) -> None:
    torch.manual_seed(0)
    model = torchvision.models.get_model(arch, weights=None, num_classes=10).eval()
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    expected = _captum(theirs, model, x, [3, 7])
    actual = ours(model).attribute(x, target=[3, 7])
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-8)
    assert actual.abs().sum() > 0


def test_functional_relu_differs_from_captum_and_matches_reference() -> None:
    x = images(2)
    model = CaseModel("sequential", F.relu).eval()
    ours = GuidedBackprop(model).attribute(x, target=2)
    reference = CaseModel("sequential", ReferenceGuidedReLU.apply)
    xr = x.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(reference(xr)[:, 2].sum(), xr)
    torch.testing.assert_close(ours, expected)
    assert not torch.allclose(_captum(CaptumGuidedBackprop, model, x, 2), expected)


def test_tuple_inputs_and_additional_forward_args() -> None:
    model = small_cnn()

    def two_input_forward(
        a: torch.Tensor, b: torch.Tensor, scale: float
    ) -> torch.Tensor:
        return model(a + b) * scale

    a, b = images(2, seed=1), images(2, seed=2)
    result = GuidedBackprop(two_input_forward).attribute(
        (a, b), target=1, additional_forward_args=(2.0,)
    )
    assert isinstance(result, tuple) and len(result) == 2
    assert result[0].shape == a.shape
    single = GuidedBackprop(model).attribute(a + b, target=1) * 2.0
    torch.testing.assert_close(result[0], single)


def test_internal_batch_size_gives_identical_results() -> None:
    model = small_cnn()
    x = images(5)
    full = GuidedBackprop(model).attribute(x, target=[0, 1, 2, 3, 4])
    chunked = GuidedBackprop(model).attribute(
        x, target=[0, 1, 2, 3, 4], internal_batch_size=2
    )
    torch.testing.assert_close(chunked, full, rtol=1e-5, atol=1e-9)


def test_no_warnings_and_no_state_left_behind() -> None:
    model = small_cnn()
    for p in model.parameters():
        p.grad = torch.full_like(p, 0.5)
    x = images(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GuidedBackprop(model).attribute(x, target=0)
        Deconvolution(model).attribute(x, target=0)
    assert not x.requires_grad
    assert all(torch.all(p.grad == 0.5) for p in model.parameters())
    assert not any(m._backward_hooks or m._forward_hooks for m in model.modules())
    assert not _get_current_function_mode_stack()


def test_state_restored_after_exception_mid_forward() -> None:
    model = small_cnn().train()
    frozen = model.conv1.weight
    frozen.requires_grad_(False)
    grads = {name: torch.randn_like(p) for name, p in model.named_parameters()}
    for name, p in model.named_parameters():
        p.grad = grads[name].clone()
    calls = {"n": 0}

    def failing_forward(x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(model.conv1(x))
        calls["n"] += 1
        raise RuntimeError("failure inside forward")
        return h

    x = images(2).requires_grad_(False)
    x_before = x.clone()
    with pytest.raises(RuntimeError, match="failure inside forward"):
        GuidedBackprop(failing_forward).attribute(x, target=0)
    assert calls["n"] == 1
    assert model.training
    assert not frozen.requires_grad
    for name, p in model.named_parameters():
        assert torch.equal(p.grad, grads[name])
    assert torch.equal(x, x_before) and not x.requires_grad
    assert not _get_current_function_mode_stack()


def test_inputs_requiring_grad_keep_it() -> None:
    x = images(2).requires_grad_(True)
    GuidedBackprop(small_cnn()).attribute(x, target=0)
    assert x.requires_grad and x.grad is None


@pytest.mark.parametrize(
    "bad, error",
    [
        (torch.full((1, 3, 8, 8), float("nan")), "NaN or Inf"),
        (torch.empty(0, 3, 8, 8), "empty"),
    ],
)
def test_bad_inputs(bad: torch.Tensor, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        GuidedBackprop(small_cnn()).attribute(bad, target=0)


def test_bad_internal_batch_size() -> None:
    with pytest.raises(ValueError, match="internal_batch_size"):
        GuidedBackprop(small_cnn()).attribute(
            images(2), target=0, internal_batch_size=0
        )
