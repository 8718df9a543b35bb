"""A contrastive wrapper around any Captum attribution method."""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
import torch.nn.functional as F
from captum.attr import (
    Attribution,
    Deconvolution,
    DeepLift,
    DeepLiftShap,
    FeatureAblation,
    GradientShap,
    GuidedBackprop,
    GuidedGradCam,
    InputXGradient,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Occlusion,
    Saliency,
    ShapleyValues,
    ShapleyValueSampling,
)
from captum.log import log_usage
from torch import Tensor, nn

from captum_contrastive.attr import shared_forward
from captum_contrastive.attr._inputs import (
    TensorOrTuple,
    as_tuple,
    extra_args_tuple,
    restore_structure,
    validate_inputs,
)
from captum_contrastive.attr._model_checks import check_model, model_checks_once
from captum_contrastive.attr._targets import (
    ClassIndex,
    expansion_of,
    resolve_class_pair,
)
from captum_contrastive.attr.enhanced_guided_backprop import EnhancedGuidedBackprop
from captum_contrastive.attr.guided_backprop import ModifiedReluAttribution
from captum_contrastive.attr.normalization import (
    ContrastVariant,
    Normalization,
    contrast_maps,
    normalize,
    sum_channels_and_scale,
)

__all__ = ["ContrastMode", "ContrastiveAttribution"]

_LINEAR_IN_OUTPUT = (
    Saliency,
    IntegratedGradients,
    InputXGradient,
    DeepLift,
    DeepLiftShap,
    GradientShap,
    Occlusion,
    FeatureAblation,
    ShapleyValues,
    ShapleyValueSampling,
)
_NONLINEAR_IN_OUTPUT = (
    GuidedBackprop,
    Deconvolution,
    ModifiedReluAttribution,
    EnhancedGuidedBackprop,
    GuidedGradCam,
    LayerGradCam,
)


class ContrastMode(str, enum.Enum):
    """How the contrast between class k and class m is formed.

    ``DIFFERENCE_OF_MAPS``: attribute k and m separately, normalize each, subtract
    (the paper's recipe; two attribution calls). ``MAP_OF_DIFFERENCE``: attribute the
    single output ``f_k - f_m`` in one call; only for methods that are linear in the
    output, where it equals the difference of the unnormalized maps.
    """

    DIFFERENCE_OF_MAPS = "difference_of_maps"
    MAP_OF_DIFFERENCE = "map_of_difference"


def _root_forward_func(method: Attribution) -> Callable[..., Tensor]:
    if isinstance(method, NoiseTunnel):
        return _root_forward_func(method.attribution_method)
    return method.forward_func


def _innermost(method: Attribution) -> Attribution:
    """The method a chain of NoiseTunnels runs."""
    if isinstance(method, NoiseTunnel):
        return _innermost(method.attribution_method)
    return method


def _named_parameters(method: Attribution) -> set[str] | None:
    """The keyword arguments ``method.attribute`` takes, through NoiseTunnel
    (``None``: any keyword, the signature cannot tell)."""
    parameters = inspect.signature(method.attribute).parameters
    named = {name for name, p in parameters.items() if p.kind is not p.VAR_KEYWORD}
    if len(named) == len(parameters):
        return named
    if isinstance(method, NoiseTunnel):
        inner = _named_parameters(method.attribution_method)
        return None if inner is None else named | inner
    return None


def _check_method_call(
    method: Attribution, inputs: tuple[Tensor, ...], method_kwargs: dict[str, Any]
) -> None:
    """Refuse, before any work, a call the wrapped method cannot make: an
    argument it does not take, or several inputs for a layer method."""
    innermost = _innermost(method)
    name = type(innermost).__name__
    if isinstance(innermost, LayerAttribution) and len(inputs) > 1:
        raise ValueError(
            f"`inputs` holds {len(inputs)} tensors, but {name} gives one map of "
            "its layer, not one per input, so there is nothing to contrast per "
            "input; attribute one input tensor and pass the others in "
            "`additional_forward_args`"
        )
    accepted = _named_parameters(method)
    if accepted is None:
        return
    unknown = sorted(set(method_kwargs) - accepted)
    if unknown:
        raise TypeError(
            f"`{unknown[0]}` is not an argument of {name}.attribute, so "
            "ContrastiveAttribution cannot pass it on; its arguments are "
            f"{sorted(accepted - {'inputs', 'target'})}"
        )


def _nested_attributions(method: Attribution) -> Iterator[Attribution]:
    yield method
    for value in vars(method).values():
        if isinstance(value, Attribution) and value is not method:
            yield from _nested_attributions(value)


