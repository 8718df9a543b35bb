"""The cached, sharded stages of a run: select, images, attack, attribute.

Each stage's :class:`~captum_contrastive.pipeline.cache.StageKey` holds what its
result depends on: its own settings, the model's fingerprint, the data's identity
and the keys of the stages it consumes. Every shard also records a digest of the
input tensors it was computed from, and is recomputed when they differ.

No stage holds a run's images: the selected images are written to the cache in
shards (:func:`store_images`), the attacks and maps read the shard they work on,
and the run keeps only stored views of them (:class:`SelectedImages`,
:class:`StoredBatch`, :class:`~captum_contrastive.pipeline.stored_maps.StoredImages`)
with each image's label, predictions and attack outcome.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from captum_contrastive.attacks.batch import AdversarialBatch, AttackOutcomes
from captum_contrastive.attacks.foolbox_attacks import FoolboxAttack
from captum_contrastive.devices import reproducible_cuda
from captum_contrastive.fingerprint import (
    code_digest,
    dataset_identity,
    digest,
    model_fingerprint,
    tensor_digest,
)
from captum_contrastive.freed_memory import return_freed_memory
from captum_contrastive.methods import MethodSpec, compute_maps
from captum_contrastive.pipeline.cache import (
    MissingShardError,
    StageCache,
    StageKey,
    shards,
)
from captum_contrastive.pipeline.ranks import Ranks
from captum_contrastive.pipeline.sample_order import SampleOrder
from captum_contrastive.pipeline.stored_maps import (
    StoredImages,
    StoredMaps,
    kept_shards,
)
from captum_contrastive.presets.base import ImageDataset, Preset
from captum_contrastive.presets.image_folder import ImageReadError

__all__ = [
    "AttackedImages",
    "CachedMaps",
    "NotEnoughImagesError",
    "PendingAttack",
    "Maps",
    "SelectedImages",
    "Selection",
    "StageContext",
    "StoredBatch",
    "attack_images",
    "attack_key",
    "attack_settings",
    "attack_shard",
    "attribution_code",
    "cached_maps_for",
    "device_identity",
    "load_images",
    "maps_for",
    "maps_key",
    "images_key",
    "select_correct",
    "start_attack",
    "store_images",
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


def device_identity(device: torch.device) -> str:
    """``"cpu"``, or ``"cuda"`` with the GPU's name: what a result's rounding
    depends on besides the code and the inputs."""
    if device.type != "cuda":
        return device.type
    return f"cuda: {torch.cuda.get_device_name(device)}"


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
        read_only: the selection, attacks and maps are read from the cache,
            never computed (``--merge-only``).
        store: ``False`` writes nothing into the cache (``--report-out``, a
            cache on read-only media): a study result not in it is computed
            and not stored.
    """

    preset: Preset
    model: nn.Module
    cache_root: Path
    device: torch.device
    model_key: dict[str, str]
    data_key: str
    progress: bool = True
    read_only: bool = False
    store: bool = True

    @classmethod
    def for_preset(
        cls,
        preset: Preset,
        cache_root: str | Path,
        device: str | torch.device = "cpu",
        progress: bool = True,
    ) -> StageContext:
        device = torch.device(device)
        if device.type == "cuda":
            reproducible_cuda()
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
        """A stage key with the model's and the data's identity in it, and the
        device's (:func:`device_identity`: CPU and CUDA kernels round
        differently, and so do two GPU models)."""
        return StageKey(
            stage,
            {
                "model": self.model_key,
                "data": self.data_key,
                "device": device_identity(self.device),
                **parts,
            },
        )

    def cache(self, key: StageKey) -> StageCache:
        """The cache of one stage; read-only under ``--merge-only``."""
        return StageCache(self.cache_root, key, read_only=self.read_only)


class NotEnoughImagesError(ValueError):
    """Fewer images are classified correctly than ``n_images`` asks for."""


