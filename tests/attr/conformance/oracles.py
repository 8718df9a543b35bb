"""The per-example oracle of the contrastive methods: a loop over rows written
out here picks each row's class pair (given per example, or the row's top
class and runner-up), Captum's own method maps each row for its classes, and
the registered formula, written out, contrasts them. It is an Attribution, so
NoiseTunnel and sensitivity_max run it exactly as they run the method under
test (same calls, same random draws)."""

from __future__ import annotations

from typing import Any

import torch
from captum.attr import Attribution
from captum.log import log_usage
from torch import Tensor, nn

from tests.attr.conformance.registry import ConformanceMethod, upsampled


def _rows(value: Any, row: int) -> Any:
    if isinstance(value, Tensor):
        return value[row : row + 1]
    if isinstance(value, tuple):
        return tuple(_rows(v, row) for v in value)
    return value


def _class_pair(logits: Tensor, k: int | None, m: int | None) -> tuple[int, int]:
    """``k`` (default: the top class) and ``m`` (default: the best other)."""
    scores = logits[0]
    k = int(scores.argmax()) if k is None else k
    if m is None:
        others = scores.clone()
        others[k] = -float("inf")
        m = int(others.argmax())
    return k, m


class PerExampleOracle(Attribution):
    """Row ``j`` of a call on ``N * r`` rows is example ``j // r``: its classes
    are the ones given for that example, or taken from row ``j``'s own logits."""

    def __init__(
        self,
        model: nn.Module,
        entry: ConformanceMethod,
        examples: int,
        targets: list[int] | None,
        contrasts: list[int] | None,
    ) -> None:
        super().__init__(model)
        self.model = model
        self.entry = entry
        self.examples = examples
        self.targets = targets
        self.contrasts = contrasts

    @log_usage()
    def attribute(
        self, inputs: Tensor | tuple[Tensor, ...], additional_forward_args: Any = None
    ) -> Tensor | tuple[Tensor, ...]:
        tensors = inputs if isinstance(inputs, tuple) else (inputs,)
        rows = tensors[0].shape[0]
        repeats = rows // self.examples
        pairs = [
            self._class_pair_of_row(
                inputs, additional_forward_args, row, row // repeats
            )
            for row in range(rows)
        ]
        # one Captum call per class column: Captum's maps are per row, and each
        # row gets the classes the loop above chose for it
        base = self.entry.base(self.model)
        maps = []
        for column in range(2):
            attribution = base.attribute(
                inputs,
                target=[pair[column] for pair in pairs],
                additional_forward_args=additional_forward_args,
                **self.entry.kwargs,
            )
            maps.append(
                attribution if isinstance(attribution, tuple) else (attribution,)
            )
        contrasted = tuple(
            self.entry.formula(upsampled(a_k, t), upsampled(a_m, t))
            for a_k, a_m, t in zip(*maps, tensors, strict=True)
        )
        return contrasted if isinstance(inputs, tuple) else contrasted[0]

    def _class_pair_of_row(
        self, inputs: Any, extra: Any, row: int, example: int
    ) -> tuple[int, int]:
        x, extra_row = _rows(inputs, row), _rows(extra, row)
        with torch.no_grad():
            arguments = x if isinstance(x, tuple) else (x,)
            logits = self.model(*arguments, *(extra_row or ()))
        return _class_pair(
            logits,
            None if self.targets is None else self.targets[example],
            None if self.contrasts is None else self.contrasts[example],
        )
