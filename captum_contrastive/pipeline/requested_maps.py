"""Compute the maps the study units asked for, each set once, cached per shard."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import Tensor

from captum_contrastive.attacks.batch import AdversarialBatch
from captum_contrastive.attacks.noise_control import equal_norm_noise
from captum_contrastive.freed_memory import return_freed_memory
from captum_contrastive.pipeline.cache import StageKey
from captum_contrastive.pipeline.memory_plan import forward_batch
from captum_contrastive.pipeline.run_data import MapRequest, RunData
from captum_contrastive.pipeline.stages import StoredBatch, cached_maps_for, maps_key
from captum_contrastive.pipeline.stored_maps import StoredImages

__all__ = [
    "CONDITION_LABELS",
    "compute_requested_maps",
    "map_key",
    "noise_controls",
    "predict_in_shards",
    "prepare_controls",
]


def predict_in_shards(
    data: RunData,
    images: Tensor | StoredImages,
    predict: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """``predict`` (default: :attr:`RunData.predict`) shard by shard of the
    selection (``shard_size`` rows), each shard in chunks from its first row (of
    fewer rows when the memory plan splits the methods' passes:
    :func:`~captum_contrastive.pipeline.memory_plan.forward_batch`): a prediction
    never depends on how the run is split, and memory does not grow with the
    images."""
    shard = data.config.shard_size
    size = forward_batch([spec.settings for spec in data.specs.values()], shard)
    predict = predict or data.predict
    parts = []
    for first in range(0, len(images), shard):
        rows = images[first : first + shard]
        parts += [
            predict(rows[start : start + size]) for start in range(0, len(rows), size)
        ]
        del rows
        return_freed_memory()
    return torch.cat(parts)


def noise_controls(
    batch: AdversarialBatch | StoredBatch, seed: int
) -> Tensor | StoredImages:
    """The equal-norm noise images of an attack run
    (:func:`~captum_contrastive.attacks.noise_control.equal_norm_noise`): of a
    stored run, computed from each attack shard when their rows are read (each
    image's noise comes from its own stream, so a shard's rows are the
    whole's); of a batch in memory, computed now."""
    if isinstance(batch, StoredBatch):
        return batch.per_shard(functools.partial(equal_norm_noise, seed=seed))
    return equal_norm_noise(batch, seed)


def prepare_controls(data: RunData) -> None:
    """The equal-norm noise images and their predictions, per attack run."""
    for run, attacked in data.attacks.items():
        noisy = noise_controls(attacked.batch, data.config.seed)
        data.noise[run] = noisy
        data.noise_predictions[run] = predict_in_shards(data, noisy)


#: What each map condition's images and targets are (part of the maps' key).
CONDITION_LABELS = {
    "clean": "clean, true class",
    "adversarial": "adversarial, adversarial prediction",
    "clean_adversarial_class": "clean, adversarial prediction",
    "noise": "equal-norm noise, its prediction",
}


def _condition_label(request: MapRequest) -> str:
    if request.condition not in CONDITION_LABELS:
        raise ValueError(f"unknown map condition {request.condition!r}")
    return CONDITION_LABELS[request.condition]


def _inputs(data: RunData, request: MapRequest) -> tuple[Tensor, Tensor, StageKey, str]:
    """The images, targets, source key and condition label of one request."""
    label = _condition_label(request)
    if request.condition == "clean":
        return data.images, data.labels, data.selection.key, label
    attacked = data.attacks[request.run]
    batch = attacked.batch
    if request.condition == "adversarial":
        return batch.adversarial, batch.adversarial_predictions, attacked.key, label
    if request.condition == "clean_adversarial_class":
        return data.images, batch.adversarial_predictions, attacked.key, label
    return (
        data.noise[request.run],
        data.noise_predictions[request.run],
        attacked.key,
        label,
    )


def map_key(data: RunData, request: MapRequest, source: StageKey) -> StageKey:
    """The key of one request's maps, whose images come from ``source``."""
    return maps_key(
        data.context,
        data.specs[request.method],
        source,
        _condition_label(request),
        data.config.seed,
        data.config.shard_size,
    )


def compute_requested_maps(data: RunData, requests: list[MapRequest]) -> None:
    """Fill ``data.maps`` and ``data.map_keys`` for every request (once each).

    The maps stay in the stage cache: ``data.maps`` holds
    :class:`~captum_contrastive.pipeline.stored_maps.StoredMaps`, read shard by
    shard by the studies, so memory does not grow with the images."""
    config = data.config
    for request in dict.fromkeys(requests):
        if request in data.maps:
            continue
        images, targets, source, condition = _inputs(data, request)
        found = cached_maps_for(
            data.context,
            data.specs[request.method],
            images,
            targets,
            data.selection.indices,
            source,
            condition,
            config.seed,
            config.shard_size,
        )
        data.maps[request], data.map_keys[request] = found.maps, found.key
