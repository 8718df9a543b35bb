"""Every way Captum users call an attribution method: plain, inside NoiseTunnel,
through captum.metrics, with internal_batch_size. Each seeds torch's generator
first, so the method under test and its oracle see the same random draws."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from captum.attr import Attribution, NoiseTunnel
from captum.metrics import infidelity, sensitivity_max
from torch import Tensor, nn

from tests.attr.conformance.models import seed_cpu

TensorOrTuple = Tensor | tuple[Tensor, ...]
STDEV = 0.02


def _perturb(inputs: TensorOrTuple) -> tuple[TensorOrTuple, TensorOrTuple]:
    tensors = inputs if isinstance(inputs, tuple) else (inputs,)
    noise = tuple(STDEV * torch.randn_like(t) for t in tensors)
    perturbed = tuple(t - n for t, n in zip(tensors, noise, strict=True))
    if isinstance(inputs, tuple):
        return noise, perturbed
    return noise[0], perturbed[0]


@dataclass(frozen=True)
class Call:
    """One call's data: the model, the inputs and the ``attribute`` keywords."""

    model: nn.Module
    inputs: TensorOrTuple
    kwargs: dict[str, Any]
    #: infidelity's own ``target``, in Captum's form (its forward passes)
    infidelity_target: Any = None


@dataclass(frozen=True)
class Composition:
    name: str
    run: Callable[[Attribution, Call], TensorOrTuple]
    #: the ``attribute`` keyword this composition adds, if any
    adds: dict[str, Any]


def _plain(method: Attribution, call: Call) -> TensorOrTuple:
    return method.attribute(call.inputs, **call.kwargs)


def _noise_tunnel(nt_type: str, samples: int, batch_size: int | None):
    def run(method: Attribution, call: Call) -> TensorOrTuple:
        seed_cpu(0)
        return NoiseTunnel(method).attribute(
            call.inputs,
            nt_type=nt_type,
            nt_samples=samples,
            nt_samples_batch_size=batch_size,
            stdevs=STDEV,
            **call.kwargs,
        )

    return run


def _sensitivity_max(method: Attribution, call: Call) -> Tensor:
    seed_cpu(0)
    return sensitivity_max(
        method.attribute,
        call.inputs,
        perturb_radius=STDEV,
        n_perturb_samples=2,
        **call.kwargs,
    )


def _like_inputs(attributions: TensorOrTuple, inputs: TensorOrTuple) -> TensorOrTuple:
    """One map per example (keras_reference, layer maps: ``(N, 1, H, W)``)
    expanded to the input's channels, as the docstrings tell infidelity's users."""
    if isinstance(attributions, tuple):
        return tuple(
            _like_inputs(a, x) for a, x in zip(attributions, inputs, strict=True)
        )
    if attributions.shape[1] == 1 and inputs.shape[1] != 1:
        return attributions.expand_as(inputs)
    return attributions


def _infidelity(method: Attribution, call: Call) -> Tensor:
    attributions = method.attribute(call.inputs, **call.kwargs)
    attributions = _like_inputs(attributions, call.inputs)
    seed_cpu(0)
    return infidelity(
        call.model,
        _perturb,
        call.inputs,
        attributions,
        additional_forward_args=call.kwargs.get("additional_forward_args"),
        target=call.infidelity_target,
        n_perturb_samples=2,
    )


def _compositions() -> dict[str, Composition]:
    found = [
        Composition("plain", _plain, {}),
        Composition("sensitivity_max", _sensitivity_max, {}),
        Composition("infidelity", _infidelity, {}),
        Composition("internal_batch_size", _plain, {"internal_batch_size": 3}),
    ]
    # nt_samples_batch_size only at nt_samples=3 (partitions of 2 and a
    # remainder of 1): at nt_samples=1 Captum takes min(1, batch size) = 1,
    # the very call it makes without one.
    for nt_type in ("smoothgrad", "smoothgrad_sq", "vargrad"):
        for samples, batch_size in ((1, None), (3, None), (3, 2)):
            name = f"NoiseTunnel({nt_type},nt_samples={samples}"
            name += ")" if batch_size is None else f",batch={batch_size})"
            run = _noise_tunnel(nt_type, samples, batch_size)
            found.append(Composition(name, run, {}))
    return {c.name: c for c in found}


COMPOSITIONS = _compositions()
