"""The cached, sharded stages of a benchmark run: select, attack, attribute."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from captum_contrastive.attacks.batch import AdversarialBatch
from captum_contrastive.pipeline.cache import StageCache, shards
from captum_contrastive.pipeline.methods import MethodSpec, compute_maps
from captum_contrastive.presets.base import ImageDataset, Preset

__all__ = [
    "attack_images",
    "load_images",
    "maps_for",
    "select_correct",
]


def load_images(
    dataset: ImageDataset, indices: Sequence[int]
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Stack the images, labels and (when every image has one) masks at ``indices``."""
    items = [dataset[int(i)] for i in indices]
    images = torch.stack([item.image for item in items])
    labels = torch.tensor([item.label for item in items])
    masks = None
    if items and all(item.mask is not None for item in items):
        masks = torch.stack([item.mask for item in items])
    return images, labels, masks


def select_correct(
    preset: Preset,
    model: nn.Module,
    n_images: int,
    cache_root: Path,
    device: torch.device,
    shard_size: int = 64,
    progress: bool = True,
) -> list[int]:
    """The first ``n_images`` dataset indices that the model classifies correctly.

    The dataset is scanned in index order, shard by shard (cached), so the choice
    does not depend on how the work is split.
    """
    cache = StageCache(cache_root, "select", {"preset": preset.name})
    chosen: list[int] = []
    total = len(preset.dataset)
    bar = tqdm(total=n_images, desc="select correct", disable=not progress)
    for start in range(0, total, shard_size):
        shard = list(range(start, min(start + shard_size, total)))

        def compute(indices: list[int]) -> dict[str, Any]:
            images, labels, _ = load_images(preset.dataset, indices)
            with torch.no_grad():
                predictions = model(images.to(device)).argmax(dim=1).cpu()
            return {"correct": (predictions == labels).tolist()}

        correct = cache.load_or_compute(shard, compute)["correct"]
        new = [i for i, ok in zip(shard, correct, strict=True) if ok]
        chosen.extend(new[: n_images - len(chosen)])
        bar.update(min(len(new), bar.total - bar.n))
        if len(chosen) >= n_images:
            break
    bar.close()
    if len(chosen) < n_images:
        raise ValueError(
            f"only {len(chosen)} of {total} images are classified correctly; "
            f"`n_images`={n_images} cannot be met"
        )
    return chosen


def attack_images(
    name: str,
    attack: Callable[..., AdversarialBatch],
    preset: Preset,
    indices: Sequence[int],
    cache_root: Path,
    device: torch.device,
    shard_size: int = 32,
    progress: bool = True,
) -> AdversarialBatch:
    """Attack the images at ``indices``, one cached shard at a time, and merge.

    Each shard is one Foolbox batch. C&W with early abort stops on the batch's summed
    loss, so its result for an image depends on its shard: ``shard_size`` is part of
    the protocol, and a run split over processes must split along these shards.
    """
    key = {
        "preset": preset.name,
        "attack": name,
        "config": repr(attack),
        "shard_size": shard_size,
    }
    cache = StageCache(cache_root, "attack", key)
    parts = []
    for shard in tqdm(
        shards(indices, shard_size), desc=f"attack {name}", disable=not progress
    ):

        def compute(shard_indices: list[int]) -> dict[str, Any]:
            images, labels, _ = load_images(preset.dataset, shard_indices)
            batch = attack(
                preset.model,
                images.to(device),
                labels.to(device),
                preprocessing=preset.preprocessing(),
                indices=shard_indices,
            )
            return {
                k: (v.cpu() if isinstance(v, Tensor) else v)
                for k, v in batch.__dict__.items()
            }

        parts.append(AdversarialBatch(**cache.load_or_compute(shard, compute)))
    return AdversarialBatch.concatenate(parts)


def maps_for(
    spec: MethodSpec,
    model: nn.Module,
    images: Tensor,
    targets: Tensor,
    indices: Sequence[int],
    cache_root: Path,
    key: dict[str, Any],
    seed: int,
    device: torch.device,
    shard_size: int = 32,
) -> Tensor:
    """Maps of ``images`` for ``targets`` by one method, cached per shard.

    ``key`` names what the images are (preset, attack, condition); the method's
    name and settings and the seed are added to it.
    """
    cache = StageCache(
        cache_root,
        "maps",
        {**key, "method": spec.name, "settings": spec.settings, "seed": seed},
    )
    position = {int(index): row for row, index in enumerate(indices)}
    parts = []
    for shard in shards(indices, shard_size):

        def compute(shard_indices: list[int]) -> dict[str, Any]:
            rows = [position[i] for i in shard_indices]
            maps = compute_maps(
                spec,
                model,
                images[rows].to(device),
                targets[rows],
                shard_indices,
                seed,
            )
            return {"maps": maps.to(torch.float32)}

        parts.append(cache.load_or_compute(shard, compute)["maps"])
    return torch.cat(parts)
