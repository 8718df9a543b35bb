"""Class discriminativity on multi-object images (paper §2.1, Fig. 1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from itertools import combinations
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from captum_contrastive.methods import METHODS, MethodSpec, compute_maps
from captum_contrastive.metrics import (
    avg_diff,
    binarized_similarity,
    bootstrap_ci,
    top_iou,
)
from captum_contrastive.metrics.intervals import Interval

__all__ = [
    "ClassDiscriminativitySummary",
    "PAIR_METHODS",
    "PAIR_OPTIONS",
    "PairMeasures",
    "class_discriminativity",
    "class_pairs",
]

#: Options a method runs with in this study. Saliency is taken signed: the
#: binarized map of ``|gradient|`` is positive everywhere, which would make the
#: control trivially "similar".
PAIR_OPTIONS: dict[str, dict[str, Any]] = {"saliency": {"abs": False}}
#: The default methods: GuidedBP is the subject, the others are controls.
PAIR_METHODS: tuple[str, ...] = ("guided_backprop", "saliency", "enhanced_gbp")


def _pair_maps(
    spec: MethodSpec,
    model: nn.Module,
    x: Tensor,
    pair: tuple[list[int], list[int]],
    indices: list[int],
    seed: int,
) -> tuple[Tensor, Tensor]:
    """Maps of class k (against m) and of class m (against k)."""
    k, m = pair
    options = PAIR_OPTIONS.get(spec.name)
    batch = len(k)
    first = compute_maps(
        spec, model, x, k, indices, seed, batch, contrast=m, options=options
    )
    second = compute_maps(
        spec, model, x, m, indices, seed, batch, contrast=k, options=options
    )
    return first, second


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
    methods: Sequence[str] = PAIR_METHODS,
    specs: Mapping[str, MethodSpec] | None = None,
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
        methods (sequence of str): keys of the method registry
            (:data:`~captum_contrastive.methods.METHODS`), run with
            :data:`PAIR_OPTIONS`; contrastive methods explain k against m and m
            against k. Default: :data:`PAIR_METHODS`
        specs (mapping, optional): the registry built with the run's sampling
            settings (``build_methods(settings)``). Default: ``METHODS``
        q (float): top fraction for the IoU. Default: 0.10
        seed (int): seed of the tie-breaks and the bootstrap.
        n_resamples (int): bootstrap resamples.
        batch_size (int): pairs per attribution call.

    Returns:
        dict with ``protocol``, ``n_pairs``, ``n_images``, per-method summaries
        (mean and 95% CI of each measure) and per-pair ``records``.
    """
    specs = specs or METHODS
    rows, pair_index, k, m = class_pairs(labels, indices)
    if not rows:
        raise ValueError("no image has two or more ground-truth classes")
    summary: dict[str, Any] = {}
    records: dict[str, Any] = {"index": pair_index, "k": k, "m": m}
    for name in methods:
        merged = _pair_measures(
            specs[name], model, images, (rows, pair_index, k, m), q, seed, batch_size
        )
        records[name] = {key: v.tolist() for key, v in merged.items()}
        summary[name] = {
            key: bootstrap_ci(v, n_resamples=n_resamples, seed=seed)
            for key, v in merged.items()
        }
    return {
        "protocol": _protocol(q, methods, specs),
        "n_pairs": len(rows),
        "n_images": len(set(pair_index)),
        "methods": summary,
        "records": records,
    }


def _pair_measures(
    spec: MethodSpec,
    model: nn.Module,
    images: Tensor,
    pairs: tuple[list[int], list[int], list[int], list[int]],
    q: float,
    seed: int,
    batch_size: int,
) -> dict[str, np.ndarray]:
    """One method's per-pair measures (:func:`class_pairs`' lists), in batches."""
    rows, pair_index, k, m = pairs
    values: dict[str, list[np.ndarray]] = {
        "binarized_similarity": [],
        "top_iou": [],
        "avg_diff": [],
    }
    for start in range(0, len(rows), batch_size):
        part = slice(start, start + batch_size)
        x = images[rows[part]]
        map_k, map_m = _pair_maps(
            spec, model, x, (k[part], m[part]), pair_index[part], seed
        )
        values["binarized_similarity"].append(binarized_similarity(map_k, map_m))
        values["top_iou"].append(
            top_iou(map_k, map_m, q, seed, torch.tensor(pair_index[part]))
        )
        values["avg_diff"].append(avg_diff(map_k, map_m))
    return {key: np.concatenate(parts) for key, parts in values.items()}


def _protocol(
    q: float, methods: Sequence[str], specs: Mapping[str, MethodSpec]
) -> dict[str, Any]:
    """The protocol text of the result: pairs, measures, methods and controls."""
    return {
        "pairs": "every unordered pair of distinct ground-truth classes per image",
        "binarized_similarity": "fraction of entries (all channels and pixels) "
        "where (map_k > 0) == (map_m > 0)",
        "top_iou": f"IoU of the top-{q:.0%} spatial pixels (channel sum)",
        "avg_diff": "|mean(max(0, s_k)) - mean(max(0, s_m))| / max of the two, "
        "raw unnormalized maps",
        "methods": {
            name: {**specs[name].key(), "options": PAIR_OPTIONS.get(name, {})}
            for name in methods
        },
        "controls": "Saliency: signed gradient; contrastive methods: k vs m and m vs k",
    }


@dataclass
class PairMeasures:
    """A method's measures over the class pairs, with intervals (the per-pair
    values are :func:`class_discriminativity`'s ``records``).

    Attributes:
        binarized_similarity: agreement of the binarized maps of the two classes.
        top_iou: IoU of their top-``q`` pixels.
        avg_diff: relative difference of their mean positive values.
    """

    binarized_similarity: Interval
    top_iou: Interval
    avg_diff: Interval

    def measures(self) -> dict[str, Interval]:
        """The intervals by measure name, in the order of ``results.json``."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


@dataclass
class ClassDiscriminativitySummary:
    """:func:`class_discriminativity`'s result without its records, typed, and
    where its class pairs came from.

    Attributes:
        protocol: the measures and methods in words (free-form).
        n_pairs, n_images: the class pairs and the images they come from.
        methods: per method, its measures.
        pairs: what the pairs are (multi-object images, a multi-label file, or a
            top-2 stand-in on single-label data).
    """

    protocol: dict[str, Any]
    n_pairs: int
    n_images: int
    methods: dict[str, PairMeasures]
    pairs: str

    @classmethod
    def of(cls, result: Mapping[str, Any], pairs: str) -> ClassDiscriminativitySummary:
        """``result`` of :func:`class_discriminativity` (its records are left
        out), typed, with the pairs' kind."""
        return cls(
            protocol=dict(result["protocol"]),
            n_pairs=int(result["n_pairs"]),
            n_images=int(result["n_images"]),
            methods={
                name: PairMeasures(**{k: Interval.of(v) for k, v in measures.items()})
                for name, measures in result["methods"].items()
            },
            pairs=pairs,
        )
