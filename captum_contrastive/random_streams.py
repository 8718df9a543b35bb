"""Per-image random streams: derived from (seed, image index), never from work order.

A sharded run (any subset of indices, in any order, on any process) draws exactly the
same numbers for an image as a single run does.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

__all__ = ["image_generator", "image_rng", "stream_seed"]


def stream_seed(seed: int, index: int, purpose: str = "") -> int:
    """A 63-bit seed for image ``index`` of a run seeded with ``seed``.

    ``purpose`` separates independent streams for the same image (e.g. ``"noise"``
    and ``"tie_break"``).
    """
    digest = hashlib.blake2b(
        f"{int(seed)}:{int(index)}:{purpose}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


def image_generator(
    seed: int, index: int, purpose: str = "", device: str | torch.device = "cpu"
) -> torch.Generator:
    """A :class:`torch.Generator` for one image and purpose."""
    generator = torch.Generator(device=device)
    generator.manual_seed(stream_seed(seed, index, purpose))
    return generator


def image_rng(seed: int, index: int, purpose: str = "") -> np.random.Generator:
    """A NumPy generator for one image and purpose."""
    return np.random.default_rng(stream_seed(seed, index, purpose))
