"""Localization (beyond the paper): how much of a map lies on the object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import Tensor

from captum_contrastive.metrics import (
    bootstrap_ci,
    mask_area_fraction,
    positive_mass_fraction,
)
from captum_contrastive.metrics.intervals import Interval
from captum_contrastive.row_chunks import by_row_chunks

__all__ = ["LocalizationSummary", "localization"]


def localization(
    masks: Tensor,
    maps: Mapping[str, Mapping[str, Tensor]],
    *,
    seed: int = 0,
    n_resamples: int = 2000,
) -> dict[str, Any]:
    r"""Fraction of each map's positive mass on the object mask.

    Args:
        masks (Tensor): ``(N, H, W)`` bool object masks (or masks stored
            lazily, with a ``load()``, read a chunk of rows at a time).
        maps (Mapping[str, Mapping[str, Tensor]]): per method, per condition
            (e.g. ``"clean"``: clean image at the clean prediction,
            ``"adversarial"``: successful adversarial image at the adversarial
            prediction), ``(N, C, H, W)`` maps row-aligned with ``masks``
            (tensors, or lazily stored maps read a chunk of rows at a time).
        seed (int): bootstrap seed.
        n_resamples (int): bootstrap resamples.

    Returns:
        dict with ``protocol``, ``mask_area`` (the score of a uniform map) and per
        method and condition the mean fraction with a 95% CI (maps without
        positive mass are left out and counted in ``n_nan``).
    """
    area = by_row_chunks(mask_area_fraction, masks)
    summary = {
        method: {
            condition: bootstrap_ci(
                by_row_chunks(positive_mass_fraction, values, masks),
                n_resamples=n_resamples,
                seed=seed,
            )
            for condition, values in conditions.items()
        }
        for method, conditions in maps.items()
    }
    return {
        "protocol": {
            "measure": "sum of the channel-summed positive map on the mask / its "
            "total; NaN (left out) when the map has no positive mass",
            "reference": "mask_area: the score of a uniform map",
        },
        "n": len(masks),
        "mask_area": bootstrap_ci(np.asarray(area), n_resamples=n_resamples, seed=seed),
        "methods": summary,
    }


@dataclass
class LocalizationSummary:
    """The localization of the clean maps and of the maps of one attack run's
    successful adversarial images, typed.

    Attributes:
        protocol: the measure in words (free-form).
        n: clean images; ``mask_area`` the score of a uniform map on them.
        methods: per method, per condition (``"clean"``,
            ``"adversarial <run>"``), the share of positive mass on the object.
        n_adversarial: successful adversarial images; ``mask_area_adversarial``
            the uniform map's score on them.
    """

    protocol: dict[str, Any]
    n: int
    mask_area: Interval
    methods: dict[str, dict[str, Interval]]
    n_adversarial: int
    mask_area_adversarial: Interval

    @classmethod
    def of(
        cls, clean: Mapping[str, Any], adversarial: Mapping[str, Any]
    ) -> LocalizationSummary:
        """The summary of two :func:`localization` results (clean maps, and the
        adversarial maps of the same method names)."""
        methods = {
            method: {
                condition: Interval.of(ci)
                for condition, ci in {
                    **conditions,
                    **adversarial["methods"].get(method, {}),
                }.items()
            }
            for method, conditions in clean["methods"].items()
        }
        return cls(
            protocol=dict(clean["protocol"]),
            n=int(clean["n"]),
            mask_area=Interval.of(clean["mask_area"]),
            methods=methods,
            n_adversarial=int(adversarial["n"]),
            mask_area_adversarial=Interval.of(adversarial["mask_area"]),
        )
