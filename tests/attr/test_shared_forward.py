"""The contrastive forms of Saliency / InputXGradient / IntegratedGradients share
their forward passes between class k and class m, with the same maps as two calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from captum.attr import (
    DeepLift,
    InputXGradient,
    IntegratedGradients,
    NoiseTunnel,
    Saliency,
)
from torch import Tensor, nn

from captum_contrastive import ContrastiveAttribution
from captum_contrastive.attr import shared_forward
from captum_contrastive.attr.shared_forward import (
    shared_gradient_maps,
    supports_shared_forward,
)
from tests.tiny_models import images, small_cnn

TARGET, CONTRAST = [0, 1, 2], [3, 4, 0]
TIGHT = {"rtol": 1e-5, "atol": 1e-7}

CASES: dict[str, tuple[Callable[[nn.Module], Any], dict[str, Any]]] = {
    "saliency_abs": (Saliency, {}),
    "saliency_signed": (Saliency, {"abs": False}),
    "input_x_gradient": (InputXGradient, {}),
    "ig_gausslegendre": (IntegratedGradients, {"n_steps": 7}),
    "ig_riemann_trapezoid_baselines": (
        IntegratedGradients,
        {"n_steps": 6, "method": "riemann_trapezoid", "baselines": 0.25},
    ),
    "ig_tensor_baselines_batched": (
        IntegratedGradients,
        {
            "n_steps": 7,
            "method": "gausslegendre",
            "baselines": torch.full((3, 3, 8, 8), 0.1),
            "internal_batch_size": 7,
        },
    ),
    "ig_riemann_left_batched": (
        IntegratedGradients,
        {"n_steps": 5, "method": "riemann_left", "internal_batch_size": 6},
    ),
    "ig_not_times_inputs": (
        lambda m: IntegratedGradients(m, multiply_by_inputs=False),
        {"n_steps": 4},
    ),
}


class _Scaled(nn.Module):
    """A model with an additional forward argument."""

    def __init__(self) -> None:
        super().__init__()
        self.net = small_cnn()

    def forward(self, x: Tensor, scale: Tensor | float) -> Tensor:
        return self.net(x) * scale


class _TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = small_cnn()

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.net(x * y + y)


def _two_calls(method: Any, inputs: Any, kwargs: dict[str, Any]) -> tuple:
    maps_k = method.attribute(inputs, target=TARGET, **kwargs)
    maps_m = method.attribute(inputs, target=CONTRAST, **kwargs)
    if isinstance(maps_k, Tensor):
        return (maps_k,), (maps_m,)
    return tuple(maps_k), tuple(maps_m)


def _assert_pairs_close(shared: tuple, reference: tuple) -> None:
    for got, want in zip(shared, reference, strict=True):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            torch.testing.assert_close(g, w, **TIGHT)


def _count_rows(model: nn.Module) -> tuple[list[int], Any]:
    rows: list[int] = []
    handle = model.register_forward_hook(
        lambda _module, args, _output: rows.append(int(args[0].shape[0]))
    )
    return rows, handle


@pytest.fixture
def two_call_wrapper(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    def disable() -> None:
        monkeypatch.setattr(shared_forward, "shared_gradient_maps", lambda *a: None)

    return disable


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", list(CASES))
def test_shared_maps_equal_two_captum_calls(name: str) -> None:
    build, kwargs = CASES[name]
    model, x = small_cnn(), images(3)
    method = build(model)
    assert supports_shared_forward(method, kwargs)
    shared = shared_gradient_maps(
        method, (x,), torch.tensor(TARGET), torch.tensor(CONTRAST), kwargs
    )
    assert shared is not None
    _assert_pairs_close(shared, _two_calls(method, x, kwargs))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", list(CASES))
def test_wrapper_equals_its_two_call_path(
    name: str, two_call_wrapper: Callable[[], None]
) -> None:
    build, kwargs = CASES[name]
    model, x = small_cnn(), images(3)
    wrapper = ContrastiveAttribution(build(model))
    shared = wrapper.attribute(x, target=TARGET, contrast_target=CONTRAST, **kwargs)
    default = wrapper.attribute(x, **kwargs)  # predicted class vs runner-up
    two_call_wrapper()
    torch.testing.assert_close(
        shared,
        wrapper.attribute(x, target=TARGET, contrast_target=CONTRAST, **kwargs),
        **TIGHT,
    )
    torch.testing.assert_close(default, wrapper.attribute(x, **kwargs), **TIGHT)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "build, kwargs",
    [
        (Saliency, {}),
        (InputXGradient, {}),
        (IntegratedGradients, {"n_steps": 5, "internal_batch_size": 6}),
    ],
)
@pytest.mark.parametrize("scale", [0.5, "per_example"])
def test_additional_forward_args(build: Any, kwargs: dict, scale: Any) -> None:
    model, x = _Scaled().eval(), images(3)
    if scale == "per_example":
        scale = torch.tensor([[0.5], [2.0], [-1.0]])
    kwargs = {**kwargs, "additional_forward_args": (scale,)}
    method = build(model)
    shared = shared_gradient_maps(
        method, (x,), torch.tensor(TARGET), torch.tensor(CONTRAST), kwargs
    )
    _assert_pairs_close(shared, _two_calls(method, x, kwargs))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "build, kwargs",
    [
        (Saliency, {"abs": False}),
        (IntegratedGradients, {"n_steps": 4, "baselines": (0.0, 0.5)}),
    ],
)
def test_several_input_tensors(build: Any, kwargs: dict) -> None:
    model, x, y = _TwoInputs().eval(), images(3), images(3, seed=2)
    method = build(model)
    shared = shared_gradient_maps(
        method, (x, y), torch.tensor(TARGET), torch.tensor(CONTRAST), kwargs
    )
    assert len(shared[0]) == 2
    _assert_pairs_close(shared, _two_calls(method, (x, y), kwargs))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("internal_batch_size", [None, 6, 9])
def test_integrated_gradients_runs_each_step_forward_once(
    internal_batch_size: int | None, two_call_wrapper: Callable[[], None]
) -> None:
    steps, n = 5, 3
    model, x = small_cnn(), images(n)
    kwargs = {"n_steps": steps, "internal_batch_size": internal_batch_size}
    wrapper = ContrastiveAttribution(IntegratedGradients(model))
    rows, handle = _count_rows(model)
    try:
        wrapper.attribute(x, target=TARGET, contrast_target=CONTRAST, **kwargs)
        shared_rows = list(rows)
        rows.clear()
        two_call_wrapper()
        wrapper.attribute(x, target=TARGET, contrast_target=CONTRAST, **kwargs)
        two_call_rows = list(rows)
    finally:
        handle.remove()
    # One no-grad forward of the N images resolves the classes, then S * N rows.
    assert shared_rows[0] == n
    assert sum(shared_rows) == n + steps * n
    assert sum(two_call_rows) == n + 2 * steps * n
    if internal_batch_size is not None:
        # Chunks of steps, as in Captum: memory does not grow with S * N.
        per_chunk = max(1, internal_batch_size // n) * n
        assert max(shared_rows[1:]) == per_chunk < steps * n


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "build", [Saliency, InputXGradient], ids=["saliency", "input_x_gradient"]
)
def test_gradient_methods_run_one_forward(build: Any) -> None:
    model, x = small_cnn(), images(3)
    rows, handle = _count_rows(model)
    try:
        ContrastiveAttribution(build(model)).attribute(
            x, target=TARGET, contrast_target=CONTRAST
        )
    finally:
        handle.remove()
    assert rows == [3, 3]  # class resolution, then one shared forward


class _SaliencySubclass(Saliency):
    pass


FALLBACKS: dict[str, tuple[Callable[[nn.Module], Any], dict[str, Any]]] = {
    "noise_tunnel": (
        lambda m: NoiseTunnel(Saliency(m)),
        {"nt_type": "smoothgrad", "nt_samples": 2, "stdevs": 0.05},
    ),
    "deeplift": (DeepLift, {}),
    "subclass": (_SaliencySubclass, {}),
    "unknown_keyword": (Saliency, {"abs": True, "some_future_option": 1}),
    "convergence_delta": (
        IntegratedGradients,
        {"n_steps": 4, "return_convergence_delta": True},
    ),
}


@pytest.mark.parametrize("name", list(FALLBACKS))
def test_unsupported_options_are_not_shared(name: str) -> None:
    build, kwargs = FALLBACKS[name]
    method = build(small_cnn())
    assert not supports_shared_forward(method, kwargs)
    assert (
        shared_gradient_maps(
            method, (images(3),), torch.tensor(TARGET), torch.tensor(CONTRAST), kwargs
        )
        is None
    )


def test_replaced_gradient_func_is_not_shared() -> None:
    method = Saliency(small_cnn())
    method.gradient_func = lambda *args, **kwargs: None
    assert not supports_shared_forward(method, {})


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fallback_runs_the_method_twice() -> None:
    model, x = small_cnn(), images(3)
    rows, handle = _count_rows(model)
    try:
        result = ContrastiveAttribution(_SaliencySubclass(model)).attribute(
            x, target=TARGET, contrast_target=CONTRAST
        )
    finally:
        handle.remove()
    assert rows == [3, 3, 3]
    reference = ContrastiveAttribution(Saliency(model)).attribute(
        x, target=TARGET, contrast_target=CONTRAST
    )
    torch.testing.assert_close(result, reference, **TIGHT)
