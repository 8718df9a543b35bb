"""Torchvision classifiers from the hub cache, a fast download, or a user checkpoint.

Nothing here unpickles arbitrary objects: every file is first read with
``torch.load(..., weights_only=True)``, which refuses anything but tensors and
plain containers, without executing it.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

__all__ = [
    "WeightsUnavailableError",
    "load_classifier",
    "load_state_dict_file",
    "resolve_weights",
    "weights_cache_path",
    "weights_file",
]

_HASH_PREFIX = re.compile(r"-([a-f0-9]+)\.")
_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict")
_KEY_PREFIXES = ("module.", "_orig_mod.")
_IMAGENET_CLASSES = 1000


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights are neither in the torch hub cache nor downloadable."""


def resolve_weights(model_name: str, weights: str | WeightsEnum) -> WeightsEnum:
    """Torchvision's weights enum member for ``model_name``.

    Args:
        model_name: a torchvision classifier name, e.g. ``"vgg16"``.
        weights: a member name (``"IMAGENET1K_V1"``, ``"DEFAULT"``), a full name
            (``"VGG16_Weights.IMAGENET1K_V1"``) or the member itself.

    Returns:
        The weights enum member.

    Examples::

        >>> resolve_weights("vgg16", "IMAGENET1K_V1").url
        'https://download.pytorch.org/models/vgg16-397923af.pth'
    """
    enum = _weights_enum(model_name)
    from torchvision.models import WeightsEnum

    if isinstance(weights, WeightsEnum):
        if not isinstance(weights, enum):
            raise ValueError(f"{weights} are not weights for {model_name!r}")
        return weights
    member = str(weights).rsplit(".", 1)[-1]
    try:
        return enum[member]
    except KeyError:
        names = ", ".join(enum.__members__)
        raise ValueError(
            f"unknown weights {weights!r} for {model_name!r}; available: {names}"
        ) from None


