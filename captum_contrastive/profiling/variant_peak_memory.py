"""Peak memory of each variant: in a fresh child process per variant, or in-process.

On the CPU the robust choice is a fresh process per variant (see
:mod:`captum_contrastive.profiling.call_peak_memory`: the C allocator keeps freed
memory, so a
second call in the same process may show a smaller growth). The model, inputs and
classes are saved once to a temporary file that every child loads.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from captum_contrastive.captum_warnings import quiet_captum
from captum_contrastive.profiling.call_peak_memory import (
    measure_peak_memory,
    measure_peak_rss,
    run_child,
)
from captum_contrastive.profiling.variants import build_variants

__all__ = [
    "MEMORY_MODES",
    "measure_in_child_processes",
    "measure_in_process",
    "measure_variant_memory",
    "memory_child",
    "resolve_memory_mode",
]

#: The ``memory`` modes of the benchmark.
MEMORY_MODES = ("auto", "subprocess", "inprocess", "off")

_Progress = Callable[[str], None] | None


def resolve_memory_mode(memory: str, device: torch.device) -> str:
    r"""``memory`` checked against :data:`MEMORY_MODES`; ``"auto"`` becomes
    ``"inprocess"`` on CUDA (exact allocator statistics), else ``"subprocess"``."""
    if memory not in MEMORY_MODES:
        raise ValueError(f"unknown memory mode {memory!r}")
    if memory == "auto":
        return "inprocess" if device.type == "cuda" else "subprocess"
    return memory


def measure_variant_memory(
    memory: str,
    model: nn.Module,
    inputs: Tensor,
    target: Tensor,
    contrast_target: Tensor,
    names: Sequence[str],
    options: dict[str, Any],
    progress: _Progress = None,
) -> dict[str, dict[str, Any]]:
    r"""The peak memory of every variant of ``names``, by mode.

    Args:
        memory (str): ``"subprocess"``, ``"inprocess"`` or ``"off"`` (resolved,
            see :func:`resolve_memory_mode`).
        model (nn.Module): the model, on the benchmark's device; in subprocess
            mode it is measured on the CPU and moved back afterwards.
        inputs, target, contrast_target (Tensor): as for
            :func:`~captum_contrastive.profiling.variants.build_variants`.
        names (Sequence[str]): the variants.
        options (dict): the keyword arguments of ``build_variants``.
        progress (Callable[[str], None], optional): receives one line per
            variant. Default: None

    Returns:
        *dict[str, dict]* variant -> its measurement as a dict (empty when off).
    """
    if memory == "inprocess":
        return measure_in_process(
            model, inputs, target, contrast_target, names, options, progress
        )
    if memory != "subprocess":
        return {}
    device = inputs.device
    memories = measure_in_child_processes(
        model.cpu() if device.type != "cpu" else model,
        inputs.cpu(),
        target.cpu(),
        contrast_target.cpu(),
        names,
        options,
        progress,
    )
    model.to(device)
    return memories


def measure_in_process(
    model: nn.Module,
    inputs: Tensor,
    target: Tensor,
    contrast_target: Tensor,
    names: Sequence[str],
    options: dict[str, Any],
    progress: _Progress = None,
) -> dict[str, dict[str, Any]]:
    r"""Peak memory of each variant in this process
    (:func:`~captum_contrastive.profiling.call_peak_memory.measure_peak_memory`)."""
    memories: dict[str, dict[str, Any]] = {}
    with quiet_captum():
        for name in names:
            call = build_variants(
                model, inputs, target, contrast_target, [name], **options
            )[name]
            measurement, output = measure_peak_memory(call, inputs.device)
            del output
            memories[name] = measurement.to_dict()
            if progress is not None:
                mib = measurement.peak_bytes / 2**20
                progress(f"memory {name}: {mib:.1f} MiB (in-process)")
    return memories


def measure_in_child_processes(
    model: nn.Module,
    inputs: Tensor,
    target: Tensor,
    contrast_target: Tensor,
    names: Sequence[str],
    options: dict[str, Any],
    progress: _Progress = None,
) -> dict[str, dict[str, Any]]:
    r"""Peak RSS of each variant, each in a fresh process (:func:`memory_child`,
    started by :func:`~captum_contrastive.profiling.call_peak_memory.run_child`); CPU
    tensors only."""
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="cc-speed-") as tmp:
        payload_path = Path(tmp) / "payload.pt"
        torch.save(
            {
                "model": model,
                "inputs": inputs,
                "target": target,
                "contrast_target": contrast_target,
                "options": options,
                "num_threads": torch.get_num_threads(),
            },
            payload_path,
        )
        for name in names:
            entry = f"{__name__}:{memory_child.__name__}"
            results[name] = run_child(entry, [str(payload_path), name])
            if progress is not None:
                mib = results[name]["peak_bytes"] / 2**20
                progress(f"memory {name}: {mib:.1f} MiB (fresh process)")
    return results


def memory_child(args: Sequence[str], result_path: str) -> None:
    r"""Entry point of a fresh process measuring one variant (see ``run_child``).

    Args:
        args (Sequence[str]): the payload file and the variant name.
        result_path (str): where the measurement is written as JSON.
    """
    payload_path, name = args
    payload = torch.load(payload_path, weights_only=False)
    torch.set_num_threads(payload["num_threads"])
    model, inputs = payload["model"], payload["inputs"]
    k, m = payload["target"], payload["contrast_target"]
    options = payload["options"]
    with quiet_captum():
        # Warm up on one example: loads the kernels and library state, whose
        # one-time memory is not the variant's, at 1/N of the cost.
        warm = build_variants(model, inputs[:1], k[:1], m[:1], [name], **options)
        start = time.perf_counter()
        output = warm[name]()
        warmup_s = time.perf_counter() - start
        del output, warm
        call = build_variants(model, inputs, k, m, [name], **options)[name]
        measurement, output = measure_peak_rss(call)
    del output
    result = measurement.to_dict()
    result["warmup_s"] = warmup_s
    Path(result_path).write_text(json.dumps(result))
