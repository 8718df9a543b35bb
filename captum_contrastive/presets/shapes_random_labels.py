"""The shapes classifier retrained on permuted labels (data randomisation).

Adebayo et al. (2018) check whether a saliency method depends on the relation
between the images and their labels: the same architecture is trained on a copy
of the training set whose labels are randomly permuted, so it can only memorise,
and the maps of that model are compared with those of the model trained on the
true labels (:func:`~captum_contrastive.studies.sanity.data_randomization`).

:func:`train_random_label_model` trains :class:`ShapesVGG` with the shipped
weights' hyperparameters (``weights/shapes_vgg.json``: AdamW at a one-cycle peak
learning rate of 3e-3, weight decay 1e-4, batches of 128, the same architecture,
dropout 0.3 and batch normalisation, the binary cross-entropy loss), except what
data randomisation must change:

- a **fixed** training set of ``train_size`` single-object ``"train"`` images,
  seen every epoch in a seeded order (the shipped model saw fresh images every
  step, which no network can memorise);
- **labels permuted** with a seeded permutation: the class counts stay, the
  link between an image and its class is gone;
- **no multi-object images**: their several classes have no single label to
  permute;
- ``epochs`` passes over the set, long enough to fit the random labels.

With the defaults (2000 images, 24 epochs, 384 steps; seed 0) the model fitted
99.7% of the permuted labels and was at chance on the true test labels (13.4%,
chance 12.5%). Training took 102 to 139 s wall clock (two runs) and 67 s CPU
time on one thread, on a 2-core machine shared with other processes (load about
6); on an idle core expect about the CPU time. ``train_seconds`` and
``train_cpu_seconds`` record both.

Every draw comes from streams of the seed (:mod:`captum_contrastive.random_streams`)
and training runs inside :func:`torch.random.fork_rng`, so the model is a
function of the seed, the settings and the thread count, and the global random
state is left untouched.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from captum_contrastive.presets.base import Normalize
from captum_contrastive.presets.shapes import MEAN, SHAPE_CLASSES, STD, ShapesDataset
from captum_contrastive.presets.shapes_model import DEFAULT_WIDTHS, ShapesVGG
from captum_contrastive.presets.shapes_training import _logits, evaluate_top1
from captum_contrastive.random_streams import image_generator, stream_seed

__all__ = [
    "PURPOSE",
    "RandomLabelModel",
    "RandomLabelSettings",
    "permuted_labels",
    "train_random_label_model",
]

#: Prefix of the stream purposes of the training (labels, order, weights).
PURPOSE = "shapes:random_labels"


@dataclass(frozen=True)
class RandomLabelSettings:
    """Every setting of the random-label training (with the seed, all it needs).

    The optimiser and architecture defaults are those of the shipped weights
    (``weights/shapes_vgg.json``).

    Attributes:
        train_size: images of the fixed training set (``"train"`` split).
        epochs: passes over the training set.
        batch_size: the most images per step (an epoch is split into
            ``ceil(train_size / batch_size)`` equal steps).
        lr: peak learning rate of AdamW, under a one-cycle schedule.
        weight_decay: AdamW weight decay.
        widths: channels of each convolutional block.
        hidden: width of the hidden fully connected layer.
        dropout: dropout probability.
        pooled_size: output size of the model's ``avgpool``.
        batch_norm: batch normalization after every convolution.
        test_size: ``"test"`` images of the accuracy on the true labels.
        test_seed: seed of the test images.
        num_threads: ``torch.set_num_threads`` during training (restored after);
            part of what the weights depend on.
    """

    train_size: int = 2000
    epochs: int = 24
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-4
    widths: tuple[int, ...] = DEFAULT_WIDTHS
    hidden: int = 128
    dropout: float = 0.3
    pooled_size: int = 4
    batch_norm: bool = True
    test_size: int = 2000
    test_seed: int = 0
    num_threads: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        for name in ("train_size", "epochs", "batch_size", "num_threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value}")
        if self.train_size // self.steps_per_epoch() < 2:
            raise ValueError(
                f"`train_size` {self.train_size} and `batch_size` "
                f"{self.batch_size} give batches of one image; batch "
                "normalisation needs at least two"
            )

    def steps_per_epoch(self) -> int:
        return math.ceil(self.train_size / self.batch_size)

    def build_model(self, functional_relu: bool = False) -> ShapesVGG:
        """An untrained :class:`ShapesVGG` of these settings' architecture."""
        return ShapesVGG(
            len(SHAPE_CLASSES),
            widths=self.widths,
            hidden=self.hidden,
            dropout=self.dropout,
            pooled_size=self.pooled_size,
            batch_norm=self.batch_norm,
            functional_relu=functional_relu,
        )

    def to_json(self) -> dict[str, Any]:
        values = asdict(self)
        values["widths"] = list(self.widths)
        return values


