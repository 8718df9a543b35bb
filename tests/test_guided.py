import warnings

import pytest
import torch
import torch.nn.functional as F
from captum.attr import GuidedBackprop as CaptumGuidedBackprop
from torch import nn
from torch.overrides import _get_current_function_mode_stack

from captum_contrastive import (
    UnsupportedActivationError,
    UnsupportedActivationWarning,
    guided_relu,
)
from captum_contrastive.guided import TorchScriptError, TorchScriptWarning
from tests.tiny_models import (
    CaseModel,
    ReferenceDeconvReLU,
    ReferenceGuidedReLU,
    images,
)

RELU_CALL_PATHS = {
    "nn.ReLU": lambda: nn.ReLU(),
    "nn.ReLU(inplace)": lambda: nn.ReLU(inplace=True),
    "F.relu": lambda: F.relu,
    "F.relu(inplace)": lambda: lambda t: F.relu(t, inplace=True),
    "torch.relu": lambda: torch.relu,
    "Tensor.relu": lambda: lambda t: t.relu(),
    "Tensor.relu_": lambda: lambda t: t.relu_(),
    "torch.relu_": lambda: torch.relu_,
    "F.relu_": lambda: F.relu_,
    "clamp(min=0)": lambda: lambda t: t.clamp(min=0),
    # ReLUs written by hand (guide_handwritten)
    "clamp_min(0)": lambda: lambda t: torch.clamp_min(t, 0),
    "torch.maximum(x, zeros)": lambda: lambda t: torch.maximum(t, torch.zeros_like(t)),
    "torch.maximum(0-d zero, x)": lambda: lambda t: torch.maximum(torch.tensor(0.0), t),
    "torch.max(x, zeros)": lambda: lambda t: torch.max(t, torch.zeros_like(t)),
    "Tensor.maximum": lambda: lambda t: t.maximum(torch.zeros(1)),
    "torch.fmax": lambda: lambda t: torch.fmax(t, torch.zeros_like(t)),
    "torch.where(x > 0, x, 0)": lambda: lambda t: torch.where(t > 0, t, 0),
    "torch.where(x >= 0, x, zeros)": lambda: (
        lambda t: torch.where(t >= 0, t, torch.zeros_like(t))
    ),
    "torch.where(x <= 0, 0, x)": lambda: lambda t: torch.where(t <= 0, 0.0, t),
    "Tensor.where(x > 0, 0)": lambda: lambda t: t.where(t > 0, 0),
    "F.threshold(x, 0, 0)": lambda: lambda t: F.threshold(t, 0.0, 0.0),
}
IN_PLACE = {
    "nn.ReLU(inplace)",
    "F.relu(inplace)",
    "Tensor.relu_",
    "torch.relu_",
    "F.relu_",
}
TOPOLOGIES = [
    "sequential",
    "reused_sequential",
    "parallel_branches",
    "input_used_elsewhere",
    "no_grad_tensor",
]
REFERENCES = {"guided": ReferenceGuidedReLU, "deconvnet": ReferenceDeconvReLU}


def _input_gradient(model: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x)[:, target].sum(), x)
    return grad


@pytest.mark.parametrize("rule", ["guided", "deconvnet"])
@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("call_path", list(RELU_CALL_PATHS))
def test_engine_matches_reference_on_every_relu_call_path(
    rule: str, topology: str, call_path: str
) -> None:
    if topology == "input_used_elsewhere" and call_path in IN_PLACE:
        pytest.skip("an in-place ReLU overwrites the input it would share")
    x = images(2, size=8)
    model = CaseModel(topology, RELU_CALL_PATHS[call_path]())
    reference = CaseModel(topology, REFERENCES[rule].apply)
    expected = _input_gradient(reference, x, target=1)
    plain = _input_gradient(model, x, target=1)
    with guided_relu(rule) as mode:
        guided = _input_gradient(model, x, target=1)
    torch.testing.assert_close(guided, expected, rtol=1e-5, atol=1e-7)
    assert mode.relu_calls > 0
    assert not torch.allclose(plain, expected), "the case must discriminate"


def test_captum_is_wrong_where_the_engine_is_right() -> None:
    x = images(2, size=8)
    expected = _input_gradient(CaseModel("sequential", ReferenceGuidedReLU.apply), x, 1)
    functional = CaseModel("sequential", F.relu)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        captum_map = CaptumGuidedBackprop(functional).attribute(x, target=1)
    assert not torch.allclose(captum_map, expected)
    with guided_relu("guided"):
        ours = _input_gradient(functional, x, target=1)
    torch.testing.assert_close(ours, expected)


def test_relu_on_tensor_without_grad_just_runs_forward() -> None:
    x = torch.randn(4)
    with guided_relu():
        out = torch.relu(x)
        in_place = x.clone().relu_()
    torch.testing.assert_close(out, x.clamp_min(0))
    torch.testing.assert_close(in_place, x.clamp_min(0))
    assert not out.requires_grad


