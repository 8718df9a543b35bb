"""Where a model lives."""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
from torch import nn

__all__ = ["model_device", "reproducible_cuda"]


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


def reproducible_cuda() -> None:
    """Make CUDA computations repeat bit for bit, as the benchmark needs.

    ``summary.csv`` must be the same for one process and any number of ranks.
    On a GPU that needs deterministic kernels: cuDNN's deterministic
    convolutions without autotuning, PyTorch's deterministic implementations
    wherever it has one (``warn_only``: an operation without one warns rather
    than fails, as on a user's unusual model), and cuBLAS's fixed workspace
    (``CUBLAS_WORKSPACE_CONFIG``, set unless the user set it). TF32 is switched
    off, so a GPU computes in float32 as the CPU does and the two devices' numbers
    agree to float32 rounding.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.use_deterministic_algorithms(True, warn_only=True)
