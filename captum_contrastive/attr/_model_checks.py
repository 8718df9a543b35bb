"""Checks on the model made once per ``attribute`` call: training mode and
TorchScript (which the guided-ReLU engine cannot guide)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from captum_contrastive.guided import _module_of, check_not_torchscript

__all__ = ["TrainingModeWarning", "check_model", "model_checks_once"]


class TrainingModeWarning(UserWarning):
    """The model is in training mode while attributions are computed."""


_SEEN: ContextVar[set[tuple[int, str]] | None] = ContextVar(
    "captum_contrastive_checked_models", default=None
)


@contextmanager
def model_checks_once() -> Iterator[None]:
    """Within the outermost block, each check runs once per model: an attribution
    method that calls another one (``ContrastiveAttribution`` over
    ``GuidedBackprop``) reports a problem once, not once per inner call."""
    if _SEEN.get() is not None:
        yield
        return
    token = _SEEN.set(set())
    try:
        yield
    finally:
        _SEEN.reset(token)


def _first_time(model: object, check: str) -> bool:
    seen = _SEEN.get()
    if seen is None:
        return True
    key = (id(model), check)
    if key in seen:
        return False
    seen.add(key)
    return True


def training_module_name(model: object) -> str | None:
    """Describe the first module of ``model`` left in training mode, or ``None``.

    Args:
        model (nn.Module or callable): the model, or a bound method of one. Plain
            functions cannot be inspected and give ``None``.

    Returns:
        *str* or *None*: e.g. ``"SmallCNN"`` or ``"submodule 'head' of SmallCNN"``.
    """
    module = _module_of(model)
    if module is None:
        return None
    for name, submodule in module.named_modules():
        if submodule.training:
            kind = type(module).__name__
            return kind if not name else f"submodule {name!r} of {kind}"
    return None


def check_model(
    model: object,
    guided: bool,
    stacklevel: int = 2,
) -> None:
    """Warn if ``model`` is in training mode and, for methods that use the
    guided-ReLU engine, raise if it holds TorchScript.

    TorchScript runs its graph without ``__torch_function__``, so its ReLUs
    cannot be guided and the maps would silently be plain gradients there: a
    guided method refuses such a model before any work with
    :class:`captum_contrastive.guided.TorchScriptError`, whatever its ``strict``.

    Args:
        model (nn.Module or callable): the model or forward function.
        guided (bool): whether the caller relies on
            :func:`captum_contrastive.guided.guided_relu`.
        stacklevel (int): which frame the warnings point at, counted from the
            caller of this function as in :func:`warnings.warn`. Default: 2
    """
    if guided and _first_time(model, "torchscript"):
        check_not_torchscript(model, strict=True, stacklevel=stacklevel + 1)
    if not _first_time(model, "training"):
        return
    where = training_module_name(model)
    if where is None:
        return
    warnings.warn(
        f"{where} is in training mode: dropout is random and batch norm "
        "uses batch statistics, so the attributions differ from the model's "
        "predictions and between calls. Call model.eval() before attributing.",
        TrainingModeWarning,
        stacklevel=stacklevel + 1,
    )
