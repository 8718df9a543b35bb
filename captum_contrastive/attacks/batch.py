"""The result of an attack on a batch of images."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from captum_contrastive.atomic_files import atomic_path

__all__ = ["AdversarialBatch", "AttackOutcomes"]


class AttackOutcomes:
    """What a batch of attack results says per image, from its ``labels``,
    ``clean_predictions`` and ``success``: shared by :class:`AdversarialBatch`
    and the cache's stored batches."""

    labels: Tensor
    clean_predictions: Tensor
    success: Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def clean_correct(self) -> Tensor:
        """``(N,)`` bool: the clean image is classified correctly."""
        return self.clean_predictions == self.labels

    @property
    def success_rate(self) -> float:
        return float(self.success.float().mean()) if len(self) else float("nan")


@dataclass(frozen=True)
class AdversarialBatch(AttackOutcomes):
    """Clean and adversarial images with everything needed to evaluate them.

    All images are in pixel space (the attack's bounds, usually ``[0, 1]``).

    Attributes:
        attack: attack name, e.g. ``"fgsm"``, ``"bim"``, ``"cw"``.
        clean: ``(N, C, H, W)`` clean images.
        adversarial: ``(N, C, H, W)`` attack outputs, also for failed attacks (a
            perturbed image that did not fool the model); where the attack
            returned no image (C&W's all-zero failure placeholder), the clean image.
        labels: ``(N,)`` true labels.
        clean_predictions: ``(N,)`` top-1 on ``clean``.
        adversarial_predictions: ``(N,)`` top-1 on ``adversarial`` (a fresh
            forward pass, not the attack's own report).
        success: ``(N,)`` bool; verified with that forward pass: untargeted, the
            prediction differs from the label; targeted, it equals ``targets``.
        l2: ``(N,)`` L2 norm of ``adversarial - clean`` per image.
        linf: ``(N,)`` L-infinity norm of ``adversarial - clean`` per image.
        indices: ``(N,)`` dataset indices of the images (stable across shards).
        targets: ``(N,)`` target classes of a targeted attack, else ``None``.
        params: the attack's configuration (epsilon, steps, confidence, ...).
    """

    attack: str
    clean: Tensor
    adversarial: Tensor
    labels: Tensor
    clean_predictions: Tensor
    adversarial_predictions: Tensor
    success: Tensor
    l2: Tensor
    linf: Tensor
    indices: Tensor
    targets: Tensor | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def select(self, rows: Tensor) -> AdversarialBatch:
        """The sub-batch at ``rows`` (a bool mask or integer indices)."""
        values = {}
        for f in fields(self):
            value = getattr(self, f.name)
            values[f.name] = value[rows] if isinstance(value, Tensor) else value
        return AdversarialBatch(**values)

    def successful(self) -> AdversarialBatch:
        return self.select(self.success)

    def failed(self) -> AdversarialBatch:
        return self.select(~self.success)

    @staticmethod
    def concatenate(batches: list[AdversarialBatch]) -> AdversarialBatch:
        """Merge shards (same attack and parameters) in the given order."""
        if not batches:
            raise ValueError("`batches` is empty")
        first = batches[0]
        values: dict[str, Any] = {}
        for f in fields(first):
            parts = [getattr(b, f.name) for b in batches]
            if isinstance(parts[0], Tensor):
                values[f.name] = torch.cat(parts)
            else:
                values[f.name] = parts[0]
        return AdversarialBatch(**values)

    def save(self, path: str | Path) -> None:
        """Write atomically; load back with :meth:`load` (``weights_only=True``)."""
        with atomic_path(path) as tmp:
            torch.save(asdict(self), tmp)

    @staticmethod
    def load(path: str | Path) -> AdversarialBatch:
        return AdversarialBatch(**torch.load(path, weights_only=True))
