"""Training the shapes classifier from scratch, reproducibly, on a CPU.

The model is trained as a *multi-label* classifier: a binary cross-entropy loss on
multi-hot targets, over batches that mix single-object images (one-hot targets; 60% by
default) with multi-object images (every present class is a positive; 40%). The argmax
then classifies single-object images, and on multi-object images every present shape
scores high, which the class-discriminativity analysis (the paper's Fig. 1) needs: it
explains each present class in turn.

Each epoch draws fresh images (consecutive index ranges of the ``"train"`` split), so
the model never sees an image twice and needs no augmentation. The data are a function
of the seed alone, and the weights' initialization and dropout draw from
``torch.manual_seed(seed)`` inside :func:`torch.random.fork_rng`, so a run is
reproducible for a given seed and number of threads and leaves the global random state
untouched.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from captum_contrastive.presets.base import Normalize
from captum_contrastive.presets.shapes import (
    IMAGE_SIZE,
    MEAN,
    SHAPE_CLASSES,
    STD,
    MultiShapesDataset,
    ShapesDataset,
)
from captum_contrastive.presets.shapes_model import DEFAULT_WIDTHS, ShapesVGG

__all__ = [
    "channel_statistics",
    "evaluate_multi_label",
    "evaluate_top1",
    "train_shapes_model",
]


def channel_statistics(
    size: int = 20000, seed: int = 0, multi_fraction: float = 0.3
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of training images.

    This is how :data:`~captum_contrastive.presets.shapes.MEAN` and ``STD`` were
    computed (``size=20000, seed=0, multi_fraction=0.3``, rounded to four digits; the
    statistics barely depend on the mixture).

    Args:
        size: number of images.
        seed: seed of the ``"train"`` split.
        multi_fraction: fraction of multi-object images.

    Returns:
        ``(mean, std)``, three floats each.
    """
    num_multi = round(size * multi_fraction)
    images = torch.cat(
        [
            ShapesDataset(size - num_multi, seed, "train").batch(
                range(size - num_multi)
            )[0],
            MultiShapesDataset(num_multi, seed, "train").batch(range(num_multi))[0],
        ]
    ).double()
    mean = images.mean(dim=(0, 2, 3))
    std = images.std(dim=(0, 2, 3))
    return tuple(mean.tolist()), tuple(std.tolist())


@torch.no_grad()
def _logits(model: nn.Module, images: Tensor, batch_size: int = 500) -> Tensor:
    pixel_model = nn.Sequential(Normalize(MEAN, STD), model).eval()
    return torch.cat([pixel_model(chunk) for chunk in images.split(batch_size)])


def evaluate_top1(model: nn.Module, dataset: ShapesDataset) -> float:
    """Top-1 accuracy (argmax of the logits against the first object's class).

    Args:
        model: classifier of normalized images (left in eval mode).
        dataset: the images; every index is used.

    Returns:
        The fraction of correctly classified images.
    """
    images, labels, _ = dataset.batch(range(len(dataset)))
    return float((_logits(model, images).argmax(dim=1) == labels).float().mean())


def evaluate_multi_label(model: nn.Module, dataset: MultiShapesDataset) -> dict:
    """How well every present class is ranked on multi-object images.

    Args:
        model: classifier of normalized images (left in eval mode).
        dataset: the images; every index is used.

    Returns:
        ``all_in_top_k``: fraction of images whose ``k`` present classes are exactly
        the ``k`` highest logits; ``object_recall_at_k``: fraction of objects whose
        class is among the ``k`` highest logits of its image.
    """
    rendered = dataset.render(range(len(dataset)))
    logits = _logits(model, rendered.images)
    exact, found, total = 0, 0, 0
    for row, labels in zip(logits, rendered.object_labels, strict=True):
        top = set(row.topk(len(labels)).indices.tolist())
        hits = len(top & set(labels))
        exact += hits == len(labels)
        found += hits
        total += len(labels)
    return {
        "all_in_top_k": exact / max(len(dataset), 1),
        "object_recall_at_k": found / max(total, 1),
    }


@dataclass(frozen=True)
class _Config:
    seed: int
    epochs: int
    batches_per_epoch: int
    batch_size: int
    multi_fraction: float
    lr: float
    weight_decay: float


