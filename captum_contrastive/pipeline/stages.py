"""The cached, sharded stages of a run: select, attack, attribute.

Each stage's :class:`~captum_contrastive.pipeline.cache.StageKey` holds what its
result depends on: its own settings, the model's fingerprint, the data's identity
and the keys of the stages it consumes. Every shard also records a digest of the
input tensors it was computed from, and is recomputed when they differ.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from captum_contrastive.attacks.batch import AdversarialBatch
from captum_contrastive.attacks.foolbox_attacks import FoolboxAttack
from captum_contrastive.methods import MethodSpec, compute_maps
from captum_contrastive.pipeline.cache import StageCache, StageKey, shards
from captum_contrastive.pipeline.fingerprint import (
    code_digest,
    dataset_identity,
    digest,
    model_fingerprint,
    tensor_digest,
)
from captum_contrastive.presets.base import ImageDataset, Preset
from captum_contrastive.presets.image_folder import ImageReadError

__all__ = [
    "AttackedImages",
    "NotEnoughImagesError",
    "Maps",
    "Selection",
    "StageContext",
    "attack_images",
    "attack_settings",
    "attribution_code",
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


@dataclass
class StageContext:
    """What every stage of one run shares: the model, the data and the cache.

    Build it with :meth:`for_preset`, which fingerprints the model and the data.

    Attributes:
        preset: model and data.
        model: the pixel-space model on ``device``, in eval mode.
        cache_root: the cache directory.
        device: where the work runs.
        model_key: the model's fingerprint (architecture and weights digests of
            the pixel-space model, normalization included).
        data_key: digest of the dataset's identity.
        progress: progress bars.
    """

    preset: Preset
    model: nn.Module
    cache_root: Path
    device: torch.device
    model_key: dict[str, str]
    data_key: str
    progress: bool = True

    @classmethod
    def for_preset(
        cls,
        preset: Preset,
        cache_root: str | Path,
        device: str | torch.device = "cpu",
        progress: bool = True,
    ) -> StageContext:
        device = torch.device(device)
        model = preset.pixel_model().to(device)
        return cls(
            preset=preset,
            model=model,
            cache_root=Path(cache_root),
            device=device,
            model_key=model_fingerprint(model),
            data_key=digest(dataset_identity(preset.dataset), length=24),
            progress=progress,
        )

    def key(self, stage: str, **parts: Any) -> StageKey:
        """A stage key with the model's and the data's identity in it."""
        return StageKey(
            stage, {"model": self.model_key, "data": self.data_key, **parts}
        )


class NotEnoughImagesError(ValueError):
    """Fewer images are classified correctly than ``n_images`` asks for."""


@dataclass(frozen=True)
class Selection:
    """The chosen dataset indices, the key they were chosen under, and the images
    of the scan that could not be read (index to the error)."""

    indices: list[int]
    key: StageKey
    unreadable: dict[int, str] = field(default_factory=dict)


def _load_readable(
    dataset: ImageDataset, indices: list[int]
) -> tuple[list[int], Tensor | None, Tensor | None, dict[int, str]]:
    """The readable images of ``indices``; unreadable files are reported, not
    raised, so one corrupt image does not abort a long scan."""
    readable, items, unreadable = [], [], {}
    for index in indices:
        try:
            items.append(dataset[index])
        except ImageReadError as error:
            unreadable[index] = str(error)
            continue
        readable.append(index)
    if not items:
        return readable, None, None, unreadable
    images = torch.stack([item.image for item in items])
    return readable, images, torch.tensor([item.label for item in items]), unreadable


def _scan_shard(context: StageContext, cache: StageCache, shard: list[int]) -> dict:
    """Which images of one scan shard are read and classified correctly."""
    readable, images, labels, unreadable = _load_readable(context.preset.dataset, shard)

    def compute(indices: list[int]) -> dict[str, Any]:
        correct = dict.fromkeys(indices, False)
        if images is not None:
            with torch.no_grad():
                logits = context.model(images.to(context.device))
            hits = (logits.argmax(dim=1).cpu() == labels).tolist()
            correct.update(zip(readable, hits, strict=True))
        return {"correct": [correct[i] for i in indices], "unreadable": unreadable}

    inputs = [] if images is None else [images, labels]
    digest_of_inputs = tensor_digest([*inputs, torch.tensor(readable)])
    return cache.load_or_compute(shard, compute, digest_of_inputs)


def select_correct(
    context: StageContext, n_images: int, scan_shard_size: int = 64
) -> Selection:
    """The first ``n_images`` dataset indices that the model classifies correctly.

    The dataset is scanned in index order, shard by shard (cached), so the choice
    does not depend on how the work is split. Images that cannot be read
    (:class:`~captum_contrastive.presets.image_folder.ImageReadError`) are skipped
    and listed in :attr:`Selection.unreadable`.
    """
    cache = StageCache(
        context.cache_root,
        context.key("select", scan_shard_size=scan_shard_size, layout=2),
    )
    dataset = context.preset.dataset
    chosen: list[int] = []
    unreadable: dict[int, str] = {}
    bar = tqdm(total=n_images, desc="select correct", disable=not context.progress)
    for start in range(0, len(dataset), scan_shard_size):
        shard = list(range(start, min(start + scan_shard_size, len(dataset))))
        result = _scan_shard(context, cache, shard)
        unreadable.update({int(k): v for k, v in result["unreadable"].items()})
        new = [i for i, ok in zip(shard, result["correct"], strict=True) if ok]
        chosen.extend(new[: n_images - len(chosen)])
        bar.update(min(len(new), bar.total - bar.n))
        if len(chosen) >= n_images:
            break
    bar.close()
    if len(chosen) < n_images:
        raise NotEnoughImagesError(
            f"only {len(chosen)} of {len(dataset)} images are classified correctly "
            f"({len(unreadable)} could not be read); `n_images`={n_images} cannot "
            "be met"
        )
    key = StageKey("selection", {"select": cache.key.digest, "n": n_images})
    return Selection(chosen, key, unreadable)


def attack_settings(attack: FoolboxAttack) -> dict[str, Any]:
    """What an attack's results depend on: its registry name, every setting, the
    Foolbox version, and the source code of the attacks package."""
    import captum_contrastive.attacks

    return {**attack.settings(), "code": code_digest(captum_contrastive.attacks)}


@dataclass(frozen=True)
class AttackedImages:
    """One attack run's images and the key they were computed under."""

    batch: AdversarialBatch
    key: StageKey


