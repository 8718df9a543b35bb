"""Shared forward passes for the contrastive forms of gradient methods.

:class:`~captum_contrastive.ContrastiveAttribution` needs the wrapped method's map
for class k and for class m. For Captum's :class:`~captum.attr.Saliency`,
:class:`~captum.attr.InputXGradient` and :class:`~captum.attr.IntegratedGradients`
the two maps differ only in the output whose gradient is taken, so both come from
one forward pass of the (scaled) inputs: the graph is kept (``retain_graph``) and
differentiated twice, once for the k logits and once for the m logits.

For IntegratedGradients this replicates Captum's ``_attribute`` (the same
``approximation_method`` step sizes and alphas, the same scaled inputs concatenated
step by step, the same per-step weighting and summation, the same
``internal_batch_size`` chunks of steps through Captum's own ``_batch_attribution``),
so the maps equal two Captum calls up to float rounding, while the model runs
``n_steps * N`` rows forward instead of ``2 * n_steps * N``. With
``internal_batch_size`` the steps go through in chunks of about
``internal_batch_size`` rows, as in Captum, so memory is bounded by the chunk and
does not grow with ``n_steps * N``; without it all ``n_steps * N`` rows go in one
pass, again as in Captum.

The backward passes are not shared (they cannot be: the two cotangents differ), so
the cost is one forward and two backward passes against Captum's two forwards and
two backwards: at most 1.5 calls of the method where a backward costs as much as a
forward, less where the forward dominates (``benchmarks/contrastive_cost.py``).
Stacking the two cotangents into one batched backward (``is_grads_batched``) was
measured no faster than two backward passes on CPU, so it is not used.

Anything else (another method or a subclass, a replaced ``gradient_func``, a keyword
argument not listed in :data:`SUPPORTED_KWARGS`, ``return_convergence_delta=True``)
is not handled here: :func:`shared_gradient_maps` returns ``None`` and the wrapper
falls back to two calls of the method.
"""

from __future__ import annotations

from typing import Any

import torch
from captum._utils.common import (
    _expand_additional_forward_args,
    _format_additional_forward_args,
    _run_forward,
)
from captum._utils.gradient import compute_gradients
from captum.attr import InputXGradient, IntegratedGradients, Saliency
from captum.attr._utils.approximation_methods import approximation_parameters
from captum.attr._utils.attribution import Attribution
from captum.attr._utils.batching import _batch_attribution
from captum.attr._utils.common import (
    _format_input_baseline,
    _reshape_and_sum,
    _validate_input,
)
from torch import Tensor

from captum_contrastive.attr._autograd import two_backward_passes

__all__ = ["SUPPORTED_KWARGS", "shared_gradient_maps", "supports_shared_forward"]

#: The methods (exact types) whose contrastive form shares forward passes, and the
#: keyword arguments of their ``attribute`` that the shared path handles.
SUPPORTED_KWARGS: dict[type, frozenset[str]] = {
    Saliency: frozenset({"abs", "additional_forward_args"}),
    InputXGradient: frozenset({"additional_forward_args"}),
    IntegratedGradients: frozenset(
        {
            "baselines",
            "additional_forward_args",
            "n_steps",
            "method",
            "internal_batch_size",
            "return_convergence_delta",
        }
    ),
}

MapPair = tuple[tuple[Tensor, ...], tuple[Tensor, ...]]


def supports_shared_forward(method: Attribution, method_kwargs: dict[str, Any]) -> bool:
    """Whether :func:`shared_gradient_maps` handles ``method`` with these options.

    Only Captum's own Saliency, InputXGradient and IntegratedGradients (not
    subclasses, which may change ``attribute``) with Captum's default
    ``gradient_func``, and only the keyword arguments in :data:`SUPPORTED_KWARGS`;
    ``return_convergence_delta`` only when false.
    """
    supported = SUPPORTED_KWARGS.get(type(method))
    if supported is None or not set(method_kwargs) <= supported:
        return False
    if getattr(method, "gradient_func", None) is not compute_gradients:
        return False
    return not method_kwargs.get("return_convergence_delta", False)


