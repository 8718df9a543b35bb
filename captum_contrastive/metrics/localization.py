"""Localization: how much of a map's positive mass lies on the object."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from captum_contrastive.metrics.ranking import Reduce, spatial_map

__all__ = ["mask_area_fraction", "positive_mass_fraction"]


def _check_masks(masks: Tensor) -> Tensor:
    if masks.ndim == 4 and masks.shape[1] == 1:
        masks = masks[:, 0]
    if masks.ndim != 3:
        raise ValueError(f"`masks` must be (N, H, W), got {tuple(masks.shape)}")
    return masks.bool()


def positive_mass_fraction(
    maps: Tensor, masks: Tensor, reduce: Reduce = "sum"
) -> np.ndarray:
    r"""Fraction of each map's positive mass that falls on the object mask.

    The map is first collapsed to a spatial map (channel sum, or channel sum of
    absolute values with ``reduce="abs_sum"``), then its positive part
    ``p = max(spatial, 0)`` is taken: ``fraction = sum(p * mask) / sum(p)``. For
    the nonnegative maps of GuidedBP, Saliency and Enhanced GBP this equals the
    positive part summed over channels. A map with no positive mass (``sum(p) ==
    0``, e.g. an all-zero map) gives NaN: it points nowhere, which is neither
    inside nor outside. Report the number of NaNs next to the mean.

    Compare against :func:`mask_area_fraction`, the score of a uniform map.

    Args:
        maps (Tensor): ``(N, C, H, W)`` or ``(N, H, W)`` maps.
        masks (Tensor): ``(N, H, W)`` (or ``(N, 1, H, W)``) object masks, bool.
        reduce (str): ``"sum"`` or ``"abs_sum"``. Default: ``"sum"``

    Returns:
        ``np.ndarray`` of shape ``(N,)`` with values in ``[0, 1]`` or NaN.

    Examples::

        >>> masks = torch.zeros(1, 4, 4, dtype=torch.bool)
        >>> masks[:, :2] = True
        >>> maps = masks.float().unsqueeze(1).repeat(1, 3, 1, 1)
        >>> positive_mass_fraction(maps, masks)
        array([1.])
    """
    masks = _check_masks(masks)
    spatial = spatial_map(maps, reduce).detach().double()
    if spatial.shape != masks.shape:
        raise ValueError(
            f"maps give spatial shape {tuple(spatial.shape)}, but `masks` has shape "
            f"{tuple(masks.shape)}"
        )
    positive = spatial.clamp_min(0)
    total = positive.sum(dim=(1, 2))
    inside = torch.where(masks.to(positive.device), positive, 0.0).sum(dim=(1, 2))
    has_mass = total > 0
    fraction = torch.where(
        has_mass, inside / torch.where(has_mass, total, 1.0), torch.nan
    )
    return fraction.cpu().numpy()


def mask_area_fraction(masks: Tensor) -> np.ndarray:
    r"""Fraction of the image covered by each mask: what a uniform map scores.

    Args:
        masks (Tensor): ``(N, H, W)`` (or ``(N, 1, H, W)``) object masks.

    Returns:
        ``np.ndarray`` of shape ``(N,)``.

    Examples::

        >>> mask_area_fraction(torch.ones(2, 4, 4, dtype=torch.bool))
        array([1., 1.])
    """
    masks = _check_masks(masks)
    return masks.double().mean(dim=(1, 2)).cpu().numpy()
