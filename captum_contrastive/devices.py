"""Where a model lives."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

__all__ = ["model_device"]


def model_device(
    model: nn.Module | Callable, fallback: torch.device | str = "cpu"
) -> torch.device:
    """The device of the model's first parameter or buffer.

    Args:
        model: any module, or a plain callable (which has no device).
        fallback (torch.device or str): returned for a callable, or a module
            without parameters and buffers. Default: ``"cpu"``

    Returns:
        The device the model lives on.

    Examples::

        >>> model_device(torch.nn.Linear(2, 2))
        device(type='cpu')
    """
    if isinstance(model, nn.Module):
        for tensor in model.parameters():
            return tensor.device
        for tensor in model.buffers():
            return tensor.device
    return torch.device(fallback)
