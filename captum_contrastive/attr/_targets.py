"""Resolution and validation of ``target`` / ``contrast_target``.

Class indices may be Python ints, NumPy integers, lists of either, 1-D integer
tensors or 1-D integer NumPy arrays. A per-example vector must have one entry per
example. The one exception is the expansion done by Captum's wrappers: see
:func:`expansion_of`.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import CodeType, FrameType

import numpy as np
import torch
from captum._utils.typing import TargetType
from torch import Tensor

ClassIndex = int | np.integer | Sequence[int] | np.ndarray | Tensor | None


def check_logits(logits: object) -> Tensor:
    """Return ``logits`` if it is a ``(N, num_classes >= 2)`` tensor, else raise."""
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


@dataclass(frozen=True)
class Expansion:
    """An enclosing Captum call that runs the method on expanded inputs.

    Attributes:
        caller (str): ``"NoiseTunnel"`` or ``"sensitivity_max"``.
        batch (int): the number ``N`` of examples the user gave to that call; the
            method receives them repeated ``r`` times each, ``N * r`` rows.
    """

    caller: str
    batch: int


@lru_cache(maxsize=1)
def _expander_codes() -> dict[CodeType, str]:
    """Code objects of the Captum functions that repeat each input example ``r``
    times (``repeat_interleave``) and call the attribution method on the result.
    They repeat ``target`` when it is a list or a tensor of more than one element,
    and leave every other keyword argument (``contrast_target``) as it was."""
    from captum.attr import NoiseTunnel
    from captum.metrics import sensitivity_max

    return {
        inspect.unwrap(NoiseTunnel.attribute).__code__: "NoiseTunnel",
        inspect.unwrap(sensitivity_max).__code__: "sensitivity_max",
    }


def _frame_batch_size(frame: FrameType) -> int | None:
    inputs = frame.f_locals.get("inputs")
    if isinstance(inputs, tuple) and inputs:
        inputs = inputs[0]
    if isinstance(inputs, Tensor) and inputs.ndim > 0:
        return int(inputs.shape[0])
    return None


def _frame_callee(frame: FrameType, caller: str) -> object:
    """The attribution object whose ``attribute`` the expanding call runs."""
    if caller == "NoiseTunnel":
        noise_tunnel = frame.f_locals.get("self")
        return getattr(noise_tunnel, "attribution_method", None)
    return getattr(frame.f_locals.get("explanation_func"), "__self__", None)


def expansion_of(method: object) -> Expansion | None:
    """The Captum call on the stack that runs ``method`` on expanded inputs.

    :class:`captum.attr.NoiseTunnel` (over ``method``) and
    :func:`captum.metrics.sensitivity_max` (given ``method.attribute``) call
    ``method`` on their ``N`` examples repeated ``r`` times each. This finds such
    a call among the callers, and through a chain of them (``sensitivity_max`` over
    ``NoiseTunnel(method).attribute``) the outermost one, and reads ``N`` from its
    ``inputs``. A method they reach only through another wrapper
    (``ContrastiveAttribution``) is not considered expanded: the wrapper passes it
    complete per-example vectors.

    Args:
        method (object): the attribution method whose ``attribute`` is running.

    Returns:
        *Expansion* or *None*: the enclosing expanding call, or ``None``.
    """
    codes = _expander_codes()
    found: Expansion | None = None
    current = method
    frame = sys._getframe(1)
    while frame is not None:
        caller = codes.get(frame.f_code)
        if caller is not None and _frame_callee(frame, caller) is current:
            size = _frame_batch_size(frame)
            if size is None:
                break
            found = Expansion(caller, size)
            current = frame.f_locals.get("self") if caller == "NoiseTunnel" else None
        frame = frame.f_back
    return found


def _expanded_by_captum(value: object, name: str) -> bool:
    """Whether NoiseTunnel / sensitivity_max repeat ``value`` themselves (as
    :func:`captum._utils.common._expand_target` does)."""
    if name != "target":
        return False
    return isinstance(value, list) or (isinstance(value, Tensor) and value.numel() > 1)


def _repeat_factor(
    value: object, length: int, batch: int, name: str, expansion: Expansion | None
) -> int:
    """How many times each entry of a per-example vector of ``length`` entries is
    repeated to give one per row (1 when it already has ``batch``); raise when the
    length does not fit the batch."""
    if expansion is None or batch % expansion.batch != 0:
        if length == batch:
            return 1
        raise ValueError(
            f"`{name}` has {length} entries but the batch has {batch} examples; give "
            "one class per example or a single int (a per-example list is never "
            "repeated to fit the batch)"
        )
    repeats = batch // expansion.batch
    if _expanded_by_captum(value, name):
        if length == batch:
            return 1
        given = length // repeats if length % repeats == 0 else length
    else:
        if length == expansion.batch:
            return repeats
        given = length
    raise ValueError(
        f"`{name}` has {given} entries but {expansion.caller} was given "
        f"{expansion.batch} examples; give one class per example or a single int"
    )


def _index(value: object) -> int | None:
    """``value`` as a Python int if it is a (NumPy) integer and not a bool."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    return None


