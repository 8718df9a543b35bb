"""Formatting and validation of ``inputs`` / ``additional_forward_args``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

TensorOrTuple = Tensor | tuple[Tensor, ...]


def as_tuple(inputs: TensorOrTuple) -> tuple[Tensor, ...]:
    if isinstance(inputs, Tensor):
        return (inputs,)
    if (
        isinstance(inputs, tuple)
        and inputs
        and all(isinstance(t, Tensor) for t in inputs)
    ):
        return inputs
    raise TypeError(
        "`inputs` must be a Tensor or a non-empty tuple of Tensors, "
        f"got {type(inputs).__name__}"
    )


def restore_structure(like: TensorOrTuple, values: tuple[Tensor, ...]) -> TensorOrTuple:
    return values[0] if isinstance(like, Tensor) else tuple(values)


def extra_args_tuple(additional_forward_args: Any) -> tuple[Any, ...]:
    if additional_forward_args is None:
        return ()
    if isinstance(additional_forward_args, tuple):
        return additional_forward_args
    return (additional_forward_args,)


def validate_inputs(
    inputs: tuple[Tensor, ...], min_ndim: int = 1, name: str = "inputs"
) -> int:
    """Check shapes and finiteness; return the batch size."""
    batch = inputs[0].shape[0] if inputs[0].ndim else 0
    for i, tensor in enumerate(inputs):
        where = f"`{name}`" if len(inputs) == 1 else f"`{name}[{i}]`"
        if tensor.ndim < min_ndim:
            raise ValueError(
                f"{where} must have at least {min_ndim} dimensions (N, C, ...) because "
                "channel-wise normalization uses dim 1 as the channel axis; got shape "
                f"{tuple(tensor.shape)}"
            )
        if tensor.ndim == 0 or tensor.shape[0] != batch:
            raise ValueError(
                f"{where} has batch size {tensor.shape[0] if tensor.ndim else None}, "
                f"expected {batch} (dim 0 is the batch axis for every input)"
            )
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"{where} contains NaN or Inf values")
    if batch == 0:
        raise ValueError(f"`{name}` is an empty batch")
    return batch


def leaf_copies(inputs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """Gradient-tracking leaves that share storage with, but never alter, the inputs."""
    return tuple(t.detach().requires_grad_(True) for t in inputs)


def batch_slices(batch: int, internal_batch_size: int | None) -> Iterator[slice]:
    if internal_batch_size is None:
        yield slice(0, batch)
        return
    if not isinstance(internal_batch_size, int) or internal_batch_size < 1:
        raise ValueError(
            f"`internal_batch_size` must be a positive int, got {internal_batch_size!r}"
        )
    for start in range(0, batch, internal_batch_size):
        yield slice(start, min(start + internal_batch_size, batch))


def slice_batch(value: Any, rows: slice, batch: int) -> Any:
    """Slice per-example values (tensors / lists of length ``batch``); keep the rest."""
    if isinstance(value, Tensor) and value.ndim > 0 and value.shape[0] == batch:
        return value[rows]
    if isinstance(value, list) and len(value) == batch:
        return value[rows]
    if isinstance(value, tuple):
        return tuple(slice_batch(v, rows, batch) for v in value)
    return value
