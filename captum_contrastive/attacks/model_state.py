"""Run an attack on a model without leaving traces on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

from captum_contrastive.devices import model_device

__all__ = ["model_device", "preserved_model_state"]


@contextmanager
def preserved_model_state(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode with frozen parameters; restore it all on exit.

    Foolbox needs eval mode, and its gradient computations call ``backward``,
    which would accumulate ``.grad`` on every parameter. Inside the context every
    parameter has ``requires_grad=False`` and every module is in eval mode. On
    exit, even through an exception, each module gets back its own ``training``
    flag and each parameter its ``requires_grad`` flag and the very ``.grad``
    object it had (``None`` included).

    Args:
        model: the classifier to protect.

    Returns:
        A context manager yielding ``model``.

    Examples::

        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout())
        >>> with preserved_model_state(model):
        ...     assert not model.training
        >>> model.training
        True
    """
    training = [(module, module.training) for module in model.modules()]
    parameters = list(model.parameters())
    saved = [(p, p.requires_grad, p.grad) for p in parameters]
    try:
        model.eval()
        for p in parameters:
            p.requires_grad_(False)
        yield model
    finally:
        for p, requires_grad, grad in saved:
            p.grad = grad
            p.requires_grad_(requires_grad)
        for module, flag in training:
            module.training = flag