#: How the "mean" recovery fill is measured (recorded with the selection).
MEAN_COLOUR_RULE = (
    "per-channel mean in pixel space over the readable images of the sample "
    "order up to the last selected one (correctly classified or not), each image "
    "weighted equally"
)


@dataclass(frozen=True)
class Selection:
    """The chosen dataset indices and how they were chosen.

    Attributes:
        indices: the chosen dataset indices, in selection order (the order they
            come in :attr:`order`).
        key: the key they were chosen under; it holds the order's rule, seed and
            digest, and :attr:`mean_colour`.
        unreadable: the images of the scanned part of the order that could not
            be read (index to the error).
        order: the sample order's rule in words
            (:meth:`~captum_contrastive.pipeline.sample_order.SampleOrder.describe`).
        mean_colour: the data's mean colour in pixel space, one value per
            channel, measured as :data:`MEAN_COLOUR_RULE` says: the ``"mean"``
            recovery fill.
        mean_colour_images: how many images :attr:`mean_colour` was measured on.
        scanned: how many images of the order were looked at, up to the last
            chosen one (misclassified and unreadable ones included).
    """

    indices: list[int]
    key: StageKey
    unreadable: dict[int, str] = field(default_factory=dict)
    order: str = "index: dataset index order"
    mean_colour: tuple[float, ...] = ()
    mean_colour_images: int = 0
    scanned: int = 0

    def mean_colour_record(self) -> dict[str, Any]:
        """The measured fill colour, for ``results.json``."""
        return {
            "value": list(self.mean_colour),
            "images": self.mean_colour_images,
            "rule": MEAN_COLOUR_RULE,
        }


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


def _image_colours(indices: list[int], readable: list[int], images: Tensor | None):
    """Each image's mean colour ``(len(indices), C)`` in float64, one image at a
    time (so it does not depend on the shard), NaN rows for unreadable ones."""
    channels = 3 if images is None else images.shape[1]
    colours = torch.full((len(indices), channels), float("nan"), dtype=torch.float64)
    if images is not None:
        rows = {index: row for row, index in enumerate(indices)}
        for image, index in zip(images, readable, strict=True):
            colours[rows[index]] = image.to(torch.float64).mean(dim=(1, 2))
    return colours


def _scan_shard(context: StageContext, cache: StageCache, shard: list[int]) -> dict:
    """Which images of one scan shard are read and classified correctly, and
    each one's mean colour."""
    readable, images, labels, unreadable = _load_readable(context.preset.dataset, shard)

    def compute(indices: list[int]) -> dict[str, Any]:
        correct = dict.fromkeys(indices, False)
        if images is not None:
            with torch.no_grad():
                logits = context.model(images.to(context.device))
            hits = (logits.argmax(dim=1).cpu() == labels).tolist()
            correct.update(zip(readable, hits, strict=True))
        return {
            "correct": [correct[i] for i in indices],
            "unreadable": unreadable,
            "colour": _image_colours(indices, readable, images),
        }

    inputs = [] if images is None else [images, labels]
    digest_of_inputs = tensor_digest([*inputs, torch.tensor(readable)])
    return cache.load_or_compute(shard, compute, digest_of_inputs)


def _scan_wave(
    context: StageContext,
    cache: StageCache,
    scan_shards: list[list[int]],
    position: int,
    ranks: Ranks,
) -> None:
    """At the first shard of a wave of ``world_size`` shards, each rank scans
    its own one, then all wait: the wave's shards are then read from the cache."""
    if position % ranks.world_size:
        return
    mine = position + ranks.rank
    # A read-only merge only reads the scan: the shards past the choice's end
    # were never scanned by the parts, so it must not ask for them.
    if mine < len(scan_shards) and not context.read_only:
        _scan_shard(context, cache, scan_shards[mine])
    ranks.barrier()


