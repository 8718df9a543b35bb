"""Silence the notices Captum prints on every call, and nothing else."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["CAPTUM_NOTICES", "quiet_captum"]

#: The messages of Captum's expected per-call notices (regular expressions).
CAPTUM_NOTICES = (
    r"Setting backward hooks on ReLU activations",
    r"Internal batch size cannot be less than the number of input examples",
    r"This method computes finite differences between evaluations",
    r"Input Tensor \d+ did not already require gradients",
)


@contextmanager
def quiet_captum() -> Iterator[None]:
    """Silence Captum's notices: hooks set, inputs made to require grad, batching.

    Every ``UserWarning`` raised from a ``captum`` module and the messages of
    :data:`CAPTUM_NOTICES` are ignored inside the context; other warnings (ours,
    torch's) still show.

    Examples::

        >>> with quiet_captum():
        ...     maps = GuidedBackprop(model).attribute(images, target=0)
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"captum\..*")
        for message in CAPTUM_NOTICES:
            warnings.filterwarnings("ignore", message=message)
        yield
