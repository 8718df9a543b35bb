"""Enhanced Guided Backpropagation (Gu & Tresp, 2019)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from captum.attr import GradientAttribution
from captum.log import log_usage
from torch import Tensor

from captum_contrastive.attr._autograd import two_backward_passes
from captum_contrastive.attr._inputs import (
    TensorOrTuple,
    as_tuple,
    batch_slices,
    extra_args_tuple,
    leaf_copies,
    restore_structure,
    slice_batch,
    validate_inputs,
)
from captum_contrastive.attr._model_checks import check_model
from captum_contrastive.attr._targets import (
    ClassIndex,
    check_logits,
    expansion_of,
    resolve_class_pair,
)
from captum_contrastive.attr.normalization import (
    ContrastVariant,
    Normalization,
    contrast_maps,
    sum_channels_and_scale,
)
from captum_contrastive.guided import ReluRule, guided_relu

__all__ = ["EnhancedGuidedBackprop"]


class EnhancedGuidedBackprop(GradientAttribution):
    r"""Class-discriminative guided backpropagation.

    For a target class k and a contrast class m, with ``g = GuidedBP`` of the logit:

    .. math::

        \mathrm{Dis}_c = \max\Bigl(0,\;
            \frac{s^k_c}{\lVert s^k_c\rVert_1} - \frac{s^m_c}{\lVert s^m_c\rVert_1}
        \Bigr), \qquad s^j = \max(0, g_j),

    per example and per channel c (dim 1). A channel with zero energy contributes 0.
    Both guided backward passes share one forward pass. The map shows the evidence
    for "k rather than m"; on an adversarial image explained for its adversarial
    class, the default contrast (the runner-up) is usually the true class.

    ``variant="keras_reference"`` reproduces the author's Keras code instead
    (keras-explain, ``enhanced_guided_bp``): the same positive parts and
    per-channel energy normalization, but the difference is **not** clipped; the
    channels are summed and each example's map is divided by its maximum:

    .. math::

        \mathrm{Ref} = \frac{D}{\max D}, \qquad
        D = \sum_c \Bigl(\frac{s^k_c}{\lVert s^k_c\rVert_1}
            - \frac{s^m_c}{\lVert s^m_c\rVert_1}\Bigr),

    shape ``(N, 1, ...)``, largest value 1, signed (negative where m's evidence
    dominates). Where ``max D <= 0`` see
    :func:`captum_contrastive.attr.normalization.sum_channels_and_scale`. The
    reference returns NaN for a channel with zero energy; here it contributes 0.

    Paper: Jindong Gu and Volker Tresp, *Saliency Methods for Explaining
    Adversarial Attacks*, NeurIPS 2019 HCML workshop.
    """

    def __init__(
        self,
        model: Callable[..., Tensor],
        strict: bool = False,
        variant: ContrastVariant | str = ContrastVariant.PAPER,
    ) -> None:
        r"""
        Args:
            model (nn.Module or callable): returns ``(N, num_classes)`` logits.
            strict (bool): raise instead of warn when an activation other than
                ReLU whose guided rule is undefined (GELU, SiLU, ...) runs.
                Default: False
            variant (ContrastVariant or str): ``"paper"`` (default: the
                clipped, per-channel map shaped like the input) or
                ``"keras_reference"`` (the author's Keras arithmetic: unclipped
                difference, channels summed, divided by the per-example
                maximum; shape ``(N, 1, ...)``). See
                :class:`captum_contrastive.attr.ContrastVariant`.
        """
        GradientAttribution.__init__(self, model)
        self.model = model
        self.strict = strict
        self.variant = ContrastVariant(variant)

    @log_usage()
    def attribute(
        self,
        inputs: TensorOrTuple,
        target: ClassIndex = None,
        contrast_target: ClassIndex = None,
        additional_forward_args: Any = None,
        internal_batch_size: int | None = None,
    ) -> TensorOrTuple:
        r"""
        Args:
            inputs (Tensor or tuple[Tensor, ...]): images of shape ``(N, C, ...)``;
                dim 0 is the batch axis and dim 1 the channel axis used by the
                channel-wise energy normalization.
            target (int, list[int], Tensor or np.ndarray, optional): class k to
                explain: one class for all examples (an int, a NumPy integer, a
                0-d or one-element tensor or array), or one per example (a list,
                a 1-D integer tensor or array). Default: None (the predicted
                class).
            contrast_target (int, list[int], Tensor or np.ndarray, optional): class
                m to contrast against, in the same forms. Default: None (the
                runner-up: the highest-scoring class other than k).

                One class for all examples always works, whatever Captum call
                runs this method. A per-example ``target`` or
                ``contrast_target`` must have one entry per example, otherwise
                ``ValueError``; it is never repeated to fit the batch. Only
                exception: ``NoiseTunnel(this_method)`` and
                ``sensitivity_max(this_method.attribute, ...)`` call this method
                on their ``N`` examples repeated ``r`` times each and pass
                ``contrast_target`` (and a NumPy-array ``target``) unexpanded;
                under such a caller, a vector with exactly its ``N`` entries is
                repeated ``r`` times per example (see
                :mod:`captum_contrastive.attr._targets`).
            additional_forward_args (Any, optional): further model arguments, not
                attributed. Default: None
            internal_batch_size (int, optional): process at most this many
                examples at once; the result equals the unchunked one up to
                float rounding (convolution kernels may differ by batch size).
                Default: None

        Returns:
            *Tensor* or *tuple[Tensor, ...]* of **attributions**, non-negative and
            shaped like ``inputs``; with ``variant="keras_reference"`` signed,
            at most 1, and of shape ``(N, 1, ...)`` (one map per example; use
            ``.expand_as(inputs)`` where a consumer needs the input's shape).

        Warns a :class:`captum_contrastive.attr.TrainingModeWarning` if the model
        is in training mode. Raises
        :class:`captum_contrastive.guided.TorchScriptError`, before any work,
        if it is or holds a TorchScript module, whose ReLUs cannot be guided;
        a ``torch.compile`` model gives the eager result.

        Examples::

            >>> net = ImageClassifier()
            >>> egbp = EnhancedGuidedBackprop(net)
            >>> images = torch.rand(4, 3, 32, 32)
            >>> # explain the prediction against the runner-up class
            >>> maps = egbp.attribute(images)
            >>> # explain class 3 against class 5 for every image
            >>> maps = egbp.attribute(images, target=3, contrast_target=5)
        """
        inputs_tuple = as_tuple(inputs)
        batch = validate_inputs(inputs_tuple, min_ndim=3)
        expansion = expansion_of(self)
        check_model(self.forward_func, guided=True, stacklevel=3)
        chunks: list[tuple[Tensor, ...]] = []
        with (
            torch.enable_grad(),
            two_backward_passes(),
            guided_relu(ReluRule.GUIDED, strict=self.strict),
        ):
            for rows in batch_slices(batch, internal_batch_size):
                leaves = leaf_copies(tuple(t[rows] for t in inputs_tuple))
                extra = extra_args_tuple(
                    slice_batch(additional_forward_args, rows, batch)
                )
                logits = check_logits(self.forward_func(*leaves, *extra))
                k, m = resolve_class_pair(
                    logits, target, contrast_target, expansion, batch, rows
                )
                index = torch.stack((k, m), dim=1).to(logits.device)
                scores = logits.gather(1, index).sum(dim=0)
                grads_k = torch.autograd.grad(scores[0], leaves, retain_graph=True)
                grads_m = torch.autograd.grad(scores[1], leaves)
                chunks.append(
                    tuple(
                        self._contrast(g_k, g_m)
                        for g_k, g_m in zip(grads_k, grads_m, strict=True)
                    )
                )
        maps = tuple(torch.cat(parts) for parts in zip(*chunks, strict=True))
        return restore_structure(inputs, maps)

    def _contrast(self, grad_k: Tensor, grad_m: Tensor) -> Tensor:
        if self.variant is ContrastVariant.KERAS_REFERENCE:
            difference = contrast_maps(
                grad_k, grad_m, Normalization.CHANNEL_ENERGY, clip_difference=False
            )
            return sum_channels_and_scale(difference)
        return contrast_maps(grad_k, grad_m, Normalization.CHANNEL_ENERGY)