def _pair_gradients(
    forward_func: Any,
    inputs: tuple[Tensor, ...],
    target: Tensor,
    contrast: Tensor,
    additional_forward_args: Any,
) -> MapPair:
    """Gradients of the ``target`` and of the ``contrast`` logits (one class per
    row) with respect to ``inputs``, from one forward pass.

    Numerically as :func:`captum._utils.gradient.compute_gradients`: the same
    forward, the same gather of one logit per row, the same all-ones cotangent.
    """
    with torch.autograd.set_grad_enabled(True), two_backward_passes():
        outputs = _run_forward(forward_func, inputs, None, additional_forward_args)
        if not isinstance(outputs, Tensor) or outputs.ndim != 2:
            raise ValueError(
                "the model output must be a (N, num_classes) tensor of class scores"
            )
        target = target.to(outputs.device).reshape(-1, 1)
        contrast = contrast.to(outputs.device).reshape(-1, 1)
        selected_k = torch.gather(outputs, 1, target)
        selected_m = torch.gather(outputs, 1, contrast)
        grads_k = torch.autograd.grad(selected_k.sum(), inputs, retain_graph=True)
        grads_m = torch.autograd.grad(selected_m.sum(), inputs)
    return grads_k, grads_m


def _gradient_maps(
    method: Saliency | InputXGradient,
    inputs: tuple[Tensor, ...],
    target: Tensor,
    contrast: Tensor,
    method_kwargs: dict[str, Any],
) -> MapPair:
    leaves = tuple(t.detach().requires_grad_(True) for t in inputs)
    grads_k, grads_m = _pair_gradients(
        method.forward_func,
        leaves,
        target,
        contrast,
        method_kwargs.get("additional_forward_args"),
    )
    if isinstance(method, Saliency):
        if method_kwargs.get("abs", True):
            return tuple(g.abs() for g in grads_k), tuple(g.abs() for g in grads_m)
        return grads_k, grads_m
    # InputXGradient: input * gradient, as Captum computes it.
    return (
        tuple(x * g for x, g in zip(inputs, grads_k, strict=True)),
        tuple(x * g for x, g in zip(inputs, grads_m, strict=True)),
    )


class _PairIntegratedGradients:
    """Captum's ``IntegratedGradients._attribute`` for two classes at once.

    Its ``_attribute`` has Captum's signature plus ``contrast`` and returns the k
    maps followed by the m maps in one tuple, so Captum's ``_batch_attribution``
    (which sums the chunks of steps tuple entry by tuple entry) chunks it exactly
    as it chunks IntegratedGradients.
    """

    def __init__(self, method: IntegratedGradients) -> None:
        self.forward_func = method.forward_func
        self.multiplies_by_inputs = method.multiplies_by_inputs

    def _attribute(
        self,
        inputs: tuple[Tensor, ...],
        baselines: tuple[Tensor | int | float, ...],
        target: Tensor,
        contrast: Tensor,
        additional_forward_args: Any = None,
        n_steps: int = 50,
        method: str = "gausslegendre",
        step_sizes_and_alphas: tuple[list[float], list[float]] | None = None,
    ) -> tuple[Tensor, ...]:
        if step_sizes_and_alphas is None:
            step_sizes_func, alphas_func = approximation_parameters(method)
            step_sizes, alphas = step_sizes_func(n_steps), alphas_func(n_steps)
        else:
            step_sizes, alphas = step_sizes_and_alphas
        # (n_steps * N, ...) rows, step-major, as in Captum.
        scaled = tuple(
            torch.cat(
                [baseline + alpha * (x - baseline) for alpha in alphas], dim=0
            ).requires_grad_()
            for x, baseline in zip(inputs, baselines, strict=True)
        )
        extra = _format_additional_forward_args(additional_forward_args)
        expanded_extra = (
            _expand_additional_forward_args(extra, n_steps)
            if extra is not None
            else None
        )
        # Captum's _expand_target repeats a per-example list n_steps times.
        grads_k, grads_m = _pair_gradients(
            self.forward_func,
            scaled,
            target.repeat(n_steps),
            contrast.repeat(n_steps),
            expanded_extra,
        )
        return self._integrate(grads_k, inputs, baselines, step_sizes, n_steps) + (
            self._integrate(grads_m, inputs, baselines, step_sizes, n_steps)
        )

    def _integrate(
        self,
        grads: tuple[Tensor, ...],
        inputs: tuple[Tensor, ...],
        baselines: tuple[Tensor | int | float, ...],
        step_sizes: list[float],
        n_steps: int,
    ) -> tuple[Tensor, ...]:
        total_grads = tuple(
            _reshape_and_sum(
                grad.contiguous().view(n_steps, -1)
                * torch.tensor(step_sizes).float().view(n_steps, 1).to(grad.device),
                n_steps,
                grad.shape[0] // n_steps,
                grad.shape[1:],
            )
            for grad in grads
        )
        if not self.multiplies_by_inputs:
            return total_grads
        return tuple(
            total_grad * (x - baseline)
            for total_grad, x, baseline in zip(
                total_grads, inputs, baselines, strict=True
            )
        )