def _eager_module_for_layer_hooks(
    method: Attribution, forward_func: Callable[..., Tensor]
) -> nn.Module | None:
    """The eager module behind a ``torch.compile``d model, when ``method`` (or
    one it wraps) hooks a layer: a compiled graph does not run the layer's
    forward hooks, so Captum's layer methods fail on it ("Forward hook did not
    obtain any outputs"). The eager module computes the same function."""
    original = getattr(forward_func, "_orig_mod", None)
    if not isinstance(original, nn.Module):
        return None
    hooks_a_layer = any(
        isinstance(inner, LayerAttribution) for inner in _nested_attributions(method)
    )
    return original if hooks_a_layer else None


class _ClassPairDifference(nn.Module):
    """Scores ``f_k - f_m`` for each distinct class pair ``(k, m)``, one column each."""

    def __init__(self, forward_func: Callable[..., Tensor], pairs: Tensor) -> None:
        super().__init__()
        self.forward_func = forward_func
        self.pairs = pairs

    def forward(self, *args: Any) -> Tensor:
        logits = self.forward_func(*args)
        pairs = self.pairs.to(logits.device)
        return logits[:, pairs[:, 0]] - logits[:, pairs[:, 1]]


@contextmanager
def _model_replaced(
    method: Attribution, original: Callable[..., Tensor], replacement: nn.Module
) -> Iterator[None]:
    """Point every reference to ``original`` inside ``method`` (``forward_func``,
    ``model``, nested attributions) at ``replacement``; restore on exit."""
    swapped = [
        (attribution, name)
        for attribution in _nested_attributions(method)
        for name, value in vars(attribution).items()
        if value is original
    ]
    try:
        for attribution, name in swapped:
            setattr(attribution, name, replacement)
        yield
    finally:
        for attribution, name in swapped:
            setattr(attribution, name, original)


def _check_linear(method: Attribution, method_kwargs: dict[str, Any]) -> None:
    name = type(method).__name__
    if isinstance(method, NoiseTunnel):
        nt_type = method_kwargs.get("nt_type", "smoothgrad")
        if nt_type != "smoothgrad":
            raise ValueError(
                f"mode='map_of_difference' needs a method linear in the output; "
                f"NoiseTunnel with nt_type={nt_type!r} is not (use 'smoothgrad')"
            )
        _check_linear(method.attribution_method, method_kwargs)
        return
    if isinstance(method, _NONLINEAR_IN_OUTPUT):
        raise ValueError(
            f"mode='map_of_difference' needs a method linear in the output; {name} "
            "is not (its ReLU rule or ReLU/weighting depends on the gradient's "
            "sign), so use mode='difference_of_maps'"
        )
    if isinstance(method, Saliency) and method_kwargs.get("abs", True):
        raise ValueError(
            "mode='map_of_difference' with Saliency needs abs=False: |grad| is not "
            "linear in the output"
        )
    if not isinstance(method, _LINEAR_IN_OUTPUT):
        raise ValueError(
            f"mode='map_of_difference' is only offered for methods known to be "
            f"linear in the output ({', '.join(c.__name__ for c in _LINEAR_IN_OUTPUT)}"
            f", and NoiseTunnel smoothgrad over them); got {name}"
        )


def _match_input_shape(attribution: Tensor, like: Tensor, mode: str) -> Tensor:
    if attribution.shape == like.shape or attribution.shape[2:] == like.shape[2:]:
        return attribution
    if attribution.ndim != like.ndim or attribution.ndim not in (3, 4, 5):
        raise ValueError(
            f"cannot upsample an attribution of shape {tuple(attribution.shape)} to "
            f"the input shape {tuple(like.shape)}"
        )
    align = {"linear": False, "bilinear": False, "bicubic": False, "trilinear": False}
    return F.interpolate(
        attribution,
        size=like.shape[2:],
        mode=mode,
        align_corners=align.get(mode),
    )