def select_correct(
    context: StageContext,
    n_images: int,
    scan_shard_size: int = 64,
    order: str = "random",
    seed: int = 0,
    ranks: Ranks | None = None,
) -> Selection:
    """The first ``n_images`` correctly classified images in the sample order.

    The order (:class:`~captum_contrastive.pipeline.sample_order.SampleOrder`) is
    a seeded random permutation, class-balanced when the dataset knows its labels
    (``order="random"``), or the dataset index order (``"index"``, the old
    behaviour). It is scanned in consecutive shards of ``scan_shard_size``
    positions (cached per shard: which images are correct, and each one's mean
    colour); the choice is the first ``n_images`` correct ones in that order, so
    it does not depend on how the work is split, and a class with few correct
    images never blocks the run. Images that cannot be read
    (:class:`~captum_contrastive.presets.image_folder.ImageReadError`) are skipped
    and listed in :attr:`Selection.unreadable`.

    The ``"mean"`` recovery fill, :attr:`Selection.mean_colour`, is measured on
    the same scan (:data:`MEAN_COLOUR_RULE`): the images of the order up to the
    last chosen one are a seeded, class-balanced sample of the data, misclassified
    images included, of at least ``n_images`` images, and they have been read
    already. Unlike the selected images alone it is not restricted to the images
    the model gets right; unlike a separate sample it costs no extra reads. The
    price: it is an estimate from about ``n_images`` images (on the shapes data,
    80 images were within 0.03 of the preset's mean per channel) and changes
    with ``n_images``.

    Args:
        context (StageContext): model, data and cache.
        n_images (int): images to choose.
        scan_shard_size (int): images per forward pass of the scan (part of the
            key: a batch's size may change a near-tie prediction).
        order (str): ``"random"`` or ``"index"``.
        seed (int): the run's seed, for ``"random"``.
        ranks (Ranks, optional): ``torchrun`` ranks scan in waves, one shard
            each, and wait for each other after every wave; the choice is then
            read in order from the cache, the same for any split.

    Returns:
        :class:`Selection`; its key holds the order (rule, seed, digest of the
        whole order) and the measured mean colour.
    """
    dataset = context.preset.dataset
    sample = SampleOrder.build(dataset, order, seed)
    cache = context.cache(
        context.key(
            "select", scan_shard_size=scan_shard_size, order=sample.key(), layout=3
        )
    )
    chosen: list[int] = []
    unreadable: dict[int, str] = {}
    colours: list[Tensor] = []
    scanned = 0
    bar = tqdm(total=n_images, desc="select correct", disable=not context.progress)
    scan_shards = shards(sample.indices, scan_shard_size)
    for position, shard in enumerate(scan_shards):
        if ranks is not None and ranks.mode == "torchrun":
            _scan_wave(context, cache, scan_shards, position, ranks)
        result = _scan_shard(context, cache, shard)
        errors = {int(k): v for k, v in result["unreadable"].items()}
        for row, (index, ok) in enumerate(zip(shard, result["correct"], strict=True)):
            if len(chosen) >= n_images:
                break
            scanned += 1
            if index in errors:
                unreadable[index] = errors[index]
                continue
            colours.append(result["colour"][row])
            if ok:
                chosen.append(index)
                bar.update(1)
        if len(chosen) >= n_images:
            break
    bar.close()
    if len(chosen) < n_images:
        raise NotEnoughImagesError(
            shortfall_message(len(chosen), scanned, len(unreadable), n_images)
        )
    mean_colour = tuple(float(v) for v in torch.stack(colours).mean(dim=0))
    key = StageKey(
        "selection",
        {"select": cache.key.digest, "n": n_images, "mean_colour": list(mean_colour)},
    )
    return Selection(
        chosen, key, unreadable, sample.describe(), mean_colour, len(colours), scanned
    )


def _images(count: int) -> str:
    return f"{count} image" if count == 1 else f"{count} images"