def _integrated_gradient_maps(
    method: IntegratedGradients,
    inputs: tuple[Tensor, ...],
    target: Tensor,
    contrast: Tensor,
    method_kwargs: dict[str, Any],
) -> MapPair:
    n_steps = method_kwargs.get("n_steps", 50)
    approximation = method_kwargs.get("method", "gausslegendre")
    internal_batch_size = method_kwargs.get("internal_batch_size")
    formatted_inputs, baselines = _format_input_baseline(
        tuple(t.detach() for t in inputs), method_kwargs.get("baselines")
    )
    _validate_input(formatted_inputs, baselines, n_steps, approximation)
    pair = _PairIntegratedGradients(method)
    kwargs: dict[str, Any] = {
        "inputs": formatted_inputs,
        "baselines": baselines,
        "target": target,
        "contrast": contrast,
        "additional_forward_args": method_kwargs.get("additional_forward_args"),
        "method": approximation,
    }
    if internal_batch_size is not None:
        maps = _batch_attribution(
            pair,
            formatted_inputs[0].shape[0],
            internal_batch_size,
            n_steps,
            **kwargs,
        )
    else:
        maps = pair._attribute(**kwargs, n_steps=n_steps)
    count = len(formatted_inputs)
    return tuple(maps[:count]), tuple(maps[count:])


def shared_gradient_maps(
    method: Attribution,
    inputs: tuple[Tensor, ...],
    target: Tensor,
    contrast: Tensor,
    method_kwargs: dict[str, Any],
) -> MapPair | None:
    """The wrapped method's maps for ``target`` and for ``contrast``, sharing the
    forward passes; ``None`` when :func:`supports_shared_forward` says no (the
    caller then runs the method twice).

    Args:
        method (Attribution): the wrapped method.
        inputs (tuple[Tensor, ...]): the inputs, each ``(N, ...)``.
        target (Tensor): class k, one per example (``N`` integers).
        contrast (Tensor): class m, one per example.
        method_kwargs (dict): the keyword arguments for the method's ``attribute``.

    Returns:
        *tuple* ``(maps_k, maps_m)`` of tuples of tensors shaped like ``inputs``,
        equal up to float rounding to ``method.attribute(inputs, target=k, ...)``
        and ``method.attribute(inputs, target=m, ...)``; or ``None``.
    """
    if not supports_shared_forward(method, method_kwargs):
        return None
    target = torch.as_tensor(target).reshape(-1)
    contrast = torch.as_tensor(contrast).reshape(-1)
    if isinstance(method, IntegratedGradients):
        return _integrated_gradient_maps(
            method, inputs, target, contrast, method_kwargs
        )
    return _gradient_maps(method, inputs, target, contrast, method_kwargs)
