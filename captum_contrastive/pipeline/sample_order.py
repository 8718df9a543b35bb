"""The order in which a run's images are scanned: a fair sample at any size.

The selection stage takes the first ``n_images`` correctly classified images *in
this order*. In dataset index order an ImageFolder gives every image of its first
class before any of its second, so the first N would all be of one class. The
default order is therefore a seeded random permutation, interleaved across
classes when the labels are known without reading an image:

* every index gets a key from the run's random streams,
  ``stream_seed(seed, index, "sample_order")``
  (:mod:`~captum_contrastive.random_streams`), so the relative order of two
  images depends only on the seed and their own indices, never on the size of
  the dataset or on how the work is split;
* with labels (:func:`dataset_labels`), each class's images are sorted by key and
  dealt round-robin: round ``r`` holds the ``r``-th image of every class that has
  one, ordered by key. Any prefix of the order then holds each class's images
  within one of each other (until a class runs out), and a class with few images
  (or few correctly classified ones) only drops out of the later rounds;
* without labels, the images are sorted by key (one seeded permutation).

``"index"`` is the old dataset index order, for reproducing earlier numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from captum_contrastive.fingerprint import tensor_digest
from captum_contrastive.random_streams import stream_seed

__all__ = ["ORDER_PURPOSE", "SAMPLE_ORDERS", "SampleOrder", "dataset_labels"]

#: The rules of :attr:`BenchmarkConfig.sample_order`.
SAMPLE_ORDERS = ("random", "index")
#: The purpose string of the per-index random stream the order is drawn from.
ORDER_PURPOSE = "sample_order"


def dataset_labels(dataset: Any) -> list[int] | None:
    """One class label per index, when the dataset knows them without reading an
    image, else ``None``.

    A dataset tells its labels by an optional ``labels`` attribute (a sequence
    or tensor of ints, one per index) or method returning one (``None`` when
    unknown). :class:`~captum_contrastive.presets.image_folder.ImageFilesDataset`
    and :class:`~captum_contrastive.presets.image_folder.ImageFolderDataset` know
    theirs from the listing or the label file; the procedural shapes datasets
    do not (a label is drawn with its image).

    Raises:
        ValueError: ``labels`` has not one integer per image.
    """
    labels = getattr(dataset, "labels", None)
    if callable(labels):
        labels = labels()
    if labels is None:
        return None
    if hasattr(labels, "tolist"):
        labels = labels.tolist()
    values = list(labels)
    if len(values) != len(dataset) or not all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values
    ):
        raise ValueError(
            f"the dataset's `labels` must be one integer per image ({len(dataset)}), "
            f"got {len(values)} values"
        )
    return [int(v) for v in values]


@dataclass(frozen=True)
class SampleOrder:
    """The dataset indices in the order the selection scans them.

    Attributes:
        indices: every dataset index, once, in scan order.
        rule: ``"random"`` or ``"index"``.
        seed: the run's seed (``None`` for ``"index"``).
        classes: the number of classes interleaved, ``None`` when the order is
            not class-balanced (labels unknown, or ``"index"``).
    """

    indices: list[int]
    rule: str
    seed: int | None = None
    classes: int | None = None

    @classmethod
    def build(cls, dataset: Any, rule: str = "random", seed: int = 0) -> SampleOrder:
        """The order of ``dataset``'s indices under ``rule``.

        Args:
            dataset: an ``ImageDataset``; its :func:`dataset_labels`, when known,
                balance the order across classes.
            rule (str): ``"random"`` (seeded, class-balanced when the labels are
                known) or ``"index"`` (dataset index order).
            seed (int): the run's seed.

        Examples::

            >>> order = SampleOrder.build(ImageFolderDataset("val/"), seed=0)
            >>> first = order.indices[:1000]  # every class equally often
        """
        if rule not in SAMPLE_ORDERS:
            raise ValueError(
                f"`sample_order` must be one of {SAMPLE_ORDERS}, got {rule!r}"
            )
        size = len(dataset)
        if rule == "index":
            return cls(list(range(size)), rule)
        keys = np.array(
            [stream_seed(seed, i, ORDER_PURPOSE) for i in range(size)], dtype=np.int64
        )
        labels = dataset_labels(dataset)
        if labels is None:
            order = np.argsort(keys, kind="stable")
            return cls([int(i) for i in order], rule, int(seed))
        classes = np.asarray(labels, dtype=np.int64)
        return cls(
            _round_robin(keys, classes), rule, int(seed), len(np.unique(classes))
        )

    def describe(self) -> str:
        """The rule in words (recorded with the selection)."""
        if self.rule == "index":
            return "index: dataset index order"
        stream = f"stream_seed(seed={self.seed}, index, {ORDER_PURPOSE!r})"
        if self.classes is None:
            return f"random: indices sorted by {stream} (labels unknown, not balanced)"
        return (
            f"random, class-balanced: the {self.classes} classes interleaved "
            f"round-robin, each class's indices and each round sorted by {stream}"
        )

    def key(self) -> dict[str, Any]:
        """What the order is, for cache keys: the rule, the seed and a digest of
        the order itself (so other labels or another dataset size never reuse a
        selection made in another order)."""
        return {
            "rule": self.rule,
            "seed": self.seed,
            "classes": self.classes,
            "digest": tensor_digest([torch.tensor(self.indices, dtype=torch.int64)]),
        }


def _round_robin(keys: np.ndarray, classes: np.ndarray) -> list[int]:
    """Indices dealt round-robin over classes: sort by (rank of the index among
    its class's keys, key)."""
    by_class = np.lexsort((keys, classes))
    sorted_classes = classes[by_class]
    starts = np.searchsorted(sorted_classes, sorted_classes, side="left")
    rank = np.empty_like(keys)
    rank[by_class] = np.arange(len(keys)) - starts
    return [int(i) for i in np.lexsort((keys, rank))]
