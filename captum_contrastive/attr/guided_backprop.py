"""Drop-in replacements for Captum's GuidedBackprop and Deconvolution."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from captum._utils.gradient import compute_gradients
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
from captum_contrastive.attr._targets import as_captum_target, expansion_of
from captum_contrastive.guided import ReluRule, guided_relu

__all__ = ["Deconvolution", "GuidedBackprop", "ModifiedReluAttribution"]


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
                undefined for (GELU, SiLU, ReLU6, ...) runs in the forward pass,
                or when the model is or holds a TorchScript module.
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
                indices to explain, as in Captum: one index (an int, a NumPy
                integer or a tuple) for all examples, or one per example (a list,
                a 1-D integer tensor or NumPy array). A per-example target must
                have one entry per example (``ValueError`` otherwise; unlike
                Captum, a one-element tensor is not broadcast), except the
                ``N``-entry target that ``NoiseTunnel(this_method)`` passes
                unexpanded with its ``N * r`` noisy rows (NumPy arrays and
                one-element tensors), which is repeated per example.
                Default: None (only for scalar outputs).
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
        is in training mode, and a
        :class:`captum_contrastive.guided.TorchScriptWarning` (raises
        :class:`captum_contrastive.guided.TorchScriptError` with ``strict``) if it
        is or holds a TorchScript module.

        Examples::

            >>> net = ImageClassifier()
            >>> gbp = GuidedBackprop(net)
            >>> input = torch.randn(2, 3, 32, 32)
            >>> attribution = gbp.attribute(input, target=3)
        """
        inputs_tuple = as_tuple(inputs)
        batch = validate_inputs(inputs_tuple)
        target = as_captum_target(target, batch, expansion_of(self))
        check_model(self.forward_func, guided=True, strict=self.strict, stacklevel=3)
        chunks: list[tuple[Tensor, ...]] = []
        with torch.enable_grad(), guided_relu(self.rule, strict=self.strict):
            for rows in batch_slices(batch, internal_batch_size):
                leaves = leaf_copies(tuple(t[rows] for t in inputs_tuple))
                chunks.append(
                    compute_gradients(
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
