"""The forms of ``target`` and ``contrast_target`` that Captum's docstrings name,
and forms that are wrong; each knows the classes it means per example."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

#: per-example classes: targets among the predictable classes, contrasts among
#: the never-predicted ones, so no contrast ever equals its target
TARGETS = [1, 3, 0, 2]
CONTRASTS = [5, 4, 4, 5]
SINGLE_TARGET = 2
SINGLE_CONTRAST = 5


@dataclass(frozen=True)
class ClassForm:
    """One way of giving classes.

    Attributes:
        name: the form's id in test names.
        single: one class for all examples (else one per example).
        make: the value from the classes it means (a list of ``batch`` ints).
        as_captum: the same value in a form Captum takes (NumPy converted).
    """

    name: str
    single: bool
    make: Callable[[list[int]], object]
    as_captum: Callable[[list[int]], object]

    def value(self, classes: list[int] | None) -> object:
        return None if classes is None else self.make(classes)


VALID_FORMS = {
    form.name: form
    for form in (
        ClassForm("None", True, lambda c: None, lambda c: None),
        ClassForm("int", True, lambda c: c[0], lambda c: c[0]),
        ClassForm("numpy_int", True, lambda c: np.int64(c[0]), lambda c: c[0]),
        ClassForm(
            "tensor_0d",
            True,
            lambda c: torch.tensor(c[0]),
            lambda c: torch.tensor(c[0]),
        ),
        ClassForm(
            "tensor_one_element",
            True,
            lambda c: torch.tensor([c[0]]),
            lambda c: torch.tensor([c[0]]),
        ),
        ClassForm("list", False, list, list),
        ClassForm("tensor_1d", False, torch.tensor, torch.tensor),
        ClassForm("numpy_array", False, np.array, torch.tensor),
    )
}


def classes_meant(form: ClassForm, per_example: list[int], single: int, batch: int):
    """The classes a form means for each of ``batch`` examples (``None``: the
    method's default, the prediction or the runner-up)."""
    if form.name == "None":
        return None
    return [single] * batch if form.single else per_example[:batch]


def form_value(form: ClassForm, per_example: list[int], single: int, batch: int):
    meant = classes_meant(form, per_example, single, batch)
    return None if meant is None else form.make(meant)


def captum_value(form: ClassForm, per_example: list[int], single: int, batch: int):
    meant = classes_meant(form, per_example, single, batch)
    return None if meant is None else form.as_captum(meant)


#: wrong forms at a batch of 4: each must be refused, naming its argument
INVALID_FORMS: dict[str, Callable[[list[int]], object]] = {
    "list_of_3": lambda c: c[:3],
    "list_of_1": lambda c: c[:1],
    "tensor_of_2": lambda c: torch.tensor(c[:2]),
    "float_tensor": lambda c: torch.tensor(c, dtype=torch.float32),
    "tensor_2d": lambda c: torch.tensor(c).view(2, 2),
    "out_of_range_int": lambda c: 6,
    "string": lambda c: "cat",
}