NOT_RELUS = {
    "clamp(min=0, max=1)": lambda t: t.clamp(min=0, max=1),
    "maximum(x, 0.1)": lambda t: torch.maximum(t, torch.full_like(t, 0.1)),
    "maximum(x, y) with grad": lambda t: torch.maximum(t, t.detach() * 0 + t * 0),
    "max(x, dim)": lambda t: torch.max(t, 1, keepdim=True).values.expand_as(t),
    "where(mask, x, 0), mask not x > 0": lambda t: torch.where(t.detach() > 0.1, t, 0),
    "where(x > 0, x, 0.01 x)": lambda t: torch.where(t > 0, t, 0.01 * t),
    "where(x > 0, 0, x)": lambda t: torch.where(t > 0, 0, t),
}


@pytest.mark.parametrize("form", list(NOT_RELUS))
def test_lookalikes_of_a_relu_are_left_alone(form: str) -> None:
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    with guided_relu() as mode:
        out = NOT_RELUS[form](x)
    assert mode.relu_calls == 0
    torch.testing.assert_close(out, NOT_RELUS[form](x))


@pytest.mark.parametrize(
    "form",
    [
        lambda t: torch.maximum(t, torch.zeros_like(t)),
        lambda t: torch.where(t > 0, t, 0),
    ],
    ids=["maximum", "where"],
)
@pytest.mark.parametrize("method", ["GuidedBackprop", "EnhancedGuidedBackprop"])
def test_handwritten_relu_is_guided_under_strict(form, method: str) -> None:
    """The issue's two forms: guided like nn.ReLU, not the plain gradient."""
    import captum_contrastive

    cls = getattr(captum_contrastive, method)
    x = images(2, size=8)
    handwritten = CaseModel("sequential", form).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = cls(handwritten, strict=True).attribute(x, target=1)
    expected = cls(CaseModel("sequential", nn.ReLU()).eval()).attribute(x, target=1)
    torch.testing.assert_close(result, expected, rtol=0, atol=0)
    plain = _input_gradient(handwritten, x, 1)
    if method == "GuidedBackprop":
        assert not torch.allclose(result, plain)


def test_clamp_with_upper_bound_is_not_treated_as_relu() -> None:
    x = torch.randn(6, requires_grad=True)
    with guided_relu() as mode:
        x.clamp(min=0, max=1).sum().backward()
    assert mode.relu_calls == 0


@pytest.mark.parametrize(
    "activation",
    [nn.GELU(), nn.SiLU(), nn.ReLU6(), nn.LeakyReLU(), nn.ELU(), nn.Hardswish()],
    ids=lambda m: type(m).__name__,
)
def test_unsupported_activation_warns_and_strict_raises(activation: nn.Module) -> None:
    x = torch.randn(3, requires_grad=True)
    with pytest.warns(UnsupportedActivationWarning, match="ReLU only"):
        with guided_relu():
            activation(x)
    with pytest.raises(UnsupportedActivationError):
        with guided_relu(strict=True):
            activation(x)
    assert not _get_current_function_mode_stack()


def test_unsupported_activation_warns_once_per_block() -> None:
    x = torch.randn(3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with guided_relu():
            for _ in range(5):
                F.gelu(x)
    assert len([w for w in caught if w.category is UnsupportedActivationWarning]) == 1


def test_mode_is_removed_after_an_exception() -> None:
    x = torch.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="boom"):
        with guided_relu():
            torch.relu(x)
            raise RuntimeError("boom")
    assert not _get_current_function_mode_stack()
    (grad,) = torch.autograd.grad(torch.relu(x).sum(), x)
    torch.testing.assert_close(grad, (x > 0).float())


def test_invalid_rule_is_rejected() -> None:
    with pytest.raises(ValueError):
        with guided_relu("sideways"):
            pass


def _traced_case_model() -> torch.jit.ScriptModule:
    model = CaseModel("sequential", F.relu).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated
        return torch.jit.trace(model, images(1))


def test_torchscript_bypasses_the_engine() -> None:
    """Why the check exists: inside a traced module the ReLUs are not guided."""
    eager = CaseModel("sequential", F.relu).eval()
    x = images(2)
    with guided_relu() as mode:
        guided = _input_gradient(eager, x, 1)
    assert mode.relu_calls == 2
    traced = _traced_case_model()
    with guided_relu() as mode:
        scripted = _input_gradient(traced, x, 1)
    assert mode.relu_calls == 0
    torch.testing.assert_close(scripted, _input_gradient(eager, x, 1))
    assert (scripted - guided).abs().max() > 1e-3


def test_engine_given_a_torchscript_model_warns_or_raises() -> None:
    traced = _traced_case_model()
    with pytest.warns(TorchScriptWarning, match="plain gradients") as record:
        with guided_relu(model=traced):
            pass
    assert record[0].filename == __file__
    with pytest.raises(TorchScriptError, match="TorchScript CaseModel"):
        with guided_relu(strict=True, model=nn.Sequential(traced)):
            pass
    assert not _get_current_function_mode_stack()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with guided_relu(strict=True, model=CaseModel("sequential", F.relu)):
            pass