@dataclass
class RandomLabelModel:
    """A :class:`ShapesVGG` trained on permuted labels, and how it did.

    Attributes:
        model: the classifier of normalized images, in eval mode, on the CPU.
        metrics: ``train_accuracy`` (on the permuted labels, eval mode),
            ``train_accuracy_true_labels``, ``label_agreement`` (share of the
            training images whose permuted label is their true one), ``test_top1``
            (true labels of ``test_size`` test images), ``chance`` (1 / classes),
            ``train_seconds`` (wall clock: rendering the set and fitting),
            ``train_cpu_seconds`` (process CPU time), per-epoch ``history``,
            ``settings``, ``seed`` and ``torch_version``.
    """

    model: ShapesVGG
    metrics: dict[str, Any] = field(default_factory=dict)


def permuted_labels(labels: Tensor, seed: int) -> Tensor:
    """``labels`` in a seeded random order (stream ``(seed, 0, PURPOSE/labels)``).

    Examples::

        >>> permuted_labels(torch.tensor([0, 0, 1, 2]), seed=0)
        tensor([2, 0, 0, 1])
    """
    generator = image_generator(seed, 0, f"{PURPOSE}/labels")
    return labels[torch.randperm(len(labels), generator=generator)]


def _fit(
    model: ShapesVGG,
    images: Tensor,
    targets: Tensor,
    settings: RandomLabelSettings,
    seed: int,
    progress: bool,
) -> list[dict[str, float]]:
    """Train on the fixed set with the shipped recipe; per-epoch mean loss."""
    steps = settings.steps_per_epoch()
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=settings.lr,
        total_steps=settings.epochs * steps,
        pct_start=0.2,
    )
    history = []
    for epoch in tqdm(range(settings.epochs), disable=not progress, leave=False):
        order = torch.randperm(
            len(images), generator=image_generator(seed, epoch, f"{PURPOSE}/order")
        )
        model.train()
        total = 0.0
        for batch in torch.tensor_split(order, steps):
            logits = model(images[batch])
            loss = F.binary_cross_entropy_with_logits(logits, targets[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item()
        history.append({"epoch": epoch + 1, "loss": total / steps})
    return history


def _accuracy(model: ShapesVGG, images: Tensor, labels: Tensor) -> float:
    """Top-1 accuracy of ``model`` on pixel-space ``images`` (eval mode)."""
    return float((_logits(model.eval(), images).argmax(dim=1) == labels).float().mean())


def train_random_label_model(
    seed: int = 0,
    settings: RandomLabelSettings | None = None,
    *,
    functional_relu: bool = False,
    progress: bool = False,
) -> RandomLabelModel:
    r"""Train :class:`ShapesVGG` on a fixed training set with permuted labels.

    The training set is ``ShapesDataset(train_size, seed, "train")``, its labels
    permuted by :func:`permuted_labels`; the weights' initialization
    (``torch.manual_seed`` of the stream ``(seed, 0, PURPOSE/init)``), dropout and
    the batch order also come from the seed. See the module docstring for what
    differs from the shipped model's training.

    Args:
        seed (int): the seed of the images, labels, weights and order.
        settings (RandomLabelSettings, optional): Default: ``RandomLabelSettings()``
        functional_relu (bool): build the ``F.relu`` variant of the model (the
            same weights either way; match the model it is compared with).
            Default: False
        progress (bool): a progress bar over the epochs. Default: False

    Returns:
        :class:`RandomLabelModel`: the model (eval mode, CPU) and its metrics.

    Examples::

        >>> trained = train_random_label_model(0, RandomLabelSettings(epochs=2))
        >>> trained.metrics["train_accuracy"], trained.metrics["test_top1"]
    """
    settings = settings or RandomLabelSettings()
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(settings.num_threads)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(stream_seed(seed, 0, f"{PURPOSE}/init"))
            start, start_cpu = time.perf_counter(), time.process_time()
            images, labels, _ = ShapesDataset(settings.train_size, seed, "train").batch(
                range(settings.train_size)
            )
            random = permuted_labels(labels, seed)
            model = settings.build_model(functional_relu)
            targets = F.one_hot(random, len(SHAPE_CLASSES)).float()
            normalized = Normalize(MEAN, STD)(images)
            history = _fit(model, normalized, targets, settings, seed, progress)
            train_seconds = time.perf_counter() - start
            train_cpu_seconds = time.process_time() - start_cpu
        model.eval()
        test = ShapesDataset(settings.test_size, settings.test_seed, "test")
        metrics = {
            "train_accuracy": _accuracy(model, images, random),
            "train_accuracy_true_labels": _accuracy(model, images, labels),
            "label_agreement": float((random == labels).float().mean()),
            "test_top1": evaluate_top1(model, test),
            "chance": 1 / len(SHAPE_CLASSES),
            "train_seconds": train_seconds,
            "train_cpu_seconds": train_cpu_seconds,
            "history": history,
            "settings": settings.to_json(),
            "seed": int(seed),
            "torch_version": str(torch.__version__),
        }
    finally:
        torch.set_num_threads(previous_threads)
    return RandomLabelModel(model, metrics)