def shortfall_message(correct: int, scanned: int, unreadable: int, asked: int) -> str:
    """Why ``asked`` correctly classified images cannot be selected: ``correct``
    of the ``scanned`` images are, ``unreadable`` of those could not be read.

    Examples::

        >>> shortfall_message(3, 16, 0, 8).partition(";")[0]
        'only 3 of the 16 images are classified correctly'
        >>> shortfall_message(12, 12, 0, 13).partition(";")[0]
        'all 12 images are classified correctly'
    """
    readable = scanned - unreadable
    if readable == 0:
        found = f"none of the {_images(scanned)} can be read"
    elif correct == 0:
        found = f"none of the {_images(readable)} is classified correctly"
    elif correct == readable:
        found = (
            "the only image is classified correctly"
            if readable == 1
            else f"all {readable} images are classified correctly"
        )
    else:
        verb = "is" if correct == 1 else "are"
        found = f"only {correct} of the {readable} images {verb} classified correctly"
    if unreadable and readable:
        found += f" ({_images(unreadable)} more could not be read)"
    return f"{found}; `n_images` = {asked} cannot be met: lower it or give more images"


def images_key(
    context: StageContext, selection: Selection, shard_size: int
) -> StageKey:
    """The key of the selected images' shards (``shard_size`` images each)."""
    return context.key(
        "images", selection=selection.key.digest, shard_size=shard_size, layout=1
    )