def _integer_tensor(value: np.ndarray, name: str) -> Tensor:
    if value.dtype.kind not in "iu":
        raise TypeError(
            f"`{name}` must be an integer array, got a NumPy array of dtype "
            f"{value.dtype}"
        )
    return torch.from_numpy(value.astype(np.int64))


def _check_vector_tensor(value: Tensor, name: str) -> None:
    if value.is_floating_point() or value.is_complex() or value.ndim > 1:
        raise TypeError(
            f"`{name}` must be an integer tensor with at most one dimension, "
            f"got dtype {value.dtype} and shape {tuple(value.shape)}"
        )
    if value.dtype == torch.bool:
        raise TypeError(f"`{name}` must be an integer tensor, got dtype torch.bool")


def _class_list(value: Sequence[object], name: str) -> list[int]:
    indices = [_index(v) for v in value]
    if any(i is None for i in indices):
        raise TypeError(
            f"`{name}` must hold ints only (multi-dimensional output targets are "
            "not supported), got "
            f"{[type(v).__name__ for v in value][:5]}"
        )
    return [int(i) for i in indices if i is not None]


def as_class_vector(
    value: int | np.integer | Sequence[int] | np.ndarray | Tensor,
    batch: int,
    num_classes: int,
    name: str,
    expansion: Expansion | None = None,
) -> Tensor:
    """One class index per example, as a ``long`` tensor of shape ``(batch,)``.

    Args:
        value: an int (NumPy integers included) for all examples, or one per
            example as a list/tuple of ints, a 1-D integer tensor or NumPy array.
        batch (int): the number of examples.
        num_classes (int): the number of model outputs; indices must be below it.
        name (str): the argument's name, for error messages.
        expansion (Expansion, optional): the enclosing NoiseTunnel or
            sensitivity_max call (:func:`expansion_of`), whose ``N`` examples make
            the ``batch = N * r`` rows. A vector it left unexpanded
            (``contrast_target``; ``target`` given as an array or a one-element
            tensor) must then have exactly ``N`` entries and is repeated per
            example (``repeat_interleave(r)``), as the inputs were; one it
            expanded must have ``batch``. Without it, or for any other length,
            a length other than ``batch`` raises ``ValueError``. Default: None

    Returns:
        *Tensor*: ``long`` class indices of shape ``(batch,)``, on the CPU.
    """
    original = value
    if isinstance(value, np.ndarray):
        value = _integer_tensor(value, name)
    scalar = _index(value)
    if scalar is not None:
        vector = torch.full((batch,), scalar, dtype=torch.long)
    elif isinstance(value, Tensor):
        _check_vector_tensor(value, name)
        vector = value.detach().long().reshape(-1).cpu()
        if value.ndim == 0:
            vector = vector.expand(batch)
    elif isinstance(value, (list, tuple)):
        vector = torch.tensor(_class_list(value, name), dtype=torch.long)
    else:
        raise TypeError(
            f"`{name}` must be an int, a list of ints, a 1-D integer tensor or "
            f"array, got {type(value).__name__}"
        )
    repeats = _repeat_factor(original, vector.numel(), batch, name, expansion)
    if repeats > 1:
        vector = vector.repeat_interleave(repeats)
    bad = (vector < 0) | (vector >= num_classes)
    if bool(bad.any()):
        raise ValueError(
            f"`{name}` has class index {int(vector[bad][0])} out of range "
            f"[0, {num_classes}) for the model output"
        )
    return vector