def _training_batches(
    epoch: int,
    batches_per_epoch: int,
    batch_size: int,
    multi_per_batch: int,
) -> list[tuple[range, range]]:
    single_per_batch = batch_size - multi_per_batch
    first = epoch * batches_per_epoch
    return [
        (
            range(b * single_per_batch, (b + 1) * single_per_batch),
            range(b * multi_per_batch, (b + 1) * multi_per_batch),
        )
        for b in range(first, first + batches_per_epoch)
    ]


def _train_epoch(
    model: ShapesVGG,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    batches: Sequence[tuple[range, range]],
    single: ShapesDataset,
    multi: MultiShapesDataset,
    description: str,
    progress: bool,
) -> float:
    normalize = Normalize(MEAN, STD)
    model.train()
    total = 0.0
    bar = tqdm(batches, desc=description, disable=not progress, leave=False)
    for single_indices, multi_indices in bar:
        parts = [single.render(single_indices), multi.render(multi_indices)]
        images = torch.cat([p.images for p in parts])
        targets = torch.cat([p.targets for p in parts])
        loss = F.binary_cross_entropy_with_logits(model(normalize(images)), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += loss.item()
        bar.set_postfix(loss=f"{loss.item():.4f}")
    return total / max(len(batches), 1)


def train_shapes_model(
    out_path: str | Path,
    seed: int = 0,
    epochs: int = 8,
    batches_per_epoch: int = 190,
    batch_size: int = 128,
    multi_fraction: float = 0.4,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    widths: Sequence[int] = DEFAULT_WIDTHS,
    hidden: int = 128,
    dropout: float = 0.3,
    pooled_size: int = 4,
    batch_norm: bool = True,
    val_size: int = 500,
    test_size: int = 2000,
    multi_test_size: int = 1000,
    test_seed: int = 0,
    num_threads: int | None = 1,
    progress: bool = True,
    metadata: dict | None = None,
) -> dict:
    """Train :class:`ShapesVGG` from scratch and save its state dict.

    Writes ``out_path`` (a plain float32 state dict, loadable with
    ``torch.load(out_path, weights_only=True)``) and a JSON sidecar next to it
    (``out_path`` with suffix ``.json``) holding the returned metrics.

    Args:
        out_path: where to save the state dict.
        seed: seed of the training images, the initialization and dropout.
        epochs: number of epochs; each one sees fresh images.
        batches_per_epoch: optimizer steps per epoch.
        batch_size: images per step.
        multi_fraction: fraction of multi-object images in each batch.
        lr: peak learning rate of AdamW, under a one-cycle schedule.
        weight_decay: AdamW weight decay.
        widths: channels of each convolutional block of the model.
        hidden: width of the model's hidden fully connected layer.
        dropout: dropout probability of the model.
        pooled_size: output size of the model's ``avgpool``.
        batch_norm: batch normalization after every convolution of the model.
        val_size: single-object ``"val"`` images evaluated after every epoch.
        test_size: single-object ``"test"`` images for the final top-1 accuracy.
        multi_test_size: multi-object ``"test"`` images for the final multi-label
            metrics.
        test_seed: seed of the validation and test images (kept fixed across
            training seeds so that accuracies compare).
        num_threads: ``torch.set_num_threads`` during training (restored after);
            ``None`` keeps the current setting. One thread by default: this model is
            small, and on two cores shared with other processes, two intra-op
            threads trained about four times slower than one (measured).
        progress: show tqdm progress bars.
        metadata: extra entries for the JSON sidecar (e.g. the command line).

    Returns:
        The metrics: ``test_top1``, ``multi_all_in_top_k``,
        ``multi_object_recall_at_k``, per-epoch ``history``, ``train_seconds``
        (wall clock), ``train_cpu_seconds`` (process CPU time, all threads; less
        sensitive than the wall clock to other processes sharing the cores),
        ``hyperparameters`` and versions.
    """
    out_path = Path(out_path)
    config = _Config(
        seed=seed,
        epochs=epochs,
        batches_per_epoch=batches_per_epoch,
        batch_size=batch_size,
        multi_fraction=multi_fraction,
        lr=lr,
        weight_decay=weight_decay,
    )
    architecture = {
        "widths": list(widths),
        "hidden": hidden,
        "dropout": dropout,
        "pooled_size": pooled_size,
        "batch_norm": batch_norm,
    }
    with _torch_threads(num_threads):
        model, history, times = _train_seeded(
            config, architecture, val_size, test_seed, progress
        )
        tested = _test_metrics(model, test_size, multi_test_size, test_seed)
    metrics = {
        **tested,
        "history": history,
        **times,
        "cpu_count": os.cpu_count(),
        "load_average_at_end": list(os.getloadavg()),
        "hyperparameters": _hyperparameters(config, architecture, num_threads),
        **_model_description(),
        **(metadata or {}),
    }
    _save(model, metrics, out_path)
    return metrics


@contextmanager
def _torch_threads(num_threads: int | None) -> Iterator[None]:
    """``num_threads`` torch threads in the block (``None``: kept), restored after."""
    previous_threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous_threads)