#: ``images(indices) -> (images, labels)`` of a shard's dataset indices.
ImageSource = Callable[[list[int]], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class SelectedImages:
    """The selected images, left in the cache in shards of ``shard_size``.

    Attributes:
        images: ``(N, C, H, W)``, read shard by shard (``images[rows]`` reads
            those rows).
        labels: ``(N,)`` true labels (held).
        masks: ``(N, H, W)`` object masks, stored like the images, when every
            selected image has one; else ``None``.
        key: the stage's key (:func:`images_key`).
        indices: the dataset indices, in selection order.
    """

    images: StoredImages
    labels: Tensor
    masks: StoredImages | None
    key: StageKey
    indices: tuple[int, ...]

    def source(self) -> ImageSource:
        """The images and labels of some of :attr:`indices` (a shard's), read
        from the shards that hold them."""
        position = {index: row for row, index in enumerate(self.indices)}

        def images_of(indices: list[int]) -> tuple[Tensor, Tensor]:
            rows = torch.tensor([position[int(i)] for i in indices], dtype=torch.long)
            return self.images[rows], self.labels[rows]

        return images_of


def store_images(
    context: StageContext,
    selection: Selection,
    shard_size: int,
    ranks: Ranks | None = None,
) -> SelectedImages:
    """Write the selected images to the cache, in shards of ``shard_size`` (the
    work items' shards), and keep only their labels.

    Each shard holds the images, labels and masks of its dataset indices, read
    from the dataset once. ``torchrun`` ranks write every ``world_size``-th
    shard each, then wait for each other. A read-only cache without them
    (``--merge-only`` on a cache of an older run) reads the dataset instead.

    Returns:
        :class:`SelectedImages`: the images and masks read back shard by shard
        when asked for, so no process holds more than a shard of them.
    """
    key = images_key(context, selection, shard_size)
    cache = context.cache(key)
    groups = shards(selection.indices, shard_size)
    dataset = context.preset.dataset

    def compute(indices: list[int]) -> dict[str, Any]:
        images, labels, masks = load_images(dataset, indices)
        return {"images": images, "labels": labels, "masks": masks}

    def read(position: int) -> dict[str, Any]:
        try:
            return cache.load_or_compute(groups[position], compute)
        except MissingShardError:
            return compute(groups[position])

    if ranks is not None and ranks.mode == "torchrun":
        if not context.read_only:
            for position in range(ranks.rank, len(groups), ranks.world_size):
                read(position)
        ranks.barrier()
    labels: list[Tensor] = []
    image_shape: tuple[tuple[int, ...], torch.dtype] = ((), torch.float32)
    mask_shape: tuple[tuple[int, ...], torch.dtype] | None = None
    has_masks = bool(groups)
    for position in tqdm(
        range(len(groups)), desc="store images", disable=not context.progress
    ):
        found = read(position)
        labels.append(found["labels"])
        if position == 0:
            image_shape = (tuple(found["images"].shape[1:]), found["images"].dtype)
            if found["masks"] is not None:
                mask_shape = (tuple(found["masks"].shape[1:]), found["masks"].dtype)
        has_masks = has_masks and found["masks"] is not None
        del found
    loader = kept_shards(read)
    sizes = [len(g) for g in groups]
    images = StoredImages.of_shards(
        sizes, image_shape[0], lambda p: loader(p)["images"], image_shape[1]
    )
    masks = None
    if has_masks and mask_shape is not None:
        masks = StoredImages.of_shards(
            sizes, mask_shape[0], lambda p: loader(p)["masks"], mask_shape[1]
        )
    return SelectedImages(
        images,
        torch.cat(labels) if labels else torch.empty(0, dtype=torch.long),
        masks,
        key,
        tuple(int(i) for i in selection.indices),
    )


def attack_settings(attack: FoolboxAttack) -> dict[str, Any]:
    """What an attack's results depend on: its registry name, every setting, the
    Foolbox version, and the source code of the attacks package."""
    import captum_contrastive.attacks

    return {**attack.settings(), "code": code_digest(captum_contrastive.attacks)}


#: The fields of an attack shard that hold images (read from the cache when
#: needed); every other field is one value per image, held.
IMAGE_FIELDS = ("clean", "adversarial")


@dataclass(frozen=True)
class StoredBatch(AttackOutcomes):
    """An attack run's :class:`~captum_contrastive.attacks.batch.AdversarialBatch`
    with its images left in the cache.

    The per-image values (labels, predictions, success, norms, indices) are
    held; :attr:`clean` and :attr:`adversarial` are
    :class:`~captum_contrastive.pipeline.stored_maps.StoredImages`, read from
    the attack's shards when their rows are taken (``batch.adversarial[rows]``
    is a tensor). :meth:`select`, :meth:`successful` and :meth:`failed` give
    stored views; :meth:`load` reads the images of a (small) view into an
    :class:`AdversarialBatch`.
    """

    attack: str
    clean: StoredImages
    adversarial: StoredImages
    labels: Tensor
    clean_predictions: Tensor
    adversarial_predictions: Tensor
    success: Tensor
    l2: Tensor
    linf: Tensor
    indices: Tensor
    targets: Tensor | None = None
    params: dict[str, Any] = field(default_factory=dict)
    #: Reads one attack shard, by position (for :meth:`per_shard`).
    load_shard: Callable[[int], AdversarialBatch] | None = field(
        default=None, repr=False, compare=False
    )

    @classmethod
    def of_shards(
        cls,
        summaries: list[dict[str, Any]],
        load_shard: Callable[[int], AdversarialBatch],
        image_shape: tuple[int, ...],
        dtype: torch.dtype,
    ) -> StoredBatch:
        """The run from its shards' per-image values (``summaries``, in shard
        order) and a reader of each whole shard."""
        if not summaries:
            raise ValueError("`summaries` is empty")
        loader = kept_shards(load_shard)
        sizes = [len(s["labels"]) for s in summaries]
        values: dict[str, Any] = {}
        for f in fields(AdversarialBatch):
            if f.name in IMAGE_FIELDS:
                values[f.name] = StoredImages.of_shards(
                    sizes,
                    image_shape,
                    functools.partial(_shard_field, loader, f.name),
                    dtype,
                )
                continue
            parts = [s[f.name] for s in summaries]
            values[f.name] = (
                torch.cat(parts) if isinstance(parts[0], Tensor) else parts[0]
            )
        return cls(**values, load_shard=loader)

    def select(self, rows: Tensor) -> StoredBatch:
        """The rows at ``rows`` (a bool mask or integer positions); the images
        stay in the cache."""
        values: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, StoredImages):
                value = value.view(rows)
            elif isinstance(value, Tensor):
                value = value[rows]
            values[f.name] = value
        return StoredBatch(**values)

    def successful(self) -> StoredBatch:
        return self.select(self.success)

    def failed(self) -> StoredBatch:
        return self.select(~self.success)

    def load(self) -> AdversarialBatch:
        """These rows with their images read: an :class:`AdversarialBatch`."""
        values = {
            f.name: getattr(self, f.name).load()
            if f.name in IMAGE_FIELDS
            else getattr(self, f.name)
            for f in fields(AdversarialBatch)
        }
        return AdversarialBatch(**values)

    def per_shard(self, derive: Callable[[AdversarialBatch], Tensor]) -> StoredImages:
        """Images derived from each attack shard (e.g. its noise controls) by
        ``derive``, computed when their rows are read, for this view's rows.
        ``derive`` must give each image's row from that image alone."""
        if self.load_shard is None:
            raise ValueError("this batch cannot read its shards")
        source = self.clean
        loader = kept_shards(lambda position: derive(self.load_shard(position)))
        return replace(source, load_shard=loader)


