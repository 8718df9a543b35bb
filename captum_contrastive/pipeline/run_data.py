"""What the shared stages produced, for the study units: :class:`RunData`, and
the maps a unit asks for, :class:`MapRequest`.

This module belongs to the stage layer: it imports the stages and stored data,
and nothing of the studies or the units.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor

from captum_contrastive.methods import MethodSpec
from captum_contrastive.pipeline.bim_calibration import CalibratedRadius
from captum_contrastive.pipeline.cache import StageKey
from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.stages import (
    AttackedImages,
    SelectedImages,
    Selection,
    StageContext,
    StoredBatch,
)
from captum_contrastive.pipeline.stored_maps import StoredImages, StoredMaps

__all__ = ["MapRequest", "RunData"]


@dataclass(frozen=True)
class MapRequest:
    """One set of maps a unit needs.

    Attributes:
        method: registry key.
        condition: ``"clean"`` (clean image, true class), ``"adversarial"``
            (adversarial image, adversarial prediction), ``"clean_adversarial_class"``
            (clean image, adversarial prediction) or ``"noise"`` (the equal-norm
            noise image, its own prediction).
        run: the attack run, for every condition but ``"clean"``.
    """

    method: str
    condition: str
    run: str | None = None


@dataclass
class RunData:
    """Everything the shared stages produced, for the units to evaluate.

    A run's images stay in the stage cache: :attr:`images` and :attr:`masks`
    are :class:`~captum_contrastive.pipeline.stored_maps.StoredImages` (rows
    taken with ``[]`` are read, e.g. ``data.images[:8]``; ``.view(rows)`` keeps
    them stored), each attack run's batch is a
    :class:`~captum_contrastive.pipeline.stages.StoredBatch`, and the maps are
    :class:`~captum_contrastive.pipeline.stored_maps.StoredMaps`. A shard's
    data (:meth:`cut`) is read into tensors. Tensors work everywhere too (a
    small run built by hand).

    Attributes:
        stored_images: the selection's image shards in the cache (``None``: a
            run built by hand, whose images are tensors).
        predict: the model's top-1 prediction of a batch of images.
        clean_runner_up: each clean image's runner-up class (the contrast class
            of the contrastive methods).
        noise: each attack run's equal-norm noise images (the noise control).
        noise_predictions: the model's predictions of those noise images.
        bim_calibration: BIM's calibrated radius and its cache key (``None``:
            not calibrated).
    """

    config: BenchmarkConfig
    context: StageContext
    selection: Selection
    specs: dict[str, MethodSpec]
    images: Tensor | StoredImages
    labels: Tensor
    masks: Tensor | StoredImages | None
    attacks: dict[str, AttackedImages]
    #: Tensors, or (from the maps stage) maps left in the cache.
    maps: dict[MapRequest, Tensor | StoredMaps] = field(default_factory=dict)
    map_keys: dict[MapRequest, StageKey] = field(default_factory=dict)
    stored_images: SelectedImages | None = None
    predict: Callable[[Tensor], Tensor] | None = None
    clean_runner_up: Tensor | None = None
    noise: dict[str, Tensor | StoredImages] = field(default_factory=dict)
    noise_predictions: dict[str, Tensor] = field(default_factory=dict)
    bim_calibration: CalibratedRadius | None = None

    def held_bytes(self) -> int:
        """The bytes of the tensors this run holds in memory, each storage once:
        the labels, each attack run's per-image values (predictions, success,
        norms), the controls' predictions, and any images or maps held as
        tensors. Images and maps left in the cache
        (:class:`~captum_contrastive.pipeline.stored_maps.StoredImages`,
        :class:`~captum_contrastive.pipeline.stored_maps.StoredMaps`) count
        nothing. Tensors that share memory count once, by their largest view, so
        the figure does not depend on how a process happened to build them."""
        storages: dict[int, int] = {}

        def add(value: Any) -> None:
            if isinstance(value, Tensor):
                place = value.untyped_storage().data_ptr()
                storages[place] = max(storages.get(place, 0), value.nbytes)
            elif isinstance(value, dict | list | tuple):
                for item in value.values() if isinstance(value, dict) else value:
                    add(item)

        add([self.images, self.labels, self.masks, self.clean_runner_up])
        for attacked in self.attacks.values():
            batch = attacked.batch
            add([getattr(batch, name) for name in vars(batch)])
        add(list(self.maps.values()))
        add([self.noise, self.noise_predictions])
        return sum(storages.values())

    def cut(self, indices: Sequence[int]) -> RunData:
        """The data of the selected images at ``indices`` (a shard): images,
        labels, masks, attacked images, maps, runner-up classes and noise
        controls, cut to those rows. Stored images and attacked images are read
        (a shard's worth); maps stay stored."""
        position = {int(i): row for row, i in enumerate(self.selection.indices)}
        chosen = [int(i) for i in indices]
        rows = torch.tensor([position[i] for i in chosen], dtype=torch.long)

        def attacked(batch: Any) -> Any:
            chosen_rows = batch.select(rows)
            return chosen_rows.load() if isinstance(batch, StoredBatch) else chosen_rows

        return replace(
            self,
            selection=replace(self.selection, indices=chosen),
            images=self.images[rows],
            labels=self.labels[rows],
            masks=None if self.masks is None else self.masks[rows],
            attacks={
                run: AttackedImages(attacked(found.batch), found.key)
                for run, found in self.attacks.items()
            },
            maps={request: maps[rows] for request, maps in self.maps.items()},
            map_keys=dict(self.map_keys),
            clean_runner_up=(
                None if self.clean_runner_up is None else self.clean_runner_up[rows]
            ),
            noise={run: images[rows] for run, images in self.noise.items()},
            noise_predictions={
                run: found[rows] for run, found in self.noise_predictions.items()
            },
        )
