"""Drop-in replacements for Captum's GuidedBackprop and Deconvolution."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from captum._utils.common import _run_forward, _select_targets
from captum._utils.typing import TargetType
from captum.attr import GradientAttribution
from captum.log import log_usage
from torch import Tensor

from captum_contrastive.attr._inputs import (
    TensorOrTuple,
    as_tuple,
    batch_slices,
    leaf_copies,
    restore_structure,
    slice_batch,
    validate_inputs,
)
from captum_contrastive.attr._model_checks import check_model
from captum_contrastive.attr._targets import (
    as_captum_target,
    check_class_range,
    expansion_of,
)
from captum_contrastive.guided import ReluRule, guided_relu

__all__ = ["Deconvolution", "GuidedBackprop", "ModifiedReluAttribution"]


def _check_target_fits(target: TargetType, outputs: Tensor) -> None:
    """Raise ``ValueError`` naming ``target`` if an index of it lies outside
    ``outputs``. One index for all examples may be negative, as Python and
    Captum allow; per-example indices are gathered and must lie in
    ``[0, size)``."""
    sizes = tuple(outputs.shape[1:])
    if isinstance(target, list) and target and isinstance(target[0], tuple):
        for entry in target:
            _check_target_fits(entry, outputs)
        return
    if isinstance(target, (int, tuple)):
        index = (target,) if isinstance(target, int) else target
        if len(index) > len(sizes):
            raise ValueError(
                f"`target` has {len(index)} indices for outputs of shape {sizes}"
            )
        for value, size in zip(index, sizes, strict=False):
            if not -size <= value < size:
                raise ValueError(
                    f"`target` has index {value} out of range for output size {size}"
                )
        return
    if len(sizes) != 1:
        raise ValueError(
            f"`target` has one index per example for outputs of shape {sizes}"
        )
    check_class_range(torch.as_tensor(target), sizes[0], "target")


def _target_gradients(
    forward_func: Callable[..., Tensor],
    leaves: tuple[Tensor, ...],
    target: TargetType,
    additional_forward_args: Any,
) -> tuple[Tensor, ...]:
    """Gradients of the selected outputs, summed over the rows, as Captum's
    ``compute_gradients`` takes them. A ``target`` that does not fit the
    model's output (``None`` for several outputs per example, an index out of
    range) is refused with an error that names ``target``."""
    outputs = _run_forward(forward_func, leaves, None, additional_forward_args)
    if target is None and outputs[0].numel() != 1:
        raise ValueError(
            "`target` is None but the model returns "
            f"{outputs[0].numel()} outputs per example; pass the output to "
            "explain, e.g. target=0 for class 0 of every example, or one class "
            "per example as a list or a 1-D tensor"
        )
    if target is not None:
        _check_target_fits(target, outputs)
    selected = _select_targets(outputs, target)
    return torch.autograd.grad(torch.unbind(selected), leaves)


class ModifiedReluAttribution(GradientAttribution):
    r"""Gradient of the target output with every ReLU's backward replaced by ``rule``.

    The rule is applied by :func:`captum_contrastive.guided.guided_relu`, so ReLUs
    called through ``torch.nn.functional``, ``torch.relu``, ``Tensor.relu`` and their
    in-place forms are treated like ``nn.ReLU`` modules. No hook is registered on the
    model, and the inputs' ``requires_grad`` is never changed.
    """

    def __init__(
        self,
        model: Callable[..., Tensor],
        rule: ReluRule | str = ReluRule.GUIDED,
        strict: bool = False,
    ) -> None:
        r"""
        Args:
            model (nn.Module or callable): the model (or forward function).
            rule (ReluRule or str): ``"guided"`` or ``"deconvnet"``.
            strict (bool): raise instead of warn when an activation the rule is
                undefined for (GELU, SiLU, ReLU6, ...) runs in the forward pass.
        """
        GradientAttribution.__init__(self, model)
        self.model = model
        self.rule = ReluRule(rule)
        self.strict = strict

    @log_usage()
    def attribute(
        self,
        inputs: TensorOrTuple,
        target: TargetType = None,
        additional_forward_args: Any = None,
        internal_batch_size: int | None = None,
    ) -> TensorOrTuple:
        r"""
        Args:
            inputs (Tensor or tuple[Tensor, ...]): input for which attributions are
                computed; dim 0 is the batch axis of every tensor.
            target (int, tuple, Tensor, np.ndarray or list, optional): output
                indices to explain, with Captum's meanings: one index for all
                examples (an int, a tuple of ints, a 0-d or one-element tensor),
                or one per example (a list, a 1-D integer tensor). NumPy
                integers and arrays are taken as the equal int or tensor. A
                per-example target with a length other than the batch's raises
                ``ValueError``, except the ``N``-entry array that
                ``NoiseTunnel`` or ``sensitivity_max`` pass unexpanded with
                their ``N * r`` rows, which is repeated per example (see
                :mod:`captum_contrastive.attr._targets`). Default: None (only
                for a model with one output per example).
            additional_forward_args (Any, optional): further arguments to the
                model, not attributed. Default: None
            internal_batch_size (int, optional): process the batch in chunks of at
                most this many examples to bound memory; the result equals the
                unchunked one up to float rounding.
                Default: None (one chunk).

        Returns:
            *Tensor* or *tuple[Tensor, ...]* of **attributions**, shaped like
            ``inputs``.

        Warns a :class:`captum_contrastive.attr.TrainingModeWarning` if the model
        is in training mode. Raises
        :class:`captum_contrastive.guided.TorchScriptError`, before any work,
        if it is or holds a TorchScript module, whose ReLUs cannot be guided;
        a ``torch.compile`` model gives the eager result.

        Examples::

            >>> net = ImageClassifier()
            >>> gbp = GuidedBackprop(net)
            >>> input = torch.randn(2, 3, 32, 32)
            >>> attribution = gbp.attribute(input, target=3)
        """
        inputs_tuple = as_tuple(inputs)
        batch = validate_inputs(inputs_tuple)
        target = as_captum_target(target, batch, expansion_of(self))
        check_model(self.forward_func, guided=True, stacklevel=3)
        chunks: list[tuple[Tensor, ...]] = []
        with torch.enable_grad(), guided_relu(self.rule, strict=self.strict):
            for rows in batch_slices(batch, internal_batch_size):
                leaves = leaf_copies(tuple(t[rows] for t in inputs_tuple))
                chunks.append(
                    _target_gradients(
                        self.forward_func,
                        leaves,
                        slice_batch(target, rows, batch),
                        slice_batch(additional_forward_args, rows, batch),
                    )
                )
        gradients = tuple(torch.cat(parts) for parts in zip(*chunks, strict=True))
        return restore_structure(inputs, gradients)


class GuidedBackprop(ModifiedReluAttribution):
    r"""Guided backpropagation that is correct on every ReLU call path.

    Same constructor and ``attribute`` signature as
    :class:`captum.attr.GuidedBackprop`. Each ReLU passes back
    ``grad * 1[x > 0] * 1[grad > 0]``.

    Examples::

        >>> net = ImageClassifier()
        >>> attribution = GuidedBackprop(net).attribute(torch.randn(2, 3, 32, 32),
        ...                                             target=3)
    """

    def __init__(self, model: Callable[..., Tensor], strict: bool = False) -> None:
        r"""
        Args:
            model (nn.Module or callable): the model to explain.
            strict (bool): raise instead of warn on activations other than ReLU
                whose guided rule is undefined. Default: False
        """
        super().__init__(model, ReluRule.GUIDED, strict)


class Deconvolution(ModifiedReluAttribution):
    r"""Deconvolution (deconvnet rule) that is correct on every ReLU call path.

    Same constructor and ``attribute`` signature as
    :class:`captum.attr.Deconvolution`. Each ReLU passes back
    ``grad * 1[grad > 0]``, whatever the sign of its input.

    Examples::

        >>> net = ImageClassifier()
        >>> attribution = Deconvolution(net).attribute(torch.randn(2, 3, 32, 32),
        ...                                            target=3)
    """

    def __init__(self, model: Callable[..., Tensor], strict: bool = False) -> None:
        r"""
        Args:
            model (nn.Module or callable): the model to explain.
            strict (bool): raise instead of warn on activations other than ReLU.
                Default: False
        """
        super().__init__(model, ReluRule.DECONVNET, strict)
