"""Class discriminativity on multi-object images (paper §2.1, Fig. 1)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import torch
from captum.attr import Saliency
from torch import Tensor, nn

from captum_contrastive.attr.enhanced_guided_backprop import EnhancedGuidedBackprop
from captum_contrastive.attr.guided_backprop import GuidedBackprop
from captum_contrastive.metrics import (
    avg_diff,
    binarized_similarity,
    bootstrap_ci,
    top_iou,
)
from captum_contrastive.pipeline.methods import quiet_captum

__all__ = ["PAIR_METHODS", "class_discriminativity", "class_pairs"]

PairMaps = Callable[[nn.Module, Tensor, list[int], list[int]], tuple[Tensor, Tensor]]


def _guided_pair(model: nn.Module, x: Tensor, k: list[int], m: list[int]):
    method = GuidedBackprop(model)
    return method.attribute(x, target=k), method.attribute(x, target=m)


def _saliency_pair(model: nn.Module, x: Tensor, k: list[int], m: list[int]):
    method = Saliency(model)
    return (
        method.attribute(x, target=k, abs=False),
        method.attribute(x, target=m, abs=False),
    )


def _enhanced_pair(model: nn.Module, x: Tensor, k: list[int], m: list[int]):
    method = EnhancedGuidedBackprop(model)
    return (
        method.attribute(x, target=k, contrast_target=m),
        method.attribute(x, target=m, contrast_target=k),
    )


PAIR_METHODS: dict[str, PairMaps] = {
    "guided_backprop": _guided_pair,
    "saliency": _saliency_pair,
    "enhanced_gbp": _enhanced_pair,
}


def class_pairs(
    labels: Sequence[Sequence[int]], indices: Sequence[int]
) -> tuple[list[int], list[int], list[int], list[int]]:
    """Every unordered pair of ground-truth classes of every image.

    Returns:
        ``(rows, index, k, m)``: the row of the image in the batch, its dataset
        index, and the two classes, one entry per pair.
    """
    rows, index, first, second = [], [], [], []
    for row, (image_index, classes) in enumerate(zip(indices, labels, strict=True)):
        for k, m in combinations(sorted(set(int(c) for c in classes)), 2):
            rows.append(row)
            index.append(int(image_index))
            first.append(k)
            second.append(m)
    return rows, index, first, second


def class_discriminativity(
    model: nn.Module,
    images: Tensor,
    labels: Sequence[Sequence[int]],
    indices: Sequence[int],
    *,
    methods: Sequence[str] = tuple(PAIR_METHODS),
    q: float = 0.10,
    seed: int = 0,
    n_resamples: int = 2000,
    batch_size: int = 64,
) -> dict[str, Any]:
    r"""For each pair of ground-truth classes of an image, compare their maps.

    Measures, per pair (paper §2.1): the similarity of the binarized maps (the
    fraction of entries, over all channels and pixels, where ``map > 0`` agrees:
    GuidedBP's "filtering effect"), the IoU of the top-q spatial pixels, and
    Avg-Diff ``|mean(s_k^+) - mean(s_m^+)| / max(...)`` on the raw positive maps.
    GuidedBP is the subject; Saliency (signed gradient) and Enhanced GuidedBP (k
    against m, and m against k) are controls.

    Args:
        model (nn.Module): classifier on pixel-space images, in eval mode.
        images (Tensor): ``(N, C, H, W)`` multi-object images.
        labels (sequence of sequences of int): the classes present in each image.
        indices (sequence of int): dataset indices.
        methods (sequence of str): keys of :data:`PAIR_METHODS`.
        q (float): top fraction for the IoU. Default: 0.10
        seed (int): seed of the tie-breaks and the bootstrap.
        n_resamples (int): bootstrap resamples.
        batch_size (int): pairs per attribution call.

    Returns:
        dict with ``protocol``, ``n_pairs``, ``n_images``, per-method summaries
        (mean and 95% CI of each measure) and per-pair ``records``.
    """
    rows, pair_index, k, m = class_pairs(labels, indices)
    if not rows:
        raise ValueError("no image has two or more ground-truth classes")
    summary: dict[str, Any] = {}
    records: dict[str, Any] = {"index": pair_index, "k": k, "m": m}
    for name in methods:
        values: dict[str, list[np.ndarray]] = {
            "binarized_similarity": [],
            "top_iou": [],
            "avg_diff": [],
        }
        for start in range(0, len(rows), batch_size):
            part = slice(start, start + batch_size)
            x = images[rows[part]]
            with quiet_captum():
                map_k, map_m = PAIR_METHODS[name](model, x, k[part], m[part])
            map_k, map_m = map_k.detach(), map_m.detach()
            values["binarized_similarity"].append(binarized_similarity(map_k, map_m))
            values["top_iou"].append(
                top_iou(map_k, map_m, q, seed, torch.tensor(pair_index[part]))
            )
            values["avg_diff"].append(avg_diff(map_k, map_m))
        merged = {key: np.concatenate(parts) for key, parts in values.items()}
        records[name] = {key: v.tolist() for key, v in merged.items()}
        summary[name] = {
            key: bootstrap_ci(v, n_resamples=n_resamples, seed=seed)
            for key, v in merged.items()
        }
    return {
        "protocol": {
            "pairs": "every unordered pair of distinct ground-truth classes per image",
            "binarized_similarity": "fraction of entries (all channels and pixels) "
            "where (map_k > 0) == (map_m > 0)",
            "top_iou": f"IoU of the top-{q:.0%} spatial pixels (channel sum)",
            "avg_diff": "|mean(max(0, s_k)) - mean(max(0, s_m))| / max of the two, "
            "raw unnormalized maps",
            "controls": "Saliency: signed gradient; Enhanced GuidedBP: k vs m and "
            "m vs k",
        },
        "n_pairs": len(rows),
        "n_images": len(set(pair_index)),
        "methods": summary,
        "records": records,
    }
