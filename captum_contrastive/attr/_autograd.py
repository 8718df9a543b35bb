"""Autograd settings for methods that run two backward passes over one graph."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["two_backward_passes"]


@contextmanager
def two_backward_passes() -> Iterator[None]:
    """Run ``torch.compile``d code eagerly inside the block.

    Enhanced GBP and the shared-forward contrastive paths take the gradients of
    two classes from one forward pass (``retain_graph=True``). A backward that
    AOTAutograd compiled (backends ``aot_eager``, ``inductor``) may donate its
    saved buffers: a second pass then raises ("non-empty donated buffers"),
    and telling it to go on regardless reads buffers inductor has reused,
    which gives wrong maps without an error. So the compiled model runs as its
    eager code here (``torch.compiler.set_stance("force_eager")``), which
    gives the eager result exactly; eager models are unaffected. Until
    ``torch._dynamo`` is imported (``torch.compile`` imports it) nothing can be
    compiled, so the block then does nothing and does not pay the second that
    importing it takes. On a torch without ``set_stance`` (before 2.6) nothing
    changes, and a donated buffer raises PyTorch's own error.
    """
    set_stance = getattr(torch.compiler, "set_stance", None)
    if set_stance is None or "torch._dynamo" not in sys.modules:
        yield
        return
    with set_stance("force_eager"):
        yield
