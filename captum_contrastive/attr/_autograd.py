"""Autograd settings for methods that run two backward passes over one graph."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["two_backward_passes"]


@contextmanager
def two_backward_passes() -> Iterator[None]:
    """Allow ``retain_graph=True`` through graphs made by ``torch.compile``.

    AOTAutograd (backends ``aot_eager`` and ``inductor``) may compile a backward
    that donates its saved buffers, which refuses a second backward pass over
    the same graph ("non-empty donated buffers ... retain_graph"). Enhanced
    GBP and the shared-forward contrastive paths take the gradients of two
    classes from one forward pass, so within this block graphs are compiled and
    run without donated buffers. The setting is restored on exit. Eager models
    are unaffected.
    """
    try:
        from torch._functorch import config as functorch_config
    except ImportError:  # pragma: no cover - torch without functorch's config
        yield
        return
    if not hasattr(functorch_config, "donated_buffer"):  # pragma: no cover
        yield
        return
    with functorch_config.patch(donated_buffer=False):
        yield
