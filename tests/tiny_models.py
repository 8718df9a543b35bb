"""Tiny seeded models shared by the tests."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


class ReferenceGuidedReLU(torch.autograd.Function):
    """The guided rule written out explicitly: the test oracle."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # noqa: ANN001
        ctx.save_for_backward(x)
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # noqa: ANN001
        (x,) = ctx.saved_tensors
        return grad * (x > 0).to(grad.dtype) * (grad > 0).to(grad.dtype)


class ReferenceDeconvReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # noqa: ANN001
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # noqa: ANN001
        return grad * (grad > 0).to(grad.dtype)


class SmallCNN(nn.Module):
    """conv-ReLU-conv-ReLU-pool-fc with distinct ReLU modules (DeepLift needs that)."""

    def __init__(self, num_classes: int = 5, channels: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 6, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(6, 8, 3, padding=1)
        self.relu2 = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 4 * 4, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        h = self.relu1(self.conv1(x))
        h = self.pool(self.relu2(self.conv2(h)))
        return self.fc(h.flatten(1))


def small_cnn(seed: int = 0, num_classes: int = 5) -> SmallCNN:
    torch.manual_seed(seed)
    return SmallCNN(num_classes).eval()


def images(n: int = 3, seed: int = 1, size: int = 8) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=generator)


class CaseModel(nn.Module):
    """A topology whose ReLUs all go through ``relu`` (a callable or a module)."""

    def __init__(self, topology: str, relu: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.topology = topology
        self.relu = relu
        self.conv_a = nn.Conv2d(3, 4, 3, padding=1)
        self.conv_b = nn.Conv2d(3, 4, 3, padding=1)
        self.conv_c = nn.Conv2d(4, 4, 3, padding=1)
        self.head = nn.Linear(4 * 8 * 8, 4)

    def forward(self, x: Tensor) -> Tensor:
        relu = self.relu
        if self.topology == "sequential":
            h = relu(self.conv_c(relu(self.conv_a(x))))
        elif self.topology == "reused_sequential":
            h = relu(self.conv_c(relu(self.conv_a(x))))
            h = relu(self.conv_c(h))
        elif self.topology == "parallel_branches":
            h = relu(self.conv_a(x)) * 0.7 + relu(self.conv_b(x)) * 1.3
            h = relu(self.conv_c(h))
        elif self.topology == "input_used_elsewhere":
            pre = self.conv_a(x)
            h = self.conv_c(relu(pre)) + 0.5 * self.conv_c(pre)
        elif self.topology == "no_grad_tensor":
            gate = relu(x.detach().mean(dim=1, keepdim=True) - 0.4)
            h = relu(self.conv_a(x)) * gate
        else:
            raise ValueError(self.topology)
        return self.head(h.flatten(1))
