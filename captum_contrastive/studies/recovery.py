"""Perturbation recovery (paper Fig. 4) with paired statistics and energy shares."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np
from torch import Tensor

from captum_contrastive.attacks.batch import AdversarialBatch
from captum_contrastive.metrics import (
    DEFAULT_ENERGY_FRACTIONS,
    DEFAULT_FRACTIONS,
    bootstrap_ci,
    compare_to_reference,
    perturbation_energy_share,
    recovery_curve,
)
from captum_contrastive.metrics.perturbation import RecoveryCurve
from captum_contrastive.row_chunks import by_row_chunks

__all__ = [
    "ABS_SUFFIX",
    "ORACLE",
    "RANDOM",
    "perturbation_recovery",
    "recovery_curves",
    "summarize_recovery",
]

RANDOM = "random"
#: The ranking by the perturbation itself, ``|x_adv - x|`` summed over channels:
#: an upper reference that knows the attack. It is drawn and reported, but not
#: compared with the reference method.
ORACLE = "oracle |x_adv - x|"
ABS_SUFFIX = " |abs|"


def _curve_summary(curve: Any, n_resamples: int, seed: int) -> dict[str, Any]:
    return {
        "n": len(curve),
        "auc": bootstrap_ci(curve.auc, n_resamples=n_resamples, seed=seed),
        "accuracy": [
            bootstrap_ci(curve.correct[:, j], n_resamples=n_resamples, seed=seed)
            for j in range(curve.correct.shape[1])
        ],
        "base_accuracy": float(np.mean(curve.base_correct)) if len(curve) else None,
    }


def perturbation_recovery(
    model: Callable[[Tensor], Tensor],
    adversarial_batch: AdversarialBatch,
    attributions: Mapping[str, Tensor],
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    fill: str = "mean",
    *,
    mean: Sequence[float] | None = None,
    signed: Collection[str] = (),
    reference: str = "enhanced_gbp",
    energy_fractions: Sequence[float] = DEFAULT_ENERGY_FRACTIONS,
    seed: int = 0,
    n_resamples: int = 2000,
    alpha: float = 0.05,
) -> dict[str, Any]:
    r"""How much each map's top pixels carry the attack (paper Fig. 4).

    Only successful attacks are used; each map must explain the adversarial image
    for its adversarial class, row-aligned with ``adversarial_batch.successful()``.
    Every method is compared with a seeded random ranking; signed methods are also
    ranked by ``|map|`` (reported as ``"<name> |abs|"``). The AUC of ``reference``
    is compared with every other ranking by a paired bootstrap over the same images,
    Holm-corrected over the comparisons. The perturbation-energy share (the
    fraction of ``||x_adv - x||^2`` inside a map's top-q pixels) is reported with
    the ``|x_adv - x|`` oracle and the random ranking as references.

    Args:
        model (callable): classifier on pixel-space images, in eval mode.
        adversarial_batch (AdversarialBatch): the attack's result (all images;
            failures are dropped here).
        attributions (Mapping[str, Tensor]): method name to maps of the successful
            adversarial images, ``(N_success, C, H, W)``.
        fractions (sequence of float): fractions of pixels replaced.
        fill (str): ``"mean"``, ``"zero"``, ``"blur"`` or ``"clean"``.
        mean (sequence of float, optional): dataset mean colour (``fill="mean"``).
        signed (collection of str): names of methods whose maps take both signs.
        reference (str): the method the others are compared with.
        energy_fractions (sequence of float): the q of the energy share.
        seed (int): seed of the tie-breaks, the random ranking and the bootstrap.
        n_resamples (int): bootstrap resamples.
        alpha (float): family-wise error rate of the Holm-corrected comparisons.

    Returns:
        dict with ``protocol``, ``n``, ``methods`` (per ranking: AUC and accuracy
        per fraction with 95% CIs), ``comparisons`` (paired differences against
        ``reference``), ``energy_share`` and per-image ``records``.

    Examples::

        >>> batch = CarliniWagnerL2(steps=100)(model, images, labels)
        >>> ok = batch.successful()
        >>> maps = {"enhanced_gbp": EnhancedGuidedBackprop(pixel_model).attribute(
        ...     ok.adversarial, target=ok.adversarial_predictions)}
        >>> result = perturbation_recovery(pixel_model, batch, maps, mean=(0.5,) * 3)
    """
    successful = adversarial_batch.successful()
    if len(successful) == 0:
        raise ValueError("perturbation recovery needs at least one successful attack")
    curves = recovery_curves(
        model,
        successful,
        attributions,
        fractions,
        fill,
        mean=mean,
        signed=signed,
        seed=seed,
    )
    return summarize_recovery(
        curves,
        successful,
        attributions,
        fractions,
        reference=reference,
        energy_fractions=energy_fractions,
        seed=seed,
        n_resamples=n_resamples,
        alpha=alpha,
    )


def _check_rows(successful: AdversarialBatch, attributions: Mapping[str, Tensor]):
    for name, maps in attributions.items():
        if maps.shape[0] != len(successful):
            raise ValueError(
                f"`attributions[{name!r}]` has {maps.shape[0]} maps but the batch has "
                f"{len(successful)} successful attacks"
            )


def recovery_curves(
    model: Callable[[Tensor], Tensor],
    successful: AdversarialBatch,
    attributions: Mapping[str, Tensor],
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    fill: str = "mean",
    *,
    mean: Sequence[float] | None = None,
    signed: Collection[str] = (),
    seed: int = 0,
    batch_size: int = 64,
) -> dict[str, RecoveryCurve]:
    """Every ranking's per-image recovery curve (the model's work of
    :func:`perturbation_recovery`): each method's map, ``|map|`` of the signed
    ones, the seeded random ranking and the perturbation oracle.

    Each image's curve depends only on that image (its ranking's tie-breaks and
    the random ranking come from its own stream), so curves of shards of the
    images, concatenated in order (:meth:`RecoveryCurve.concatenate`), are the
    curves of the whole.

    Args:
        successful (AdversarialBatch): successful attacks only, row-aligned with
            every map in ``attributions``.
        batch_size (int): images per forward pass (:func:`recovery_curve`).
        Others: as in :func:`perturbation_recovery`.
    """
    _check_rows(successful, attributions)
    common = dict(
        fractions=fractions, fill=fill, mean=mean, seed=seed, batch_size=batch_size
    )
    curves = {}
    for name, maps in attributions.items():
        curves[name] = recovery_curve(model, successful, maps, ranking="map", **common)
        if name in signed:
            curves[name + ABS_SUFFIX] = recovery_curve(
                model, successful, maps, ranking="abs", **common
            )
    curves[RANDOM] = recovery_curve(model, successful, None, ranking="random", **common)
    perturbation = (successful.adversarial - successful.clean).abs()
    curves[ORACLE] = recovery_curve(
        model, successful, perturbation, ranking="map", **common
    )
    return curves


def summarize_recovery(
    curves: Mapping[str, RecoveryCurve],
    successful: AdversarialBatch,
    attributions: Mapping[str, Tensor],
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    *,
    reference: str = "enhanced_gbp",
    energy_fractions: Sequence[float] = DEFAULT_ENERGY_FRACTIONS,
    seed: int = 0,
    n_resamples: int = 2000,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """The statistics of :func:`perturbation_recovery` from its curves
    (:func:`recovery_curves`): confidence intervals, the paired comparisons with
    ``reference`` and the perturbation-energy shares."""
    _check_rows(successful, attributions)
    shares = _energy_shares(successful, attributions, energy_fractions, seed)
    comparisons = []
    if reference in curves:
        comparisons = compare_to_reference(
            {name: curve.auc for name, curve in curves.items() if name != ORACLE},
            reference,
            alpha=alpha,
            n_resamples=n_resamples,
            seed=seed,
        )
    return {
        "protocol": _summary_protocol(curves, energy_fractions, alpha, n_resamples),
        "n": len(successful),
        "fractions": [float(f) for f in fractions],
        "methods": {
            name: _curve_summary(curve, n_resamples, seed)
            for name, curve in curves.items()
        },
        "comparisons": comparisons,
        "energy_share": _energy_share_summary(
            shares, energy_fractions, n_resamples, seed
        ),
        "records": {name: curve.records() for name, curve in curves.items()},
    }


def _energy_shares(
    successful: AdversarialBatch,
    attributions: Mapping[str, Tensor],
    energy_fractions: Sequence[float],
    seed: int,
) -> dict[str, np.ndarray]:
    """Per ranking (each map, oracle, random): per-image energy shares."""
    aligned = (successful.adversarial, successful.clean, successful.indices)

    def share(ranking: Any, adversarial: Tensor, clean: Tensor, indices: Tensor):
        return perturbation_energy_share(
            ranking, adversarial, clean, energy_fractions, seed, indices
        )

    rankings = {**attributions, ORACLE: "oracle", RANDOM: "random"}
    return {
        # "oracle" and "random" are references, the same for every chunk.
        name: by_row_chunks(functools.partial(share, ranking), *aligned)
        if isinstance(ranking, str)
        else by_row_chunks(share, ranking, *aligned)
        for name, ranking in rankings.items()
    }


def _summary_protocol(
    curves: Mapping[str, RecoveryCurve],
    energy_fractions: Sequence[float],
    alpha: float,
    n_resamples: int,
) -> dict[str, Any]:
    """The curves' protocol plus the summary's own entries."""
    protocol = dict(next(iter(curves.values())).protocol)
    protocol.update(
        {
            "images": "successful attacks only, re-verified by a forward pass",
            "explained_class": "the adversarial prediction",
            "comparison": "paired bootstrap of per-image AUC differences, Holm "
            f"(every ranking but {ORACLE!r})",
            "alpha": alpha,
            "n_resamples": n_resamples,
            "energy_fractions": list(energy_fractions),
        }
    )
    return protocol


def _energy_share_summary(
    shares: Mapping[str, np.ndarray],
    energy_fractions: Sequence[float],
    n_resamples: int,
    seed: int,
) -> dict[str, dict[str, Any]]:
    """Bootstrap CI of each ranking's energy share at each fraction."""
    return {
        name: {
            f"{q:g}": bootstrap_ci(values[:, j], n_resamples=n_resamples, seed=seed)
            for j, q in enumerate(energy_fractions)
        }
        for name, values in shares.items()
    }
