"""Resolution and validation of ``target`` / ``contrast_target``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

ClassIndex = int | Sequence[int] | Tensor | None


def check_logits(logits: object) -> Tensor:
    if not isinstance(logits, Tensor) or logits.ndim != 2:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits)
        raise ValueError(
            "the model output must be a (N, num_classes) tensor of class scores, "
            f"got {shape}"
        )
    if logits.shape[1] < 2:
        raise ValueError(
            "the model output must have at least 2 classes to form a contrast, "
            f"got shape {tuple(logits.shape)}"
        )
    return logits


def as_class_vector(
    value: int | Sequence[int] | Tensor,
    batch: int,
    num_classes: int,
    name: str,
    allow_repeat: bool = False,
) -> Tensor:
    """One class index per example, as a ``long`` tensor of shape ``(batch,)``.

    With ``allow_repeat``, a vector of length ``n`` where ``batch = n * r`` is expanded
    with ``repeat_interleave(r)``: this is how :class:`captum.attr.NoiseTunnel` and
    :func:`captum.metrics.sensitivity_max` expand the inputs, while they do not expand
    keyword arguments they do not know.
    """
    if isinstance(value, bool):
        raise TypeError(f"`{name}` must be an int, a list of ints or a 1-D tensor")
    if isinstance(value, int):
        vector = torch.full((batch,), value, dtype=torch.long)
    elif isinstance(value, Tensor):
        if value.is_floating_point() or value.is_complex() or value.ndim > 1:
            raise TypeError(
                f"`{name}` must be an integer tensor with at most one dimension, "
                f"got dtype {value.dtype} and shape {tuple(value.shape)}"
            )
        vector = value.detach().long().reshape(-1).cpu()
        if value.ndim == 0:
            vector = vector.expand(batch)
    elif isinstance(value, (list, tuple)):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise TypeError(
                f"`{name}` must hold ints only (multi-dimensional output targets are "
                "not supported), got "
                f"{[type(v).__name__ for v in value][:5]}"
            )
        vector = torch.tensor(list(value), dtype=torch.long)
    else:
        raise TypeError(
            f"`{name}` must be an int, a list of ints or a 1-D tensor, "
            f"got {type(value).__name__}"
        )
    if vector.numel() != batch:
        n = vector.numel()
        if allow_repeat and n > 0 and batch % n == 0:
            vector = vector.repeat_interleave(batch // n)
        else:
            raise ValueError(
                f"`{name}` has {n} entries but the batch has {batch} examples; "
                "give one class per example or a single int"
            )
    bad = (vector < 0) | (vector >= num_classes)
    if bool(bad.any()):
        raise ValueError(
            f"`{name}` has class index {int(vector[bad][0])} out of range "
            f"[0, {num_classes}) for the model output"
        )
    return vector


def runner_up(logits: Tensor, target: Tensor) -> Tensor:
    """The highest-scoring class other than ``target``, per example."""
    masked = logits.detach().clone()
    masked.scatter_(1, target.view(-1, 1).to(masked.device), float("-inf"))
    return masked.argmax(dim=1).cpu()


def resolve_class_pair(
    logits: Tensor,
    target: ClassIndex,
    contrast_target: ClassIndex,
    allow_repeat: bool = False,
    batch: int | None = None,
    rows: slice | None = None,
) -> tuple[Tensor, Tensor]:
    """``(k, m)`` per example: ``None`` target is the top-1, ``None`` contrast the
    runner-up. Both returned on the CPU as ``long`` vectors.

    When ``logits`` covers only the chunk ``rows`` of a batch of ``batch`` examples,
    per-example targets are checked against the whole batch and then sliced.
    """
    logits = check_logits(logits)
    num_classes = logits.shape[1]
    batch = logits.shape[0] if batch is None else batch
    rows = slice(0, batch) if rows is None else rows
    if target is None:
        k = logits.detach().argmax(dim=1).cpu()
    else:
        k = as_class_vector(target, batch, num_classes, "target", allow_repeat)[rows]
    if contrast_target is None:
        m = runner_up(logits, k)
    else:
        m = as_class_vector(
            contrast_target, batch, num_classes, "contrast_target", allow_repeat
        )[rows]
    same = k == m
    if bool(same.any()):
        index = int(same.nonzero()[0, 0])
        raise ValueError(
            f"`contrast_target` equals `target` (class {int(k[index])}) for example "
            f"{index + rows.start}; the contrast class must differ from the explained "
            "class"
        )
    return k, m