def _shard_field(
    loader: Callable[[int], AdversarialBatch], name: str, position: int
) -> Tensor:
    return getattr(loader(position), name)


@dataclass(frozen=True)
class AttackedImages:
    """One attack run's images and the key they were computed under.

    ``batch`` is a :class:`StoredBatch` (images in the cache) for a whole run,
    an :class:`~captum_contrastive.attacks.batch.AdversarialBatch` for a shard
    being worked on.
    """

    batch: AdversarialBatch | StoredBatch
    key: StageKey


def attack_images(
    context: StageContext,
    name: str,
    attack: FoolboxAttack,
    selection: Selection,
    shard_size: int = 32,
    images: SelectedImages | None = None,
) -> AttackedImages:
    """Attack the selected images, one cached shard at a time.

    Each shard is one Foolbox batch. C&W with early abort stops on the batch's summed
    loss, so its result for an image depends on its shard: ``shard_size`` is part of
    the key, and a run split over processes must split along these shards.

    Args:
        images (SelectedImages, optional): the selection's stored images
            (:func:`store_images`), with the same ``shard_size``; default: read
            from the dataset.

    Returns:
        :class:`AttackedImages` whose batch is a :class:`StoredBatch`: the
        images stay in the cache.
    """
    return start_attack(
        context, name, attack, selection, shard_size, None, images
    ).result()


def attack_key(
    context: StageContext, attack: FoolboxAttack, selection: Selection, shard_size: int
) -> StageKey:
    """The key of one attack run on the selection, sharded by ``shard_size``."""
    return context.key(
        "attack",
        attack=attack_settings(attack),
        selection=selection.key.digest,
        shard_size=shard_size,
    )


def _image_source(context: StageContext, images: SelectedImages | None) -> ImageSource:
    if images is not None:
        return images.source()

    def from_dataset(indices: list[int]) -> tuple[Tensor, Tensor]:
        found, labels, _ = load_images(context.preset.dataset, indices)
        return found, labels

    return from_dataset


def attack_shard(
    context: StageContext,
    attack: FoolboxAttack,
    key: StageKey,
    shard: list[int],
    images: SelectedImages | None = None,
) -> AdversarialBatch:
    """One shard of an attack run (``key`` from :func:`attack_key`), from the
    cache or computed, its images read from ``images`` (default: the dataset)."""
    source = _image_source(context, images)
    return _attack_shard(context, context.cache(key), attack, shard, source)[0]