def _captum_index(value: object, name: str) -> int | tuple[int, ...]:
    """One output index as Captum takes it: an int or a tuple of ints."""
    scalar = _index(value)
    if scalar is not None:
        return scalar
    if isinstance(value, tuple) and value:
        indices = [_index(v) for v in value]
        if all(i is not None for i in indices):
            return tuple(int(i) for i in indices if i is not None)
    raise TypeError(
        f"`{name}` entries must be ints or tuples of ints, got {type(value).__name__}"
    )


def as_captum_target(
    target: object, batch: int, expansion: Expansion | None = None
) -> TargetType:
    """Validate a Captum-style ``target`` and convert NumPy values to Python/torch.

    Keeps Captum's forms: ``None``, an int or a tuple of ints (one output index for
    all examples), a list of ints or of tuples, or a 1-D tensor (one per example).
    A per-example list or tensor must have ``batch`` entries; unlike Captum, a
    one-element tensor is not broadcast to a larger batch. The repetition allowed
    under NoiseTunnel is that of :func:`as_class_vector`.

    Args:
        target: the ``target`` argument.
        batch (int): the number of examples.
        expansion (Expansion, optional): see :func:`as_class_vector`.

    Returns:
        *int*, *tuple*, *list* or *Tensor*: the target in a form Captum accepts,
        with one entry per example when it is per-example.
    """
    if target is None:
        return None
    original = target
    if isinstance(target, np.ndarray):
        target = _integer_tensor(target, "target")
    if isinstance(target, Tensor):
        _check_vector_tensor(target, "target")
        if target.ndim == 0:
            return int(target)
        length = target.numel()
        repeats = _repeat_factor(original, length, batch, "target", expansion)
        return target.repeat_interleave(repeats) if repeats > 1 else target
    if isinstance(target, list):
        entries = [_captum_index(v, "target") for v in target]
        repeats = _repeat_factor(target, len(entries), batch, "target", expansion)
        return [entry for entry in entries for _ in range(repeats)]
    return _captum_index(target, "target")


def runner_up(logits: Tensor, target: Tensor) -> Tensor:
    """The highest-scoring class other than ``target``, per example."""
    masked = logits.detach().clone()
    masked.scatter_(1, target.view(-1, 1).to(masked.device), float("-inf"))
    return masked.argmax(dim=1).cpu()


def resolve_class_pair(
    logits: Tensor,
    target: ClassIndex,
    contrast_target: ClassIndex,
    expansion: Expansion | None = None,
    batch: int | None = None,
    rows: slice | None = None,
) -> tuple[Tensor, Tensor]:
    """``(k, m)`` per example: ``None`` target is the top-1, ``None`` contrast the
    runner-up. Both returned on the CPU as ``long`` vectors.

    When ``logits`` covers only the chunk ``rows`` of a batch of ``batch`` examples,
    per-example targets are checked against the whole batch and then sliced.
    ``expansion`` is passed to :func:`as_class_vector`.
    """
    logits = check_logits(logits)
    num_classes = logits.shape[1]
    batch = logits.shape[0] if batch is None else batch
    rows = slice(0, batch) if rows is None else rows
    if target is None:
        k = logits.detach().argmax(dim=1).cpu()
    else:
        k = as_class_vector(target, batch, num_classes, "target", expansion)[rows]
    if contrast_target is None:
        m = runner_up(logits, k)
    else:
        m = as_class_vector(
            contrast_target, batch, num_classes, "contrast_target", expansion
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