def attack_images(
    context: StageContext,
    name: str,
    attack: FoolboxAttack,
    selection: Selection,
    shard_size: int = 32,
) -> AttackedImages:
    """Attack the selected images, one cached shard at a time, and merge.

    Each shard is one Foolbox batch. C&W with early abort stops on the batch's summed
    loss, so its result for an image depends on its shard: ``shard_size`` is part of
    the key, and a run split over processes must split along these shards.
    """
    key = context.key(
        "attack",
        attack=attack_settings(attack),
        selection=selection.key.digest,
        shard_size=shard_size,
    )
    cache = StageCache(context.cache_root, key)
    parts = []
    for shard in tqdm(
        shards(selection.indices, shard_size),
        desc=f"attack {name}",
        disable=not context.progress,
    ):
        images, labels, _ = load_images(context.preset.dataset, shard)

        def compute(
            indices: list[int], images: Tensor = images, labels: Tensor = labels
        ) -> dict[str, Any]:
            batch = attack(
                context.preset.model,
                images.to(context.device),
                labels.to(context.device),
                preprocessing=context.preset.preprocessing(),
                indices=indices,
            )
            return {
                k: (v.cpu() if isinstance(v, Tensor) else v)
                for k, v in batch.__dict__.items()
            }

        result = cache.load_or_compute(shard, compute, tensor_digest([images, labels]))
        parts.append(AdversarialBatch(**result))
    return AttackedImages(AdversarialBatch.concatenate(parts), key)


@functools.cache
def attribution_code() -> dict[str, str]:
    """The code maps depend on: ours (digest) and Captum's and torch's versions."""
    import captum

    import captum_contrastive.attr
    import captum_contrastive.guided
    import captum_contrastive.methods

    return {
        "captum_contrastive": code_digest(
            captum_contrastive.attr,
            captum_contrastive.guided,
            captum_contrastive.methods,
        ),
        "captum": captum.__version__,
        "torch": torch.__version__,
    }


@dataclass(frozen=True)
class Maps:
    """One method's maps of one set of images and the key they were computed under."""

    maps: Tensor
    key: StageKey


def maps_for(
    context: StageContext,
    spec: MethodSpec,
    images: Tensor,
    targets: Tensor,
    indices: Sequence[int],
    source: StageKey,
    condition: str,
    seed: int,
    shard_size: int = 32,
    contrast: Tensor | None = None,
    options: dict[str, Any] | None = None,
) -> Maps:
    """Maps of ``images`` for ``targets`` by one method, cached per shard.

    Args:
        source (StageKey): the stage the images come from (the selection for
            clean images, the attack for adversarial ones).
        condition (str): what the images and targets are, e.g. ``"adversarial"``
            or ``"clean, adversarial classes of <attack digest>"``.
        contrast, options: as in
            :func:`~captum_contrastive.methods.compute_maps`.
    """
    key = context.key(
        "maps",
        method=spec.key(),
        code=attribution_code(),
        source=source.digest,
        condition=condition,
        seed=seed,
        shard_size=shard_size,
        options=options or {},
    )
    cache = StageCache(context.cache_root, key)
    position = {int(index): row for row, index in enumerate(indices)}
    parts = []
    for shard in shards(indices, shard_size):
        rows = [position[i] for i in shard]
        inputs = [images[rows], targets[rows]]
        if contrast is not None:
            inputs.append(contrast[rows])

        def compute(shard_indices: list[int], rows: list[int] = rows) -> dict:
            maps = compute_maps(
                spec,
                context.model,
                images[rows].to(context.device),
                targets[rows],
                shard_indices,
                seed,
                contrast=None if contrast is None else contrast[rows],
                options=options,
            )
            return {"maps": maps.to(torch.float32)}

        parts.append(
            cache.load_or_compute(shard, compute, tensor_digest(inputs))["maps"]
        )
    return Maps(torch.cat(parts), key)