class ContrastiveAttribution(Attribution):
    r"""Turn any Captum attribution method into a contrastive one: "why k, not m".

    By default it attributes class k and class m with the wrapped method, takes the
    positive part of each map, normalizes each per channel by its L1 energy, and keeps
    the positive difference. With its defaults over
    :class:`captum_contrastive.GuidedBackprop` it equals
    :class:`captum_contrastive.EnhancedGuidedBackprop` (which shares one forward pass
    between the two backward passes and is therefore faster).

    Layer methods whose maps are smaller than the input (``LayerGradCam``) are
    upsampled to the input's spatial size before normalization; their channel axis
    stays of size 1.

    ``variant="keras_reference"`` follows the author's Keras code instead of the
    paper's formula: the difference is not clipped (``clip_difference`` then
    defaults to False), the channels are summed and each example's map is divided
    by its maximum, giving one signed map per example of shape ``(N, 1, ...)``.
    Over :class:`captum_contrastive.GuidedBackprop` it equals
    ``EnhancedGuidedBackprop(model, variant="keras_reference")``.
    """

    def __init__(
        self,
        method: Attribution,
        normalization: Normalization | str = Normalization.CHANNEL_ENERGY,
        positive_parts: bool = True,
        clip_difference: bool | None = None,
        mode: ContrastMode | str = ContrastMode.DIFFERENCE_OF_MAPS,
        upsample_mode: str = "bilinear",
        variant: ContrastVariant | str = ContrastVariant.PAPER,
    ) -> None:
        r"""
        Args:
            method (Attribution): any Captum attribution instance, e.g.
                ``IntegratedGradients(model)`` or ``NoiseTunnel(Saliency(model))``.
            normalization (Normalization or str): ``"channel_energy"`` (default),
                ``"energy"``, ``"max"`` or ``"none"``; see
                :func:`captum_contrastive.normalize`.
            positive_parts (bool): take ``max(0, map)`` of each class's map before
                normalizing. Default: True
            clip_difference (bool, optional): keep only the positive part of the
                difference. Default: None, meaning True for ``variant="paper"``
                and False for ``variant="keras_reference"`` (the reference does
                not clip; passing True there clips before the channel sum).
            mode (ContrastMode or str): ``"difference_of_maps"`` (default, the
                paper: two attributions, normalized, subtracted) or
                ``"map_of_difference"`` (one attribution of ``f_k - f_m``; only for
                methods linear in the output; ``positive_parts`` does not apply, the
                clip and the normalization act on the single map).
            upsample_mode (str): interpolation for layer maps smaller than the
                input. Default: ``"bilinear"``
            variant (ContrastVariant or str): ``"paper"`` (default) or
                ``"keras_reference"``: after the (by default unclipped)
                difference, sum the channels and divide each example's map by
                its maximum (see
                :func:`captum_contrastive.attr.normalization.sum_channels_and_scale`
                for a maximum ``<= 0``); the result has shape ``(N, 1, ...)``.
                Only with ``mode="difference_of_maps"``; the reference's
                arithmetic exactly with the default ``normalization`` and
                ``positive_parts``.
        """
        if not isinstance(method, Attribution):
            raise TypeError(
                "`method` must be a captum.attr.Attribution instance, "
                f"got {type(method).__name__}"
            )
        Attribution.__init__(self, _root_forward_func(method))
        self.method = method
        self.normalization = Normalization(normalization)
        self.positive_parts = positive_parts
        self.mode = ContrastMode(mode)
        self.upsample_mode = upsample_mode
        self.variant = ContrastVariant(variant)
        if (
            self.variant is ContrastVariant.KERAS_REFERENCE
            and self.mode is not ContrastMode.DIFFERENCE_OF_MAPS
        ):
            raise ValueError(
                "variant='keras_reference' contrasts two normalized maps and needs "
                f"mode='difference_of_maps', got mode={self.mode.value!r}"
            )
        if clip_difference is None:
            clip_difference = self.variant is ContrastVariant.PAPER
        self.clip_difference = clip_difference

    @log_usage()
    def attribute(
        self,
        inputs: TensorOrTuple,
        target: ClassIndex = None,
        contrast_target: ClassIndex = None,
        **method_kwargs: Any,
    ) -> TensorOrTuple:
        r"""
        Args:
            inputs (Tensor or tuple[Tensor, ...]): inputs of shape ``(N, C, ...)``.
            target (int, list[int], Tensor or np.ndarray, optional): class k to
                explain: one class for all examples (an int, a NumPy integer, a
                0-d or one-element tensor or array) or one per example (a list,
                a 1-D integer tensor or array). Default: None (the predicted
                class).
            contrast_target (int, list[int], Tensor or np.ndarray, optional): class
                m to contrast against, in the same forms. Default: None (the
                runner-up). A per-example vector must have one entry per example,
                except inside :class:`captum.attr.NoiseTunnel` /
                :func:`captum.metrics.sensitivity_max`, whose unexpanded
                ``N``-entry vectors are repeated per example (see
                :meth:`captum_contrastive.EnhancedGuidedBackprop.attribute`).
            **method_kwargs: forwarded to the wrapped method's ``attribute``
                (``baselines``, ``n_steps``, ``nt_type``, ``additional_forward_args``,
                ...). ``return_convergence_delta`` is not supported.

        Returns:
            *Tensor* or *tuple[Tensor, ...]* of **attributions**, shaped like
            ``inputs`` (layer maps: ``(N, 1, H, W)``); with
            ``variant="keras_reference"`` of shape ``(N, 1, ...)`` (one map per
            example; ``.expand_as(inputs)`` where the input's shape is needed).

        Warns a :class:`captum_contrastive.attr.TrainingModeWarning` (once per
        call, also when the wrapped method is one of ours) if the model is in
        training mode.

        Examples::

            >>> from captum.attr import IntegratedGradients
            >>> net = ImageClassifier()
            >>> contrastive_ig = ContrastiveAttribution(IntegratedGradients(net))
            >>> maps = contrastive_ig.attribute(torch.rand(4, 3, 32, 32), n_steps=16)
        """
        if method_kwargs.get("return_convergence_delta"):
            raise TypeError(
                "`return_convergence_delta` is not supported by ContrastiveAttribution"
            )
        inputs_tuple = as_tuple(inputs)
        validate_inputs(inputs_tuple, min_ndim=3)
        _check_method_call(self.method, inputs_tuple, method_kwargs)
        expansion = expansion_of(self)
        eager = _eager_module_for_layer_hooks(self.method, self.forward_func)
        with (
            model_checks_once(),
            _model_replaced(self.method, self.forward_func, eager)
            if eager is not None
            else nullcontext(),
        ):
            check_model(self.forward_func, guided=False, stacklevel=3)
            extra = extra_args_tuple(method_kwargs.get("additional_forward_args"))
            with torch.no_grad():
                logits = self.forward_func(*inputs_tuple, *extra)
            k, m = resolve_class_pair(logits, target, contrast_target, expansion)
            if self.mode is ContrastMode.MAP_OF_DIFFERENCE:
                maps = self._map_of_difference(
                    inputs, inputs_tuple, k, m, method_kwargs
                )
            else:
                maps = self._difference_of_maps(
                    inputs, inputs_tuple, k, m, method_kwargs
                )
        return restore_structure(inputs, maps)

    def _attribute_with_method(
        self,
        inputs: TensorOrTuple,
        inputs_tuple: tuple[Tensor, ...],
        target: list[int],
        method_kwargs: dict[str, Any],
    ) -> tuple[Tensor, ...]:
        attributions = as_tuple(
            self.method.attribute(inputs, target=target, **method_kwargs)
        )
        return tuple(
            _match_input_shape(a, x, self.upsample_mode)
            for a, x in zip(attributions, inputs_tuple, strict=True)
        )

    def _difference_of_maps(
        self,
        inputs: TensorOrTuple,
        inputs_tuple: tuple[Tensor, ...],
        k: Tensor,
        m: Tensor,
        method_kwargs: dict[str, Any],
    ) -> tuple[Tensor, ...]:
        # --- shared forward passes (captum_contrastive.attr.shared_forward) ---
        # Saliency / InputXGradient / IntegratedGradients: one forward pass per
        # (chunk of) scaled inputs for both classes; None means "run it twice".
        shared = shared_forward.shared_gradient_maps(
            self.method, inputs_tuple, k, m, method_kwargs
        )
        if shared is not None:
            maps_k, maps_m = shared
        else:
            maps_k = self._attribute_with_method(
                inputs, inputs_tuple, k.tolist(), method_kwargs
            )
            maps_m = self._attribute_with_method(
                inputs, inputs_tuple, m.tolist(), method_kwargs
            )
        # --- end shared forward passes ---
        maps = tuple(
            contrast_maps(
                a_k,
                a_m,
                self.normalization,
                positive_parts=self.positive_parts,
                clip_difference=self.clip_difference,
            )
            for a_k, a_m in zip(maps_k, maps_m, strict=True)
        )
        if self.variant is ContrastVariant.KERAS_REFERENCE:
            maps = tuple(sum_channels_and_scale(a) for a in maps)
        return maps

    def _map_of_difference(
        self,
        inputs: TensorOrTuple,
        inputs_tuple: tuple[Tensor, ...],
        k: Tensor,
        m: Tensor,
        method_kwargs: dict[str, Any],
    ) -> tuple[Tensor, ...]:
        _check_linear(self.method, method_kwargs)
        pairs, pair_index = torch.unique(
            torch.stack((k, m), dim=1), dim=0, return_inverse=True
        )
        difference = _ClassPairDifference(self.forward_func, pairs)
        with _model_replaced(self.method, self.forward_func, difference):
            maps = self._attribute_with_method(
                inputs, inputs_tuple, pair_index.tolist(), method_kwargs
            )
        if self.clip_difference:
            maps = tuple(a.clamp_min(0) for a in maps)
        return tuple(normalize(a, self.normalization) for a in maps)
