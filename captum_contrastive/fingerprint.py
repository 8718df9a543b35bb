"""What a model and a dataset *are*, as short digests for cache keys.

A cache key names content, never a name: two models with the same name but other
weights, or the same folder with other files or labels, get other keys.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "code_digest",
    "dataset_identity",
    "digest",
    "model_fingerprint",
    "source_digest",
    "tensor_digest",
]


def digest(value: Any, length: int = 16) -> str:
    """SHA-256 of ``value``'s canonical JSON (sorted keys), as hex."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _update_with_tensor(hasher: Any, tensor: Tensor) -> None:
    tensor = tensor.detach()
    hasher.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
    cpu = tensor.to("cpu").contiguous()
    if cpu.dtype == torch.bfloat16:
        cpu = cpu.view(torch.int16)
    hasher.update(cpu.numpy().tobytes())


def tensor_digest(tensors: Iterable[Tensor]) -> str:
    """SHA-256 over the dtype, shape and bytes of each tensor, in order."""
    hasher = hashlib.sha256()
    for tensor in tensors:
        _update_with_tensor(hasher, tensor)
    return hasher.hexdigest()[:32]


def source_digest(cls: type) -> str:
    """Digest of a class's source code (its qualified name when unavailable)."""
    try:
        text = inspect.getsource(cls)
    except (OSError, TypeError):
        text = f"{cls.__module__}.{cls.__qualname__}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def code_digest(*modules: Any) -> str:
    """Digest of the source files of ``modules`` (a package: all its ``.py`` files).

    Part of the keys of stages computed by this package's code, so a changed
    implementation never reuses results of the old one.
    """
    from pathlib import Path

    hasher = hashlib.sha256()
    for module in modules:
        path = Path(inspect.getfile(module))
        files = (
            sorted(path.parent.rglob("*.py")) if path.name == "__init__.py" else [path]
        )
        for file in files:
            hasher.update(file.name.encode())
            hasher.update(file.read_bytes())
    return hasher.hexdigest()[:16]


def model_fingerprint(model: nn.Module) -> dict[str, str]:
    """The architecture and the weights of ``model``, as digests.

    ``architecture`` covers the module tree (``repr``: layer types and their
    settings) and the source code of every module class in it, so a changed
    ``forward`` (``F.relu`` instead of ``nn.ReLU``) changes it. ``weights`` covers
    every parameter and buffer (``state_dict``: names, dtypes, shapes and bytes).

    Args:
        model (nn.Module): the model.

    Returns:
        dict with ``architecture`` and ``weights`` digests.

    Examples::

        >>> model_fingerprint(torch.nn.Linear(2, 2))["weights"]  # doctest: +SKIP
        '5a1c...'
    """
    classes = sorted(
        {type(m) for m in model.modules()}, key=lambda c: (c.__module__, c.__name__)
    )
    architecture = digest(
        {
            "tree": repr(model),
            "classes": {
                f"{c.__module__}.{c.__qualname__}": source_digest(c) for c in classes
            },
        }
    )
    hasher = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        hasher.update(name.encode())
        _update_with_tensor(hasher, tensor)
    return {"architecture": architecture, "weights": hasher.hexdigest()[:32]}


def dataset_identity(dataset: Any) -> dict[str, Any]:
    """What the dataset is: its own ``identity()``, or a digest of every item.

    Datasets of this package describe themselves cheaply (the shapes world by its
    generator settings and code, image folders by file names, sizes, modification
    times, labels and transform). Any other dataset is read once, item by item,
    and its images, labels and masks are hashed.

    Args:
        dataset: an ``ImageDataset``.

    Returns:
        A JSON-ready dict.
    """
    identity = getattr(dataset, "identity", None)
    if callable(identity):
        return {"type": type(dataset).__qualname__, **identity()}
    hasher = hashlib.sha256()
    for index in range(len(dataset)):
        item = dataset[index]
        _update_with_tensor(hasher, item.image)
        hasher.update(f"{item.label}:{tuple(item.labels)}".encode())
        for mask in (item.mask, item.masks):
            if mask is not None:
                _update_with_tensor(hasher, mask)
    return {
        "type": type(dataset).__qualname__,
        "size": len(dataset),
        "content": hasher.hexdigest()[:32],
    }
