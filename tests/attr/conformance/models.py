"""The conformance matrix's models and inputs: every ReLU an ``nn.ReLU`` module
(so Captum's hooks see them all), one module per use (DeepLift needs that), and
classes 4 and 5 never predicted, so a fixed contrast class never equals one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

NUM_CLASSES = 6
NEVER_PREDICTED = (4, 5)
SIZE = 8


def seed_cpu(seed: int = 0) -> None:
    """``torch.manual_seed`` for the CPU's generator, which every draw of the
    matrix uses: ``torch.manual_seed`` also queues a seed for each accelerator
    backend and records the call stack for it, about 1 ms a call, a tenth of a
    case."""
    torch.default_generator.manual_seed(seed)


class _Trunk(nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 4, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(6 * (SIZE // 2) ** 2, NUM_CLASSES)
        with torch.no_grad():
            self.fc.bias[list(NEVER_PREDICTED)] -= 20.0

    def head(self, h: Tensor) -> Tensor:
        return self.fc(self.pool(self.relu2(self.conv2(h))).flatten(1))


class OneInput(_Trunk):
    """``model(x)``."""

    def __init__(self) -> None:
        super().__init__(3)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.relu1(self.conv1(x)))


class TwoInputs(_Trunk):
    """``model(x, y)``: both images are attributed."""

    def __init__(self) -> None:
        super().__init__(3)
        self.conv1b = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.head(self.relu1(self.conv1(x) + self.conv1b(y)))


class ScaledByExtraArgument(_Trunk):
    """``model(x, scale)`` with a per-example ``scale`` of shape ``(N, 1)``,
    given as ``additional_forward_args`` and not attributed."""

    def __init__(self) -> None:
        super().__init__(3)

    def forward(self, x: Tensor, scale: Tensor) -> Tensor:
        return self.head(self.relu1(self.conv1(x))) * scale


@dataclass(frozen=True)
class InputForm:
    """How the inputs reach the method: ``inputs`` and the extra arguments."""

    name: str
    model_class: type[_Trunk]
    tensors: int
    extra: bool

    def model(self) -> _Trunk:
        seed_cpu(0)
        return self.model_class().eval()

    def inputs(self, batch: int) -> tuple[Tensor | tuple[Tensor, ...], Any]:
        generator = torch.Generator().manual_seed(batch)
        images = [
            torch.rand(batch, 3, SIZE, SIZE, generator=generator)
            for _ in range(self.tensors)
        ]
        inputs = images[0] if self.tensors == 1 else tuple(images)
        extra = None
        if self.extra:
            extra = (0.5 + torch.rand(batch, 1, generator=generator),)
        return inputs, extra


INPUT_FORMS = {
    form.name: form
    for form in (
        InputForm("tensor", OneInput, 1, False),
        InputForm("tuple", TwoInputs, 2, False),
        InputForm("additional_forward_args", ScaledByExtraArgument, 1, True),
    )
}


def all_hooks(model: nn.Module) -> Iterator[object]:
    """Every hook left on ``model``'s modules or registered globally."""
    from torch.nn.modules import module as module_globals

    for submodule in model.modules():
        yield from submodule._forward_hooks.values()
        yield from submodule._forward_pre_hooks.values()
        yield from submodule._backward_hooks.values()
        yield from submodule._backward_pre_hooks.values()
    yield from module_globals._global_forward_hooks.values()
    yield from module_globals._global_forward_pre_hooks.values()
    yield from module_globals._global_backward_hooks.values()
