"""How much of the adversarial perturbation a map's top pixels cover.

A model-free companion to perturbation recovery: the share of the perturbation's
energy ``||x_adv - x||^2`` that lies in a map's top-``q`` spatial pixels. A map
that points at the perturbation scores near the ``"oracle"``; a map that ignores it
scores near the ``"random"`` reference (``q`` on average).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from captum_contrastive.metrics.ranking import (
    IndicesLike,
    Reduce,
    as_indices,
    pixel_ranking,
    random_ranking,
    ranking_mask,
)

__all__ = [
    "DEFAULT_ENERGY_FRACTIONS",
    "perturbation_energy",
    "perturbation_energy_share",
]

DEFAULT_ENERGY_FRACTIONS: tuple[float, ...] = (0.05, 0.1, 0.2)


def perturbation_energy(adversarial: Tensor, clean: Tensor) -> Tensor:
    r"""Per-pixel energy of the perturbation: ``sum_c (x_adv - x)^2``.

    Args:
        adversarial (Tensor): ``(N, C, H, W)``.
        clean (Tensor): ``(N, C, H, W)``.

    Returns:
        Tensor of shape ``(N, H, W)``, in float64.

    Examples::

        >>> x = torch.zeros(1, 3, 2, 2)
        >>> perturbation_energy(x + 0.1, x).shape
        torch.Size([1, 2, 2])
    """
    if adversarial.shape != clean.shape or adversarial.ndim != 4:
        raise ValueError(
            "`adversarial` and `clean` must both be (N, C, H, W), got "
            f"{tuple(adversarial.shape)} and {tuple(clean.shape)}"
        )
    delta = (
        adversarial.detach().double() - clean.detach().to(adversarial.device).double()
    )
    return (delta**2).sum(dim=1)


def perturbation_energy_share(
    maps: Tensor | Literal["oracle", "random"],
    adversarial: Tensor,
    clean: Tensor,
    q: float | Sequence[float] = DEFAULT_ENERGY_FRACTIONS,
    seed: int = 0,
    indices: IndicesLike = None,
    reduce: Reduce = "sum",
) -> np.ndarray:
    r"""Share of the perturbation's energy inside each map's top-``q`` pixels.

    For image ``i`` and fraction ``q``: the top ``floor(q * H * W + 0.5)`` spatial
    pixels of the map (ranked by :func:`~captum_contrastive.metrics.pixel_ranking`,
    seeded ties) and ``share = sum over them of e / sum over all pixels of e`` with
    ``e = sum_c (x_adv - x)^2``. An image with no perturbation (``e == 0``
    everywhere, e.g. a failed attack) gives NaN.

    References instead of a map:

    - ``"oracle"``: pixels ranked by ``e`` itself, which attains the largest share
      any ranking can reach at each ``q`` (ranking by the channel sum of
      ``|x_adv - x|`` can do slightly worse when the channels differ);
    - ``"random"``: the seeded random ranking (stream ``"random_ranking"``), whose
      expected share is ``q``.

    Args:
        maps (Tensor or str): ``(N, C, H, W)`` or ``(N, H, W)`` maps, or
            ``"oracle"`` or ``"random"``.
        adversarial (Tensor): ``(N, C, H, W)`` adversarial images.
        clean (Tensor): ``(N, C, H, W)`` clean images.
        q (float or sequence of float): fractions in ``(0, 1]``.
            Default: ``(0.05, 0.1, 0.2)``
        seed (int): the run's seed. Default: 0
        indices (Tensor, ndarray, sequence of int or None): dataset indices;
            ``None`` means ``0..N-1``. Default: None
        reduce (str): how the map's channels are collapsed for ranking: ``"sum"``
            or ``"abs_sum"``. Default: ``"sum"``

    Returns:
        ``np.ndarray`` of shape ``(N, len(q))`` (``(N, 1)`` for a scalar ``q``).

    Examples::

        >>> clean = torch.zeros(2, 3, 10, 10)
        >>> adversarial = clean.clone()
        >>> adversarial[:, :, :2, :2] = 0.1
        >>> perturbation_energy_share((adversarial - clean).abs(), adversarial,
        ...                           clean, q=0.05)
        array([[1.],
               [1.]])
    """
    energy = perturbation_energy(adversarial, clean)
    batch, height, width = energy.shape
    fractions = [float(q)] if isinstance(q, int | float) else [float(v) for v in q]
    for fraction in fractions:
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"every `q` must lie in (0, 1], got {fraction}")
    index_array = as_indices(indices, batch)
    if isinstance(maps, str):
        if maps == "oracle":
            order = pixel_ranking(energy, seed, index_array)
        elif maps == "random":
            order = random_ranking(index_array, height * width, seed)
        else:
            raise ValueError(
                f"`maps` must be a tensor, 'oracle' or 'random', got {maps!r}"
            )
    else:
        if maps.shape[0] != batch or tuple(maps.shape[-2:]) != (height, width):
            raise ValueError(
                f"`maps` has shape {tuple(maps.shape)}, expected batch {batch} and "
                f"spatial size {(height, width)}"
            )
        if reduce not in ("sum", "abs_sum"):
            raise ValueError(f"`reduce` must be 'sum' or 'abs_sum', got {reduce!r}")
        order = pixel_ranking(maps, seed, index_array, absolute=reduce == "abs_sum")
    order = order.to(energy.device)
    total = energy.sum(dim=(1, 2))
    shares = []
    for fraction in fractions:
        mask = ranking_mask(order, fraction, height, width)
        inside = torch.where(mask, energy, 0.0).sum(dim=(1, 2))
        shares.append(
            torch.where(
                total > 0, inside / torch.where(total > 0, total, 1.0), torch.nan
            )
        )
    return torch.stack(shares, dim=1).cpu().numpy()