def start_attack(
    context: StageContext,
    name: str,
    attack: FoolboxAttack,
    selection: Selection,
    shard_size: int = 32,
    executor: Executor | None = None,
    images: SelectedImages | None = None,
) -> PendingAttack:
    """Start :func:`attack_images`: with an ``executor``, every shard is submitted
    to it (shards of several runs then overlap); without one, the shards are
    computed now, one after the other. Each shard's result is the same either
    way: it depends only on the shard's images and the attack. A shard's images
    are dropped once it is stored: the pending run keeps their per-image values."""
    key = attack_key(context, attack, selection, shard_size)
    cache = context.cache(key)
    source = _image_source(context, images)
    groups = shards(selection.indices, shard_size)
    jobs = [
        functools.partial(_attack_summary, context, cache, attack, shard, source)
        for shard in groups
    ]
    reader = functools.partial(
        _read_attack_shard, context, cache, attack, source, groups
    )
    if executor is None:
        bar = tqdm(jobs, desc=f"attack {name}", disable=not context.progress)
        return PendingAttack(name, key, [_finished(job()) for job in bar], reader)
    return PendingAttack(name, key, [executor.submit(job) for job in jobs], reader)


def _finished(value: Any) -> Future:
    """A shard computed already, as a ``Future`` like the submitted ones."""
    future: Future = Future()
    future.set_result(value)
    return future


@dataclass
class PendingAttack:
    """An attack run whose shards may still be running.

    Attributes:
        name: the run's name.
        key: the run's stage key.
        shards: per shard, a ``Future`` of ``(per-image values, seconds
            computing, digest of its inputs)``.
        read_shard: ``read_shard(position, inputs digest)`` reads a stored
            shard back (the attack's images).
    """

    name: str
    key: StageKey
    shards: list[Future]
    read_shard: Callable[[int, str], AdversarialBatch] | None = None

    def result(self) -> AttackedImages:
        """Wait for every shard: the run, its images left in the cache."""
        found = [future.result() for future in self.shards]
        summaries = [summary for summary, _, _ in found]
        digests = [inputs for _, _, inputs in found]
        first = summaries[0]
        batch = StoredBatch.of_shards(
            summaries,
            lambda position: self.read_shard(position, digests[position]),
            first["image_shape"],
            first["image_dtype"],
        )
        return AttackedImages(batch, self.key)

    def busy_seconds(self) -> float:
        """Seconds spent computing (or loading) the shards, summed."""
        return sum(future.result()[1] for future in self.shards)


def _attack_compute(
    context: StageContext, attack: FoolboxAttack, images: Tensor, labels: Tensor
) -> Callable[[list[int]], dict[str, Any]]:
    def compute(indices: list[int]) -> dict[str, Any]:
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

    return compute


def _attack_shard(
    context: StageContext,
    cache: StageCache,
    attack: FoolboxAttack,
    shard: list[int],
    source: ImageSource,
) -> tuple[AdversarialBatch, float, str]:
    """One shard of an attack run, from the cache or computed; its seconds and
    the digest of its input images and labels."""
    start = time.perf_counter()
    images, labels = source(shard)
    inputs = tensor_digest([images, labels])
    compute = _attack_compute(context, attack, images, labels)
    result = cache.load_or_compute(shard, compute, inputs)
    return AdversarialBatch(**result), time.perf_counter() - start, inputs


def _attack_summary(
    context: StageContext,
    cache: StageCache,
    attack: FoolboxAttack,
    shard: list[int],
    source: ImageSource,
) -> tuple[dict[str, Any], float, str]:
    """:func:`_attack_shard` without its images: the per-image values, the
    images' shape and dtype, the seconds and the inputs' digest."""
    batch, seconds, inputs = _attack_shard(context, cache, attack, shard, source)
    summary = {
        f.name: getattr(batch, f.name)
        for f in fields(batch)
        if f.name not in IMAGE_FIELDS
    }
    summary["image_shape"] = tuple(batch.clean.shape[1:])
    summary["image_dtype"] = batch.clean.dtype
    del batch
    return_freed_memory()
    return summary, seconds, inputs


