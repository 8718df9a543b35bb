"""The matrix: methods x compositions x target forms x contrast forms x batch
sizes x input forms, generated from the registries. Every method, composition
and batch size is crossed with every target form, every contrast form (for the
contrastive methods) and every input form; the remaining axes rotate, so each
form also meets every other one somewhere."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

from tests.attr.conformance.compositions import COMPOSITIONS
from tests.attr.conformance.forms import INVALID_FORMS, VALID_FORMS
from tests.attr.conformance.models import INPUT_FORMS
from tests.attr.conformance.registry import REGISTRY

BATCHES = (1, 4)


@dataclass(frozen=True, order=True)
class Case:
    method: str
    composition: str
    target: str
    contrast: str | None
    batch: int
    inputs: str

    @property
    def id(self) -> str:
        contrast = "" if self.contrast is None else f"-contrast={self.contrast}"
        return (
            f"{self.method}-{self.composition}-target={self.target}{contrast}"
            f"-batch={self.batch}-{self.inputs}"
        )


def _rotated(options: list, index: int) -> object:
    return options[index % len(options)]


def valid_cases() -> list[Case]:
    """For each method, composition and batch size: one case per target form,
    per contrast form (contrastive methods) and per input form, the other two
    axes rotating with the case's index."""
    targets, inputs = list(VALID_FORMS), list(INPUT_FORMS)
    cases: set[Case] = set()
    grid = product(REGISTRY.values(), COMPOSITIONS, BATCHES)
    for index, (entry, composition, batch) in enumerate(grid):
        contrasts = list(VALID_FORMS) if entry.contrastive else [None]
        axes = {"target": targets, "contrast": contrasts, "inputs": inputs}
        for crossed, forms in axes.items():
            for i, form in enumerate(forms):
                rotated = {
                    axis: _rotated(options, index + i + offset)
                    for offset, (axis, options) in enumerate(axes.items())
                    if axis != crossed
                }
                rotated[crossed] = form
                cases.add(Case(entry.name, composition, batch=batch, **rotated))
    return sorted(cases)


@dataclass(frozen=True, order=True)
class InvalidCase:
    method: str
    composition: str
    argument: str
    form: str

    @property
    def id(self) -> str:
        return f"{self.method}-{self.composition}-{self.argument}={self.form}"


INVALID_COMPOSITIONS = (
    "plain",
    "NoiseTunnel(smoothgrad,nt_samples=3,batch=2)",
    "sensitivity_max",
)


def invalid_cases() -> list[InvalidCase]:
    cases = []
    for entry, composition, form in product(
        REGISTRY.values(), INVALID_COMPOSITIONS, INVALID_FORMS
    ):
        arguments = ("target", "contrast_target") if entry.contrastive else ("target",)
        for argument in arguments:
            cases.append(InvalidCase(entry.name, composition, argument, form))
    return sorted(cases)
