"""What a result was computed with: library versions, threads, device, machine."""

from __future__ import annotations

import os
import platform
import sys
import time
from typing import Any

import torch

__all__ = ["environment_info", "library_versions"]


def library_versions() -> dict[str, str]:
    """Versions of this package and of every library a result depends on."""
    import captum
    import foolbox
    import numpy
    import torchvision

    from captum_contrastive.version import __version__

    return {
        "captum_contrastive": __version__,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "captum": captum.__version__,
        "foolbox": foolbox.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }


def environment_info(device: str | torch.device = "cpu") -> dict[str, Any]:
    r"""Versions, machine, threads and device of this process, JSON-ready.

    Args:
        device (str or torch.device): the device results are computed on.
            Default: ``"cpu"``

    Returns:
        *dict* with the library versions, platform, CPU count, torch thread
        counts, the device (and its CUDA name), ``argv`` and the time.
    """
    info: dict[str, Any] = {
        **library_versions(),
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "torch_num_threads": torch.get_num_threads(),
        "torch_num_interop_threads": torch.get_num_interop_threads(),
        "device": str(device),
        "argv": list(sys.argv),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if torch.device(device).type == "cuda" and torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name(torch.device(device))
        info["cuda"] = torch.version.cuda
    return info
