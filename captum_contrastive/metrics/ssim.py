"""Structural similarity (SSIM) between two batches of saliency maps, per image.

Used by the sanity checks (:mod:`captum_contrastive.studies.sanity`, after Adebayo
et al., 2018, "Sanity Checks for Saliency Maps"), which compare the maps of a
trained model with those of a randomised one.

Protocol (Wang et al., 2004, "Image Quality Assessment: From Error Visibility to
Structural Similarity", with the choices of the sanity-check literature):

1. Each map is collapsed over channels into a 2-D spatial map
   (:func:`~captum_contrastive.metrics.spatial_map`: signed sum or sum of ``|.|``).
2. Each spatial map is normalised to ``[0, 1]`` on its own:
   ``(s - min s) / (max s - min s)``. Saliency maps of two models have arbitrary,
   unrelated scales, so the data range ``L`` of the SSIM constants is taken per
   pair *after* this normalisation: ``L = 1``. A constant map (``max == min``, e.g.
   an all-zero map) is normalised to all zeros.
3. Local means, variances and the covariance are Gaussian-weighted: window 11 x 11,
   sigma 1.5 (the 1-D kernel ``exp(-x^2 / (2 sigma^2))`` for ``x = -5..5``,
   normalised to sum 1, applied along rows and columns), population (not sample)
   statistics, ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2``.
4. The SSIM map
   ``((2 mu_a mu_b + C1)(2 cov_ab + C2)) / ((mu_a^2 + mu_b^2 + C1)(var_a + var_b
   + C2))`` is averaged over the window positions that lie wholly inside the map
   (no padding). This is ``skimage.metrics.structural_similarity(x, y,
   data_range=1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``
   on the normalised maps, which crops the border it pads.

Maps smaller than the window (``min(H, W) < 11``) use the largest odd window that
fits, with the same sigma (the Gaussian truncated there and renormalised).

Constant maps never give NaN: two constant maps are both all zeros after step 2
and have SSIM 1 (neither has any structure); a constant map against a
non-constant one gives a finite value below 1 (its luminance term is small unless
the other map's local means are near 0 too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from captum_contrastive.metrics.ranking import Reduce, spatial_map

__all__ = [
    "SSIM_K1",
    "SSIM_K2",
    "SSIM_SIGMA",
    "SSIM_WINDOW",
    "SSIMSide",
    "normalize_unit_range",
    "ssim_side",
    "ssim_of_sides",
    "structural_similarity",
]

#: Side of the Gaussian window (Wang et al., 2004).
SSIM_WINDOW = 11
#: Standard deviation of the Gaussian window, in pixels.
SSIM_SIGMA = 1.5
#: ``C1 = (K1 L)^2``.
SSIM_K1 = 0.01
#: ``C2 = (K2 L)^2``.
SSIM_K2 = 0.03


def _as_spatial(maps: Tensor | np.ndarray, reduce: Reduce, name: str) -> Tensor:
    maps = torch.as_tensor(maps).detach().to("cpu", torch.float64)
    if maps.ndim not in (3, 4):
        raise ValueError(
            f"`{name}` must have shape (N, C, H, W) or (N, H, W), got "
            f"{tuple(maps.shape)}"
        )
    if bool(torch.isnan(maps).any()):
        raise ValueError(f"`{name}` contains NaN values")
    return spatial_map(maps, reduce)


def normalize_unit_range(spatial: Tensor) -> Tensor:
    r"""Min-max normalise each ``(H, W)`` map of a batch to ``[0, 1]``.

    A constant map (``max == min``) becomes all zeros.

    Args:
        spatial (Tensor): ``(N, H, W)`` maps.

    Returns:
        Tensor of the same shape and dtype.

    Examples::

        >>> normalize_unit_range(torch.tensor([[[2.0, 4.0], [3.0, 2.0]]]))
        tensor([[[0.0000, 1.0000],
                 [0.5000, 0.0000]]])
    """
    flat = spatial.reshape(spatial.shape[0], -1)
    low = flat.min(dim=1, keepdim=True).values
    span = flat.max(dim=1, keepdim=True).values - low
    scaled = (flat - low) / torch.where(span > 0, span, torch.ones_like(span))
    return scaled.reshape(spatial.shape)


def _gaussian_window(size: int, sigma: float) -> Tensor:
    radius = (size - 1) // 2
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def _filter(stack: Tensor, kernel: Tensor) -> Tensor:
    """Separable Gaussian filter over the valid positions of ``(B, H, W)``."""
    size = kernel.shape[0]
    out = F.conv2d(stack.unsqueeze(1), kernel.view(1, 1, size, 1))
    return F.conv2d(out, kernel.view(1, 1, 1, size)).squeeze(1)


def structural_similarity(
    a: Tensor | np.ndarray,
    b: Tensor | np.ndarray,
    reduce: Reduce = "sum",
    window_size: int = SSIM_WINDOW,
    sigma: float = SSIM_SIGMA,
) -> np.ndarray:
    r"""SSIM between ``a[i]`` and ``b[i]``, per image, on normalised spatial maps.

    See the module introduction for the protocol: channel collapse, per-map
    min-max normalisation to ``[0, 1]`` (so the data range is 1), Gaussian window
    11 / sigma 1.5, ``K1 = 0.01``, ``K2 = 0.03``, mean over the valid window
    positions. Computed in float64 on the CPU, all images at once. Symmetric in
    ``a`` and ``b``, invariant to a positive affine rescaling of either map, 1 for
    identical maps (also constant ones), never NaN.

    Args:
        a (Tensor or ndarray): maps ``(N, C, H, W)`` or ``(N, H, W)``, no NaN.
        b (Tensor or ndarray): maps of the same batch and spatial size.
        reduce (str): how channels are collapsed: ``"sum"`` (signed) or
            ``"abs_sum"`` (sum of ``|map|``). Default: ``"sum"``
        window_size (int): the Gaussian window's side (odd); shrunk to the
            largest odd size that fits a smaller map. Default: 11
        sigma (float): the Gaussian's standard deviation. Default: 1.5

    Returns:
        ``np.ndarray`` of shape ``(N,)`` with values in ``[-1, 1]``.

    Examples::

        >>> maps = torch.rand(2, 3, 32, 32)
        >>> structural_similarity(maps, maps)
        array([1., 1.])
        >>> structural_similarity(maps, 5 * maps + 2)  # normalised: scale is ignored
        array([1., 1.])
    """
    side_a = ssim_side(a, reduce, window_size, sigma, name="a")
    side_b = ssim_side(b, reduce, window_size, sigma, name="b")
    return ssim_of_sides(side_a, side_b)


@dataclass(frozen=True)
class SSIMSide:
    """What SSIM needs of one batch of maps alone, to compute once when one map
    is compared with many (:func:`ssim_side`, :func:`ssim_of_sides`).

    Attributes:
        unit: the normalised spatial maps ``(N, H, W)`` (float64, ``[0, 1]``).
        mean: their Gaussian-filtered local means (valid positions).
        square: the filtered squares (local second moments).
        kernel: the 1-D Gaussian kernel.
    """

    unit: Tensor
    mean: Tensor
    square: Tensor
    kernel: Tensor


def ssim_side(
    maps: Tensor | np.ndarray,
    reduce: Reduce = "sum",
    window_size: int = SSIM_WINDOW,
    sigma: float = SSIM_SIGMA,
    name: str = "maps",
) -> SSIMSide:
    r"""One side of :func:`structural_similarity`: the channel collapse, the
    normalisation and the local statistics of ``maps`` alone.

    The Gaussian filter runs on each map on its own (a float64 convolution, one
    map at a time), so the statistics equal those the two-sided call computes.

    Args:
        maps (Tensor or ndarray): ``(N, C, H, W)`` or ``(N, H, W)``, no NaN.
        reduce (str): ``"sum"`` or ``"abs_sum"``. Default: ``"sum"``
        window_size (int): the Gaussian window's side (odd). Default: 11
        sigma (float): the Gaussian's standard deviation. Default: 1.5
        name (str): the argument's name in error messages. Default: ``"maps"``

    Returns:
        :class:`SSIMSide`.

    Examples::

        >>> maps = torch.rand(2, 3, 32, 32)
        >>> side = ssim_side(maps)
        >>> ssim_of_sides(side, side)
        array([1., 1.])
    """
    if window_size < 1 or window_size % 2 == 0 or not sigma > 0:
        raise ValueError(
            "`window_size` must be a positive odd integer and `sigma` positive, got "
            f"{window_size} and {sigma}"
        )
    unit = _as_spatial(maps, reduce, name)
    side = min(window_size, unit.shape[1], unit.shape[2])
    kernel = _gaussian_window(side - (1 - side % 2), sigma)
    if unit.shape[0] == 0:
        return SSIMSide(unit, unit, unit, kernel)
    unit = normalize_unit_range(unit)
    mean, square = _filter(torch.cat([unit, unit * unit]), kernel).split(unit.shape[0])
    return SSIMSide(unit, mean, square, kernel)


def ssim_of_sides(a: SSIMSide, b: SSIMSide) -> np.ndarray:
    r"""SSIM per image from two :func:`ssim_side` results (same window and
    sigma); ``structural_similarity(a, b)`` is
    ``ssim_of_sides(ssim_side(a), ssim_side(b))``.

    Args:
        a (SSIMSide): one side.
        b (SSIMSide): the other, of the same batch and spatial size.

    Returns:
        ``np.ndarray`` of shape ``(N,)`` with values in ``[-1, 1]``.

    Examples::

        >>> side = ssim_side(torch.rand(2, 3, 32, 32))
        >>> ssim_of_sides(side, side)
        array([1., 1.])
    """
    if a.unit.shape != b.unit.shape:
        raise ValueError(
            "`a` and `b` need the same batch and spatial size, got "
            f"{tuple(a.unit.shape)} and {tuple(b.unit.shape)}"
        )
    if not torch.equal(a.kernel, b.kernel):
        raise ValueError("`a` and `b` were computed with different windows")
    if a.unit.shape[0] == 0:
        return np.zeros(0)
    mu_x, mu_y, xx, yy = a.mean, b.mean, a.square, b.square
    xy = _filter(a.unit * b.unit, a.kernel)
    var_x, var_y = xx - mu_x**2, yy - mu_y**2
    cov = xy - mu_x * mu_y
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    denominator = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    values = (numerator / denominator).mean(dim=(1, 2))
    return values.clamp(-1.0, 1.0).numpy()