def _train_seeded(
    config: _Config,
    architecture: dict,
    val_size: int,
    test_seed: int,
    progress: bool,
) -> tuple[ShapesVGG, list[dict], dict[str, float]]:
    """A fresh model trained under ``config.seed`` (the global RNG restored), timed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        start, start_cpu = time.perf_counter(), time.process_time()
        model = ShapesVGG(len(SHAPE_CLASSES), **architecture)
        history = _fit(
            model, config, ShapesDataset(val_size, test_seed, "val"), progress
        )
        train_seconds = time.perf_counter() - start
        train_cpu_seconds = time.process_time() - start_cpu
    times = {"train_seconds": train_seconds, "train_cpu_seconds": train_cpu_seconds}
    return model, history, times


def _test_metrics(
    model: ShapesVGG, test_size: int, multi_test_size: int, test_seed: int
) -> dict:
    """The trained model's top-1 and multi-label metrics on the test images."""
    model.eval()
    test_top1 = evaluate_top1(model, ShapesDataset(test_size, test_seed, "test"))
    multi = evaluate_multi_label(
        model, MultiShapesDataset(multi_test_size, test_seed, "test")
    )
    return {
        "test_top1": test_top1,
        "test_size": test_size,
        "multi_all_in_top_k": multi["all_in_top_k"],
        "multi_object_recall_at_k": multi["object_recall_at_k"],
        "multi_test_size": multi_test_size,
        "test_seed": test_seed,
    }


def _hyperparameters(
    config: _Config, architecture: dict, num_threads: int | None
) -> dict:
    """The sidecar's ``hyperparameters``: training, architecture and fixed choices."""
    return {
        **asdict(config),
        **architecture,
        "num_threads": num_threads,
        "image_size": IMAGE_SIZE,
        "loss": "multi-label BCE-with-logits, multi-hot targets",
        "optimizer": "AdamW, one-cycle learning rate",
    }


def _model_description() -> dict:
    """The sidecar's classes, normalization and library versions."""
    return {
        "class_names": list(SHAPE_CLASSES),
        "mean": list(MEAN),
        "std": list(STD),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
    }


def _save(model: ShapesVGG, metrics: dict, out_path: Path) -> None:
    """Write the state dict to ``out_path`` and ``metrics`` to its ``.json`` sidecar."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out_path)
    out_path.with_suffix(".json").write_text(json.dumps(metrics, indent=2) + "\n")


def _fit(
    model: ShapesVGG, config: _Config, val: ShapesDataset, progress: bool
) -> list[dict]:
    multi_per_batch = round(config.batch_size * config.multi_fraction)
    steps = config.epochs * config.batches_per_epoch
    single = ShapesDataset(
        steps * (config.batch_size - multi_per_batch), config.seed, "train"
    )
    multi = MultiShapesDataset(steps * multi_per_batch, config.seed, "train")
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=max(steps, 1), pct_start=0.2
    )
    history = []
    for epoch in range(config.epochs):
        batches = _training_batches(
            epoch, config.batches_per_epoch, config.batch_size, multi_per_batch
        )
        loss = _train_epoch(
            model,
            optimizer,
            scheduler,
            batches,
            single,
            multi,
            f"epoch {epoch + 1}/{config.epochs}",
            progress,
        )
        val_top1 = evaluate_top1(model, val) if len(val) else None
        history.append({"epoch": epoch + 1, "loss": loss, "val_top1": val_top1})
        if progress:
            tqdm.write(f"epoch {epoch + 1}: loss {loss:.4f}, val top-1 {val_top1}")
    return history
