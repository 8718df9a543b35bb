"""Adversarial discriminativity (paper Figs. 3, 5), decomposed into its causes.

Does a method's map change when an attack changes the prediction? The main
comparison (the paper's) is the map of the clean prediction on the clean image
against the map of the adversarial prediction on the adversarial image. Two things
change at once there: the explained class and the input. The controls separate them:

- ``class_only``: the clean image, explained for the clean prediction vs for the
  adversarial class;
- ``input_only``: the adversarial class held fixed, the clean image vs the
  adversarial image;
- ``noise``: the clean image vs the clean image plus Gaussian noise of the same L2
  norm as its adversarial perturbation, each explained for its own prediction;
- ``random``: two independent random maps (the floor of every measure).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from captum_contrastive.attacks.batch import AdversarialBatch
from captum_contrastive.attacks.noise_control import equal_norm_noise
from captum_contrastive.metrics import (
    bootstrap_ci,
    compare_to_reference,
    spatial_map,
    spearman,
    top_iou,
)
from captum_contrastive.random_streams import image_generator
from captum_contrastive.row_chunks import by_row_chunks

__all__ = [
    "CONDITIONS",
    "adversarial_discriminativity",
    "equal_norm_noise",
    "random_map_reference",
]

CONDITIONS = ("clean", "adversarial", "clean_for_adversarial_class", "noise")
COMPARISONS = {
    "main": ("clean", "adversarial"),
    "class_only": ("clean", "clean_for_adversarial_class"),
    "input_only": ("clean_for_adversarial_class", "adversarial"),
    "noise": ("clean", "noise"),
}


def random_map_reference(
    shape: tuple[int, ...], indices: Tensor, seed: int, q: float
) -> dict[str, np.ndarray]:
    """Spearman rho and top-q IoU of two independent random maps per image."""

    def pair(chunk: Tensor) -> dict[str, np.ndarray]:
        maps = [
            torch.stack(
                [
                    torch.rand(shape[1:], generator=image_generator(seed, i, purpose))
                    for i in chunk.tolist()
                ]
            )
            for purpose in ("random_map_a", "random_map_b")
        ]
        return _similarity(maps[0], maps[1], q, seed, chunk)

    return by_row_chunks(pair, indices)


def _similarity(a: Tensor, b: Tensor, q: float, seed: int, indices: Tensor) -> dict:
    return {
        "spearman": spearman(spatial_map(a), spatial_map(b)),
        "iou": top_iou(a, b, q, seed, indices),
    }


def adversarial_discriminativity(
    adversarial_batch: AdversarialBatch,
    maps: Mapping[str, Mapping[str, Tensor]],
    *,
    clean_runner_up: Tensor | None = None,
    q: float = 0.10,
    seed: int = 0,
    reference: str = "enhanced_gbp",
    n_resamples: int = 2000,
) -> dict[str, Any]:
    r"""Similarity of clean and adversarial maps, split by attack success.

    Args:
        adversarial_batch (AdversarialBatch): all attacked images.
        maps (Mapping[str, Mapping[str, Tensor]]): per method, per condition (see
            :data:`CONDITIONS`), maps row-aligned with ``adversarial_batch``:
            ``"clean"`` (clean image, clean prediction), ``"adversarial"``
            (adversarial image, adversarial prediction); optionally
            ``"clean_for_adversarial_class"`` and ``"noise"`` (the image from
            :func:`equal_norm_noise`, its own prediction) for the controls.
            Tensors, or maps stored lazily (with a ``load()``, as the
            pipeline's), read a chunk of rows at a time.
        clean_runner_up (Tensor, optional): ``(N,)`` second-ranked class on the
            clean image, to report how often it is the adversarial class.
        q (float): the top fraction for the IoU. Default: 0.10
        seed (int): seed of tie-breaks, random maps and the bootstrap.
        reference (str): the method compared with the others on Adv_s.
        n_resamples (int): bootstrap resamples.

    Returns:
        dict with ``protocol``, ``groups`` (n of Adv_s, Adv_f), ``methods`` (per
        method, per comparison and group: rho and IoU with 95% CIs, and the
        ``change`` 1 - rho), ``random_maps``, ``runner_up_is_adversarial_class``,
        ``comparisons`` (paired rho differences on Adv_s against ``reference``)
        and per-image ``records``.

    Examples::

        >>> maps = {"saliency": {"clean": m_clean, "adversarial": m_adv}}
        >>> result = adversarial_discriminativity(batch, maps)
        >>> result["methods"]["saliency"]["main"]["adv_s"]["spearman"]["mean"]
    """
    batch = adversarial_batch
    groups = {"adv_s": batch.success.cpu(), "adv_f": ~batch.success.cpu()}
    indices = batch.indices.cpu()
    summary, records, main_rho_success = _compare_all_methods(
        maps, groups, indices, q=q, seed=seed, n_resamples=n_resamples
    )
    shape = next(iter(next(iter(maps.values())).values())).shape
    random_values = random_map_reference(tuple(shape), indices, seed, q)
    result: dict[str, Any] = {
        "protocol": _protocol(q),
        "groups": {name: int(mask.sum()) for name, mask in groups.items()},
        "methods": summary,
        "random_maps": {
            k: bootstrap_ci(v, n_resamples=n_resamples, seed=seed)
            for k, v in random_values.items()
        },
        "records": records,
    }
    if clean_runner_up is not None:
        result["runner_up_is_adversarial_class"] = _runner_up_share(
            clean_runner_up, batch.adversarial_predictions, groups["adv_s"]
        )
    if reference in main_rho_success and int(groups["adv_s"].sum()) > 1:
        result["comparisons"] = compare_to_reference(
            main_rho_success,
            reference,
            higher_is_better=False,
            n_resamples=n_resamples,
            seed=seed,
        )
    return result


def _compare_all_methods(
    maps: Mapping[str, Mapping[str, Tensor]],
    groups: dict[str, Tensor],
    indices: Tensor,
    *,
    q: float,
    seed: int,
    n_resamples: int,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
    """Per method and comparison: group summaries, records and the main Adv_s rho."""
    summary: dict[str, Any] = {}
    records: dict[str, Any] = {}
    main_rho_success: dict[str, np.ndarray] = {}
    for method, conditions in maps.items():
        summary[method], records[method] = {}, {}
        for comparison, (first, second) in COMPARISONS.items():
            if first not in conditions or second not in conditions:
                continue
            values = by_row_chunks(
                lambda a, b, rows: _similarity(a, b, q, seed, rows),
                conditions[first],
                conditions[second],
                indices,
            )
            records[method][comparison] = {k: v.tolist() for k, v in values.items()}
            summary[method][comparison] = _summarize_comparison(
                comparison, values, groups, seed=seed, n_resamples=n_resamples
            )
            if comparison == "main":
                main_rho_success[method] = values["spearman"][groups["adv_s"].numpy()]
    return summary, records, main_rho_success


def _summarize_comparison(
    comparison: str,
    values: dict[str, np.ndarray],
    groups: dict[str, Tensor],
    *,
    seed: int,
    n_resamples: int,
) -> dict[str, Any]:
    """Bootstrap CIs and the change 1 - rho per group (Adv_f for ``main`` only)."""
    out: dict[str, Any] = {}
    for group, mask in groups.items():
        if comparison != "main" and group == "adv_f":
            continue
        chosen = mask.numpy()
        out[group] = {
            measure: bootstrap_ci(v[chosen], n_resamples=n_resamples, seed=seed)
            for measure, v in values.items()
        }
        rho = values["spearman"][chosen]
        out[group]["change"] = (
            float(np.nanmean(1 - rho)) if chosen.any() else float("nan")
        )
    return out


def _protocol(q: float) -> dict[str, str]:
    """The protocol text of the result: comparisons, measures and groups."""
    return {
        "main": "clean image @ clean prediction vs adversarial image @ "
        "adversarial prediction",
        "class_only": "clean image @ clean prediction vs clean image @ "
        "adversarial class (Adv_s)",
        "input_only": "clean image vs adversarial image, both @ adversarial "
        "class (Adv_s)",
        "noise": "clean image vs clean + Gaussian noise of the perturbation's L2 "
        "norm (clipped to bounds), each @ its own prediction (Adv_s rows)",
        "measures": f"Spearman rho over pixels of the channel-summed map; IoU of "
        f"the top-{q:.0%} pixels (seeded tie-break)",
        "change": "1 - mean Spearman rho",
        "groups": "Adv_s: re-verified success; Adv_f: attack failed",
    }


def _runner_up_share(
    clean_runner_up: Tensor, adversarial_predictions: Tensor, success: Tensor
) -> dict[str, Any]:
    """How often the clean runner-up is the adversarial class, on Adv_s."""
    same = clean_runner_up.cpu()[success] == adversarial_predictions.cpu()[success]
    return {
        "share": float(same.float().mean()) if success.any() else float("nan"),
        "n": int(success.sum()),
    }
