"""Normalizations applied to saliency maps before they are contrasted."""

from __future__ import annotations

import enum

import torch
from torch import Tensor

__all__ = ["Normalization", "contrast_maps", "normalize"]


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
