"""Checks on the model: TorchScript (refused: not guided) and training mode."""

import warnings
from collections.abc import Callable

import pytest
import torch
from captum.attr import NoiseTunnel, Saliency
from torch import nn

from captum_contrastive import (
    ContrastiveAttribution,
    Deconvolution,
    EnhancedGuidedBackprop,
    GuidedBackprop,
)
from captum_contrastive.attr import TrainingModeWarning
from captum_contrastive.guided import (
    TorchScriptError,
    TorchScriptWarning,
    find_torchscript,
)
from tests.tiny_models import images, small_cnn

GUIDED = {
    "EnhancedGuidedBackprop": EnhancedGuidedBackprop,
    "GuidedBackprop": GuidedBackprop,
    "Deconvolution": Deconvolution,
}
ALL_METHODS: dict[str, Callable[[nn.Module], object]] = {
    **GUIDED,
    "ContrastiveAttribution": lambda m: ContrastiveAttribution(Saliency(m)),
    "ContrastiveAttribution(GuidedBackprop)": lambda m: ContrastiveAttribution(
        GuidedBackprop(m)
    ),
}


def _traced(model: nn.Module) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated
        return torch.jit.trace(model, images(2))


class Wrapper(nn.Module):
    """An eager module whose backbone is TorchScript."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x) * 1.0


def _attribute(method: object, x: torch.Tensor) -> torch.Tensor:
    return method.attribute(x, target=1)


def _recorded(category: type, call: Callable[[], object]) -> list:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [w for w in caught if issubclass(w.category, category)]


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("name", list(GUIDED))
def test_traced_model_is_refused_before_any_work(name: str, strict: bool) -> None:
    """Its ReLUs cannot be guided: no silent plain gradients, and no forward."""
    model = Wrapper(_traced(small_cnn())).eval()
    forward_calls: list[int] = []
    model.register_forward_hook(lambda *_: forward_calls.append(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", TorchScriptWarning)
        with pytest.raises(TorchScriptError, match="submodule 'backbone'") as raised:
            _attribute(GUIDED[name](model, strict=strict), images(2))
    assert "Pass the eager" in str(raised.value)
    assert forward_calls == []


@pytest.mark.parametrize("name", list(GUIDED))
def test_traced_model_itself_is_named(name: str) -> None:
    with pytest.raises(TorchScriptError, match="the model .TorchScript SmallCNN."):
        _attribute(GUIDED[name](_traced(small_cnn())), images(2))


def _scriptable_relu(t: torch.Tensor) -> torch.Tensor:
    return torch.relu(t)


def test_find_torchscript_sees_scripted_modules_and_methods() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(small_cnn())
        function = torch.jit.script(_scriptable_relu)
    assert find_torchscript(scripted) == "the model (TorchScript SmallCNN)"
    assert "TorchScript method 'forward'" in find_torchscript(scripted.forward)
    assert "TorchScript function" in find_torchscript(function)
    assert find_torchscript(Wrapper(scripted).forward).startswith("submodule")
    assert find_torchscript(small_cnn()) is None
    assert find_torchscript(lambda t: t) is None


def test_contrastive_over_guided_backprop_refuses_torchscript() -> None:
    method = ContrastiveAttribution(GuidedBackprop(_traced(small_cnn())))
    with pytest.raises(TorchScriptError, match="TorchScript SmallCNN"):
        method.attribute(images(2))


@pytest.mark.parametrize("name", list(ALL_METHODS))
def test_training_mode_warns_once_per_call(name: str) -> None:
    model = small_cnn().train()
    method = ALL_METHODS[name](model)
    for _ in range(2):
        found = _recorded(TrainingModeWarning, lambda: _attribute(method, images(2)))
        assert len(found) == 1
        message = str(found[0].message)
        assert "SmallCNN is in training mode" in message
        assert "model.eval()" in message
        assert issubclass(found[0].category, UserWarning)
        assert found[0].filename == __file__  # points at the caller
    assert model.training


@pytest.mark.parametrize("name", list(ALL_METHODS))
def test_eval_model_gives_no_warning(name: str) -> None:
    method = ALL_METHODS[name](small_cnn())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", "Input Tensor 0 did not already require")
        _attribute(method, images(2))


def test_submodule_left_in_training_mode_is_named() -> None:
    model = small_cnn()
    model.fc.train()
    with pytest.warns(TrainingModeWarning, match="submodule 'fc' of SmallCNN"):
        GuidedBackprop(model).attribute(images(2), target=0)


def test_bound_forward_method_is_inspected() -> None:
    model = small_cnn().train()
    with pytest.warns(TrainingModeWarning, match="model.eval()"):
        EnhancedGuidedBackprop(model.forward).attribute(images(2))


@pytest.mark.parametrize("batch_size, inner_calls", [(None, 1), (2, 2)])
def test_noise_tunnel_warns_once_per_inner_call(
    batch_size: int | None, inner_calls: int
) -> None:
    """NoiseTunnel calls the method once per partition of nt_samples."""
    method = NoiseTunnel(EnhancedGuidedBackprop(small_cnn().train()))
    found = _recorded(
        TrainingModeWarning,
        lambda: method.attribute(
            images(2), nt_samples=4, nt_samples_batch_size=batch_size, stdevs=0.05
        ),
    )
    assert len(found) == inner_calls


def test_warning_leaves_the_model_and_the_result_alone() -> None:
    """SmallCNN has no dropout or batch norm: in training mode it computes the same
    maps, and it is still in training mode afterwards (no silent model.eval())."""
    x = images(2)
    expected = EnhancedGuidedBackprop(small_cnn()).attribute(x)
    model = small_cnn().train()
    with pytest.warns(TrainingModeWarning):
        result = EnhancedGuidedBackprop(model).attribute(x)
    torch.testing.assert_close(result, expected, rtol=0, atol=0)
    assert all(m.training for m in model.modules())
