"""Normalizations applied to saliency maps before they are contrasted."""

from __future__ import annotations

import enum

import torch
from torch import Tensor

__all__ = [
    "ContrastVariant",
    "Normalization",
    "contrast_maps",
    "normalize",
    "sum_channels_and_scale",
]


class Normalization(str, enum.Enum):
    """How a map is scaled before two maps are subtracted.

    ``CHANNEL_ENERGY``: each channel of each example is divided by its own L1 energy
    (the paper's choice, §2.2). ``ENERGY``: each example is divided by its L1 energy
    over all channels. ``MAX``: each example is divided by its largest absolute
    value. ``NONE``: unchanged.
    """

    CHANNEL_ENERGY = "channel_energy"
    ENERGY = "energy"
    MAX = "max"
    NONE = "none"


class ContrastVariant(str, enum.Enum):
    """Which arithmetic turns the two normalized maps into the contrastive map.

    ``PAPER``: the paper's formula, ``max(0, s^k/||s^k|| - s^m/||s^m||)`` per
    channel; the map keeps the input's shape. ``KERAS_REFERENCE``: the author's
    Keras code (keras-explain, ``enhanced_guided_bp``): the difference is *not*
    clipped, the channels are summed, and each example's map is divided by its
    maximum (see :func:`sum_channels_and_scale`); one map per example, shape
    ``(N, 1, ...)``.
    """

    PAPER = "paper"
    KERAS_REFERENCE = "keras_reference"


def _safe_divide(values: Tensor, scale: Tensor) -> Tensor:
    positive = scale > 0
    return torch.where(positive, values / torch.where(positive, scale, 1.0), 0.0)


def normalize(values: Tensor, normalization: Normalization | str) -> Tensor:
    """Scale a batch of maps; a zero scale gives zeros, never NaN.

    Args:
        values (Tensor): maps of shape ``(N, C, ...)``; dim 1 is the channel axis
            for ``"channel_energy"``.
        normalization (Normalization or str): one of ``"channel_energy"``,
            ``"energy"``, ``"max"``, ``"none"``.

    Returns:
        Tensor of the same shape.
    """
    normalization = Normalization(normalization)
    if normalization is Normalization.NONE:
        return values
    magnitude = values.abs()
    if normalization is Normalization.CHANNEL_ENERGY:
        if values.ndim < 3:
            raise ValueError(
                "channel-wise normalization needs maps of shape (N, C, ...) with dim 1 "
                f"as the channel axis, got shape {tuple(values.shape)}"
            )
        scale = magnitude.sum(dim=tuple(range(2, values.ndim)), keepdim=True)
    else:
        dims = tuple(range(1, values.ndim))
        if normalization is Normalization.ENERGY:
            scale = magnitude.sum(dim=dims, keepdim=True)
        else:
            scale = magnitude.amax(dim=dims, keepdim=True)
    return _safe_divide(values, scale)


def contrast_maps(
    target_map: Tensor,
    contrast_map: Tensor,
    normalization: Normalization | str = Normalization.CHANNEL_ENERGY,
    positive_parts: bool = True,
    clip_difference: bool = True,
) -> Tensor:
    """``normalize(s_k) - normalize(s_m)`` with the paper's clipping switches.

    Args:
        target_map (Tensor): map of the explained class k.
        contrast_map (Tensor): map of the contrast class m, same shape.
        normalization (Normalization or str): see :func:`normalize`.
        positive_parts (bool): take ``max(0, s)`` of each map first.
        clip_difference (bool): keep ``max(0, difference)``.

    Returns:
        Tensor of the shape of ``target_map``.
    """
    if positive_parts:
        target_map = target_map.clamp_min(0)
        contrast_map = contrast_map.clamp_min(0)
    difference = normalize(target_map, normalization) - normalize(
        contrast_map, normalization
    )
    return difference.clamp_min(0) if clip_difference else difference


def sum_channels_and_scale(values: Tensor) -> Tensor:
    """Sum the channels (dim 1) and divide each example's map by its maximum.

    The last step of the author's Keras reference (``mask = mask.sum(axis=2);
    mask /= mask.max()``), per example and without its division hazards:

    * maximum ``> 0``: divided by it, so the largest value is exactly 1 (values
      of the signed map may go below 0 and below -1);
    * maximum ``<= 0`` with some value ``< 0`` (no pixel favours k; happens when
      k's positive map is all zero): divided by the largest absolute value
      instead, so the map lies in ``[-1, 0]`` and keeps its sign (the reference
      would flip the sign, or divide by 0);
    * all zeros: zeros (never NaN or inf).

    Args:
        values (Tensor): maps of shape ``(N, C, ...)``.

    Returns:
        Tensor of shape ``(N, 1, ...)``.
    """
    if values.ndim < 3:
        raise ValueError(
            "summing channels needs maps of shape (N, C, ...) with dim 1 as the "
            f"channel axis, got shape {tuple(values.shape)}"
        )
    summed = values.sum(dim=1, keepdim=True)
    dims = tuple(range(1, summed.ndim))
    peak = summed.amax(dim=dims, keepdim=True)
    scale = torch.where(peak > 0, peak, summed.abs().amax(dim=dims, keepdim=True))
    return _safe_divide(summed, scale)
