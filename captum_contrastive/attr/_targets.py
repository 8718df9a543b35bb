"""Resolution and validation of ``target`` / ``contrast_target``.

The rule, the same for both arguments and for every method of this package:

- **One class for all examples**: a Python int, a NumPy integer, a 0-d tensor
  or array, or a tensor or array holding a single element (Captum's meaning of
  a one-element tensor). It is broadcast to every row, whatever the batch and
  whatever Captum call runs the method; it is never checked against a length.
- **One class per example**: a list of ints, a 1-D integer tensor or NumPy
  array with one entry per example.
- Captum's ``NoiseTunnel`` and ``sensitivity_max`` run the method on their ``N``
  examples repeated ``r`` times each and repeat ``target`` lists and tensors
  themselves, but not ``contrast_target`` and not NumPy arrays. So when such a
  call encloses the method (found on the call stack by :func:`expansion_of`), a
  vector of exactly ``N`` entries is repeated per example as the inputs were.
- Every other length is refused with an error that names the argument.
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
    """Whether ``NoiseTunnel`` / ``sensitivity_max`` repeat ``value`` themselves,
    as :func:`captum._utils.common._expand_target` does: ``target`` lists and
    tensors of more than one element; never ``contrast_target``, never NumPy."""
    if name != "target":
        return False
    return isinstance(value, list) or (isinstance(value, Tensor) and value.numel() > 1)


def _fitted_to_batch(
    vector: Tensor,
    batch: int,
    name: str,
    expansion: Expansion | None,
    captum_expands: bool,
) -> Tensor:
    """A per-example ``vector`` with one entry per row of the batch.

    Outside an expanding Captum call, the vector must have ``batch`` entries.
    Under one (:func:`expansion_of`) that was given ``N`` examples and runs the
    method on ``batch = N * r`` rows, a vector Captum repeated itself
    (``captum_expands``) must have ``batch`` entries, and any other vector
    exactly ``N``, repeated here ``r`` times per example as the inputs were.
    Every other length raises ``ValueError``: a list is never repeated to fit a
    batch it does not describe.
    """
    length = vector.numel()
    if expansion is None or batch % expansion.batch:
        if length == batch:
            return vector
        raise ValueError(
            f"`{name}` has {length} entries but the batch has {batch} examples; "
            "give one class per example, or one class for all of them (an int or "
            "a one-element tensor); a per-example list is never repeated to fit "
            "the batch"
        )
    repeats = batch // expansion.batch
    expected = batch if captum_expands else expansion.batch
    if length == expected:
        return vector if captum_expands else vector.repeat_interleave(repeats)
    given = length // repeats if captum_expands and length % repeats == 0 else length
    raise ValueError(
        f"`{name}` has {given} entries but {expansion.caller} was given "
        f"{expansion.batch} examples; give one class per example, or one class "
        "for all of them (an int or a one-element tensor)"
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


def _as_tensor_form(value: object, name: str) -> object:
    """NumPy arrays as integer tensors (checked); everything else unchanged."""
    if isinstance(value, np.ndarray):
        value = _integer_tensor(value, name)
    if isinstance(value, Tensor):
        _check_vector_tensor(value, name)
    return value


def _single_class(value: object, name: str) -> int | None:
    """The one class meant for every example, or ``None`` for a per-example form.

    As in Captum, a Python or NumPy integer, a 0-d tensor and a tensor holding
    a single element are one class for all examples (NumPy arrays count as
    tensors). A one-entry tuple is a one-element output index for all
    examples; a longer tuple indexes a multi-dimensional output, which a
    ``(N, num_classes)`` classifier does not have.
    """
    scalar = _index(value)
    if scalar is not None:
        return scalar
    if isinstance(value, Tensor) and value.numel() == 1:
        return int(value.reshape(()).item())
    if isinstance(value, tuple):
        if len(value) == 1 and _index(value[0]) is not None:
            return int(value[0])
        raise TypeError(
            f"`{name}` given as a tuple is one output index for all examples, "
            f"as in Captum; {value!r} does not index a (N, num_classes) output. "
            "Give one class per example as a list or a 1-D tensor"
        )
    return None


def as_class_vector(
    value: int | np.integer | Sequence[int] | np.ndarray | Tensor,
    batch: int,
    num_classes: int,
    name: str,
    expansion: Expansion | None = None,
) -> Tensor:
    """One class index per example, as a ``long`` tensor of shape ``(batch,)``.

    Args:
        value: one class for all examples (an int, a NumPy integer, a 0-d or
            one-element tensor or array, a one-entry tuple), or one per example
            (a list of ints, a 1-D integer tensor or NumPy array).
        batch (int): the number of rows the method runs on.
        num_classes (int): the number of model outputs; indices must be below it.
        name (str): the argument's name, for error messages.
        expansion (Expansion, optional): the enclosing NoiseTunnel or
            sensitivity_max call (:func:`expansion_of`). A single class never
            depends on it. A per-example vector follows the rule of
            :func:`_fitted_to_batch`. Default: None

    Returns:
        *Tensor*: ``long`` class indices of shape ``(batch,)``, on the CPU.
    """
    captum_expands = _expanded_by_captum(value, name)
    value = _as_tensor_form(value, name)
    scalar = _single_class(value, name)
    if scalar is not None:  # one class for all rows: no length to check
        vector = torch.full((batch,), scalar, dtype=torch.long)
    else:
        vector = _per_example_vector(value, name)
        vector = _fitted_to_batch(vector, batch, name, expansion, captum_expands)
    check_class_range(vector, num_classes, name)
    return vector


def check_class_range(vector: Tensor, num_classes: int, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` if a class index of ``vector`` lies
    outside ``[0, num_classes)``."""
    bad = (vector < 0) | (vector >= num_classes)
    if bool(bad.any()):
        raise ValueError(
            f"`{name}` has class index {int(vector[bad][0])} out of range "
            f"[0, {num_classes}) for the model output"
        )


def _per_example_vector(value: object, name: str) -> Tensor:
    if isinstance(value, Tensor):
        return value.detach().long().reshape(-1).cpu()
    if isinstance(value, list):
        return torch.tensor(_class_list(value, name), dtype=torch.long)
    raise TypeError(
        f"`{name}` must be an int, a list of ints, a 1-D integer tensor or "
        f"array, got {type(value).__name__}"
    )


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

    Keeps Captum's forms and meanings: ``None``; one output index for all
    examples (an int, a tuple of ints, a 0-d or one-element tensor); one per
    example (a list of ints or of tuples, a 1-D tensor). NumPy integers and
    arrays are taken as the equal int or tensor (Captum itself refuses them).
    A per-example list or tensor must fit the batch by the rule of
    :func:`_fitted_to_batch`.

    Args:
        target: the ``target`` argument.
        batch (int): the number of rows the method runs on.
        expansion (Expansion, optional): see :func:`as_class_vector`.

    Returns:
        *int*, *tuple*, *list* or *Tensor*: the target in a form Captum accepts,
        with one entry per row when it is per-example.
    """
    if target is None:
        return None
    captum_expands = _expanded_by_captum(target, "target")
    target = _as_tensor_form(target, "target")

    def fitted(vector: Tensor) -> Tensor:
        return _fitted_to_batch(vector, batch, "target", expansion, captum_expands)

    if isinstance(target, Tensor):
        if target.numel() == 1:
            return int(target.reshape(()).item())
        return fitted(target.reshape(-1))
    if isinstance(target, list):
        entries = [_captum_index(v, "target") for v in target]
        return [entries[int(i)] for i in fitted(torch.arange(len(entries)))]
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