def weights_cache_path(weights: WeightsEnum) -> Path:
    """Where torchvision looks for ``weights``: ``torch.hub.get_dir()/checkpoints``.

    Args:
        weights: a torchvision weights enum member.

    Returns:
        The path of the cached file, whether or not it exists.

    Examples::

        >>> weights_cache_path(resolve_weights("vgg16", "IMAGENET1K_V1")).name
        'vgg16-397923af.pth'
    """
    file_name = os.path.basename(urlparse(weights.url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / file_name


def weights_file(
    weights: WeightsEnum,
    *,
    download: bool = True,
    timeout: float = 10.0,
    progress: bool = True,
) -> Path:
    """The local file of ``weights``: the hub cache first, else one download try.

    The download has a socket timeout and is not retried; it is written to a
    temporary file, checked against the hash in the file name, and only then
    moved into the cache, so a failure never leaves a partial file behind.

    Args:
        weights: a torchvision weights enum member.
        download: try to download when the file is not cached.
        timeout: socket timeout of the download, in seconds.
        progress: show a progress bar while downloading.

    Returns:
        The path of the cached file.

    Raises:
        WeightsUnavailableError: the file is not cached and could not be
            downloaded; the message gives the file name and where to put it.

    Examples::

        >>> path = weights_file(resolve_weights("vgg16", "IMAGENET1K_V1"))
    """
    path = weights_cache_path(weights)
    if path.is_file():
        return path
    if not download:
        raise WeightsUnavailableError(_unavailable(weights, path, "download=False"))
    try:
        _download(weights.url, path, timeout=timeout, progress=progress)
    except (OSError, urllib.error.URLError, ValueError) as error:
        raise WeightsUnavailableError(_unavailable(weights, path, error)) from None
    return path


def load_state_dict_file(path: str | Path) -> dict[str, Tensor]:
    """A plain state dict from ``path``, refusing anything else without running it.

    Accepts a mapping of names to tensors, or one wrapped as
    ``{"state_dict": ...}``, ``{"model": ...}`` or ``{"model_state_dict": ...}``.
    The ``module.`` prefix of ``DataParallel`` and the ``_orig_mod.`` prefix of
    ``torch.compile`` are removed.

    Args:
        path: a file written by ``torch.save(model.state_dict(), path)``.

    Returns:
        The state dict, on the CPU.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not a readable plain state dict (for example a
            pickled module or any other object).

    Examples::

        >>> torch.save(torch.nn.Linear(2, 3).state_dict(), "linear.pt")
        >>> sorted(load_state_dict_file("linear.pt"))
        ['bias', 'weight']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ValueError(
            f"checkpoint {path} is not a plain state dict and was not loaded: it "
            "contains pickled objects that weights_only loading refuses to run. "
            "Save `model.state_dict()` instead of the model or other objects. "
            f"({_first_line(error)})"
        ) from None
    except (RuntimeError, OSError, EOFError) as error:
        raise ValueError(
            f"checkpoint {path} cannot be read (corrupt or not a torch.save file): "
            f"{_first_line(error)}"
        ) from None
    return _plain_state_dict(content, path)


def load_classifier(
    model_name: str = "vgg16",
    weights: str | WeightsEnum | None = "IMAGENET1K_V1",
    weights_path: str | Path | None = None,
    *,
    num_classes: int | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    device: str | torch.device = "cpu",
    download: bool = True,
    timeout: float = 10.0,
) -> nn.Module:
    """A torchvision classifier in eval mode, with pretrained or user weights.

    With ``weights_path``, the architecture ``model_name`` is built without
    pretrained weights (``num_classes`` inferred from the checkpoint unless
    given) and the checkpoint's plain state dict is loaded strictly. Otherwise
    torchvision's ``weights`` are taken from the torch hub cache, downloaded once
    if missing, checked to be a plain state dict and loaded by torchvision's own
    builder (so builder settings such as Inception's ``transform_input`` hold).
    ``weights=None`` without ``weights_path`` gives random weights.

    Args:
        model_name: any name of ``torchvision.models.list_models()`` that is a
            classifier, e.g. ``"vgg16"``, ``"resnet50"``.
        weights: torchvision weights, e.g. ``"IMAGENET1K_V1"`` or ``"DEFAULT"``.
        weights_path: a file with a state dict for ``model_name``.
        num_classes: the number of outputs of a ``weights_path`` model.
        model_kwargs: extra arguments of the torchvision builder.
        device: where to put the model.
        download: allow one download attempt of missing torchvision weights.
        timeout: socket timeout of that download, in seconds.

    Returns:
        The model, in eval mode, on ``device``.

    Raises:
        WeightsUnavailableError: torchvision weights are not cached and cannot be
            downloaded.
        ValueError: the checkpoint is not a plain state dict, or it does not fit
            the architecture.

    Examples::

        >>> model = load_classifier("vgg16", "IMAGENET1K_V1")
        >>> mine = load_classifier("resnet18", None, weights_path="finetuned.pt")
    """
    kwargs = dict(model_kwargs or {})
    if num_classes is None:
        num_classes = kwargs.pop("num_classes", None)
    if weights_path is not None:
        state_dict = load_state_dict_file(weights_path)
        if num_classes is None:
            num_classes = _infer_num_classes(model_name, state_dict, kwargs)
        if num_classes is not None:
            kwargs["num_classes"] = num_classes
        model = _build(model_name, weights=None, **kwargs)
        _load_strict(model, state_dict, f"torchvision {model_name!r}", weights_path)
    elif weights is not None:
        member = resolve_weights(model_name, weights)
        expected = len(member.meta.get("categories") or []) or None
        if num_classes is not None and num_classes != expected:
            raise ValueError(
                f"{member} have {expected} classes, not num_classes={num_classes}"
            )
        path = weights_file(member, download=download, timeout=timeout)
        _check_plain_file(path)
        model = _build(model_name, weights=member, **kwargs)
    else:
        if num_classes is not None:
            kwargs["num_classes"] = num_classes
        model = _build(model_name, weights=None, **kwargs)
    return model.to(device).eval()


def _torchvision_models() -> Any:
    """``torchvision.models``, imported when first needed (it takes a second,
    which a run on another model need not pay)."""
    import torchvision.models

    return torchvision.models


def _weights_enum(model_name: str) -> type[WeightsEnum]:
    try:
        return _torchvision_models().get_model_weights(model_name)
    except (ValueError, KeyError):
        raise ValueError(
            f"unknown torchvision model {model_name!r}; see "
            "torchvision.models.list_models()"
        ) from None


def _build(model_name: str, **kwargs: Any) -> nn.Module:
    try:
        return _torchvision_models().get_model(model_name, **kwargs)
    except (ValueError, KeyError) as error:
        if model_name not in _torchvision_models().list_models():
            raise ValueError(
                f"unknown torchvision model {model_name!r}; see "
                "torchvision.models.list_models()"
            ) from None
        raise error


def _unavailable(weights: WeightsEnum, path: Path, reason: object) -> str:
    return (
        f"pretrained weights {weights} are not in the torch hub cache and could "
        f"not be downloaded ({reason}). Download\n  {weights.url}\non a machine "
        f"with internet access and put the file {path.name!r} at\n  {path}\n"
        "(torch.hub.get_dir()/checkpoints; set TORCH_HOME to move it), or pass "
        "weights_path= to load a state dict from a file of your choice."
    )


def _download(url: str, path: Path, *, timeout: float, progress: bool) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(
            dir=path.parent, prefix=path.name, suffix=".part"
        )
        try:
            digest = _copy(response, os.fdopen(handle, "wb"), path.name, progress)
            match = _HASH_PREFIX.search(path.name)
            if match and not digest.startswith(match.group(1)):
                raise ValueError(f"the download of {url} does not match its hash")
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)


def _copy(response: Any, out: Any, name: str, progress: bool) -> str:
    digest = hashlib.sha256()
    size = int(response.headers.get("Content-Length") or 0) or None
    bar = tqdm(total=size, unit="B", unit_scale=True, desc=name, disable=not progress)
    with out, bar:
        while chunk := response.read(1 << 20):
            out.write(chunk)
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def _check_plain_file(path: Path) -> None:
    try:
        content = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (RuntimeError, pickle.UnpicklingError, OSError, EOFError):
        load_state_dict_file(path)
    else:
        _plain_state_dict(content, path)


def _plain_state_dict(content: object, path: Path) -> dict[str, Tensor]:
    if isinstance(content, Mapping):
        for key in _WRAPPER_KEYS:
            inner = content.get(key)
            if isinstance(inner, Mapping):
                content = inner
                break
    if not isinstance(content, Mapping) or not content:
        raise ValueError(
            f"checkpoint {path} holds {type(content).__name__}, not a state dict "
            "(a non-empty mapping of parameter names to tensors)"
        )
    bad = [k for k, v in content.items() if not isinstance(v, Tensor)][:5]
    if bad or not all(isinstance(k, str) for k in content):
        raise ValueError(
            f"checkpoint {path} is not a plain state dict: entries {bad} are not "
            "tensors"
        )
    state_dict = dict(content)
    for prefix in _KEY_PREFIXES:
        if all(k.startswith(prefix) for k in state_dict):
            state_dict = {k[len(prefix) :]: v for k, v in state_dict.items()}
    return state_dict


def _infer_num_classes(
    model_name: str, state_dict: Mapping[str, Tensor], kwargs: Mapping[str, Any]
) -> int | None:
    with torch.device("meta"):
        reference = _build(model_name, weights=None, **kwargs).state_dict()
    default = _IMAGENET_CLASSES
    found = {
        int(state_dict[k].shape[0])
        for k, v in reference.items()
        if k in state_dict
        and state_dict[k].dim() > 0
        and v.dim() > 0
        and v.shape[0] == default
        and state_dict[k].shape[1:] == v.shape[1:]
        and state_dict[k].shape[0] != default
    }
    return found.pop() if len(found) == 1 else None


def _load_strict(
    model: nn.Module,
    state_dict: Mapping[str, Tensor],
    model_name: str,
    path: str | Path,
) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    shapes = [
        f"{k}: {tuple(state_dict[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and state_dict[k].shape != v.shape
    ]
    if missing or unexpected or shapes:
        details = "; ".join(
            f"{name}: {items[:5]}{' ...' if len(items) > 5 else ''}"
            for name, items in (
                ("missing keys", missing),
                ("unexpected keys", unexpected),
                ("shape mismatches (checkpoint vs model)", shapes),
            )
            if items
        )
        raise ValueError(f"checkpoint {path} does not fit {model_name}: {details}")
    model.load_state_dict(state_dict, strict=True)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
