"""Compute the maps the study units asked for, each set once, cached per shard."""

from __future__ import annotations

from torch import Tensor

from captum_contrastive.pipeline.cache import StageKey
from captum_contrastive.pipeline.stages import maps_for
from captum_contrastive.pipeline.units.base import MapRequest, RunData
from captum_contrastive.studies.adversarial import equal_norm_noise

__all__ = ["compute_requested_maps", "prepare_controls"]


def prepare_controls(data: RunData) -> None:
    """The equal-norm noise images and their predictions, per attack run."""
    for run, attacked in data.attacks.items():
        noisy = equal_norm_noise(attacked.batch, data.config.seed)
        data.extras[f"noise {run}"] = noisy
        data.extras[f"noise_predictions {run}"] = data.extras["predict"](noisy)


def _inputs(data: RunData, request: MapRequest) -> tuple[Tensor, Tensor, StageKey, str]:
    """The images, targets, source key and condition label of one request."""
    if request.condition == "clean":
        return data.images, data.labels, data.selection.key, "clean, true class"
    attacked = data.attacks[request.run]
    batch = attacked.batch
    if request.condition == "adversarial":
        return (
            batch.adversarial,
            batch.adversarial_predictions,
            attacked.key,
            "adversarial, adversarial prediction",
        )
    if request.condition == "clean_adversarial_class":
        return (
            data.images,
            batch.adversarial_predictions,
            attacked.key,
            "clean, adversarial prediction",
        )
    if request.condition == "noise":
        return (
            data.extras[f"noise {request.run}"],
            data.extras[f"noise_predictions {request.run}"],
            attacked.key,
            "equal-norm noise, its prediction",
        )
    raise ValueError(f"unknown map condition {request.condition!r}")


def compute_requested_maps(data: RunData, requests: list[MapRequest]) -> None:
    """Fill ``data.maps`` and ``data.map_keys`` for every request (once each)."""
    config = data.config
    for request in dict.fromkeys(requests):
        if request in data.maps:
            continue
        images, targets, source, condition = _inputs(data, request)
        found = maps_for(
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
