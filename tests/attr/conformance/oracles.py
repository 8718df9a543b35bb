"""The per-example oracle of the contrastive methods: a loop over rows written
out here, one Captum call per row and class, contrasted by the registered
formula. It is an Attribution, so NoiseTunnel and sensitivity_max can run it
exactly as they run the method under test (same calls, same random draws)."""

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
        repeats = tensors[0].shape[0] // self.examples
        per_row = [
            self._row(inputs, additional_forward_args, row, row // repeats)
            for row in range(tensors[0].shape[0])
        ]
        maps = tuple(torch.cat(parts) for parts in zip(*per_row, strict=True))
        return maps if isinstance(inputs, tuple) else maps[0]

    def _row(
        self, inputs: Any, extra: Any, row: int, example: int
    ) -> tuple[Tensor, ...]:
        x, extra_row = _rows(inputs, row), _rows(extra, row)
        with torch.no_grad():
            arguments = x if isinstance(x, tuple) else (x,)
            logits = self.model(*arguments, *(extra_row or ()))
        k, m = _class_pair(
            logits,
            None if self.targets is None else self.targets[example],
            None if self.contrasts is None else self.contrasts[example],
        )
        base = self.entry.base(self.model)
        maps = []
        for cls in (k, m):
            attribution = base.attribute(
                x, target=cls, additional_forward_args=extra_row, **self.entry.kwargs
            )
            maps.append(
                attribution if isinstance(attribution, tuple) else (attribution,)
            )
        return tuple(
            self.entry.formula(upsampled(a_k, t), upsampled(a_m, t))
            for a_k, a_m, t in zip(*maps, arguments, strict=True)
        )