def _read_attack_shard(
    context: StageContext,
    cache: StageCache,
    attack: FoolboxAttack,
    source: ImageSource,
    groups: list[list[int]],
    position: int,
    inputs: str,
) -> AdversarialBatch:
    """A stored attack shard, verified against the digest of the inputs it was
    computed from (computed again, from ``source``, if it has gone)."""

    def compute(indices: list[int]) -> dict[str, Any]:
        images, labels = source(indices)
        return _attack_compute(context, attack, images, labels)(indices)

    return AdversarialBatch(**cache.load_or_compute(groups[position], compute, inputs))


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


@dataclass(frozen=True)
class CachedMaps:
    """One method's maps of one set of images, left in the cache, and their key."""

    maps: StoredMaps
    key: StageKey


def maps_key(
    context: StageContext,
    spec: MethodSpec,
    source: StageKey,
    condition: str,
    seed: int,
    shard_size: int = 32,
    options: dict[str, Any] | None = None,
) -> StageKey:
    """The key of one method's maps (arguments as in :func:`maps_for`)."""
    return context.key(
        "maps",
        method=spec.key(),
        code=attribution_code(),
        source=source.digest,
        condition=condition,
        seed=seed,
        shard_size=shard_size,
        options=options or {},
    )


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
    """Maps of ``images`` for ``targets`` by one method, cached per shard, all
    read into memory (:func:`cached_maps_for` leaves them in the cache).

    Args:
        source (StageKey): the stage the images come from (the selection for
            clean images, the attack for adversarial ones).
        condition (str): what the images and targets are, e.g. ``"adversarial"``
            or ``"clean, adversarial classes of <attack digest>"``.
        contrast, options: as in
            :func:`~captum_contrastive.methods.compute_maps`.
    """
    found = cached_maps_for(
        context,
        spec,
        images,
        targets,
        indices,
        source,
        condition,
        seed,
        shard_size,
        contrast,
        options,
    )
    return Maps(found.maps.load(), found.key)


def cached_maps_for(
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
) -> CachedMaps:
    """As :func:`maps_for`, but every shard is only computed or verified here,
    and left in the cache: the :class:`StoredMaps` read shards when asked, so
    memory does not grow with the images."""
    key = maps_key(context, spec, source, condition, seed, shard_size, options)
    cache = context.cache(key)
    position = {int(index): row for row, index in enumerate(indices)}
    groups = shards(indices, shard_size)
    parts = [[position[i] for i in shard] for shard in groups]

    def inputs_of(rows: list[int]) -> list[Tensor]:
        # Rows of stored images are read here: one shard's at a time.
        found = [images[rows], targets[rows]]
        return found if contrast is None else [*found, contrast[rows]]

    digests: list[str] = []

    def load_shard(part: int, inputs: list[Tensor] | None = None) -> Tensor:
        rows = parts[part]

        def compute(shard_indices: list[int]) -> dict:
            shard_images, shard_targets, *shard_contrast = inputs or inputs_of(rows)
            maps = compute_maps(
                spec,
                context.model,
                shard_images.to(context.device),
                shard_targets,
                shard_indices,
                seed,
                contrast=shard_contrast[0] if shard_contrast else None,
                options=options,
            )
            return {"maps": maps.to(torch.float32)}

        return cache.load_or_compute(groups[part], compute, digests[part])["maps"]

    map_shape = None
    for part in range(len(parts)):
        inputs = inputs_of(parts[part])
        digests.append(tensor_digest(inputs))
        map_shape = tuple(load_shard(part, inputs).shape[1:])
        del inputs
        return_freed_memory()
    stored = StoredMaps.of_shards(
        [len(rows) for rows in parts], map_shape or (), load_shard
    )
    return CachedMaps(stored, key)
