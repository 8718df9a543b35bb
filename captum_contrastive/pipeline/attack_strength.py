"""How strong each configured attack is on a model: success rates and norms."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from captum_contrastive.attacks.foolbox_attacks import FoolboxAttack
from captum_contrastive.pipeline.stages import (
    StageContext,
    attack_images,
    select_correct,
)
from captum_contrastive.presets.base import Preset

__all__ = ["attack_strength"]


def attack_strength(
    preset: Preset,
    attacks: dict[str, FoolboxAttack],
    n_images: int = 100,
    cache_root: str | Path | None = None,
    device: str = "cpu",
    shard_size: int = 50,
    progress: bool = True,
    sample_order: str = "random",
    seed: int = 0,
) -> dict[str, Any]:
    """Attack the first ``n_images`` correctly classified images with each attack.

    Args:
        preset (Preset): model and data.
        attacks (dict[str, FoolboxAttack]): attack runs by name.
        n_images (int): correctly classified images, the first in the sample
            order (:mod:`~captum_contrastive.pipeline.sample_order`).
        cache_root (str or Path, optional): stage cache; default: no reuse
            (a fresh temporary directory).
        device (str): ``"cpu"`` or ``"cuda"``.
        shard_size (int): images per Foolbox batch.
        progress (bool): progress bars.
        sample_order (str): ``"random"`` (seeded, class-balanced when the labels
            are known) or ``"index"`` (dataset index order).
        seed (int): the seed of the random order.

    Returns:
        dict with ``n_images``, ``scanned`` (dataset images looked at),
        ``sample_order`` (the order's rule in words) and per
        attack: ``success_rate``, ``median_l2`` and ``median_linf`` over successes,
        ``seconds`` and ``params``.
    """
    import tempfile

    if isinstance(n_images, bool) or not isinstance(n_images, int) or n_images < 1:
        raise ValueError(f"`n_images` must be a positive integer, got {n_images!r}")
    if (
        isinstance(shard_size, bool)
        or not isinstance(shard_size, int)
        or shard_size < 1
    ):
        raise ValueError(f"`shard_size` must be a positive integer, got {shard_size!r}")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(cache_root) if cache_root is not None else Path(scratch)
        context = StageContext.for_preset(preset, root, device, progress)
        selection = select_correct(context, n_images, order=sample_order, seed=seed)
        results: dict[str, Any] = {
            "n_images": len(selection.indices),
            "scanned": selection.scanned,
            "sample_order": selection.order,
        }
        for name, attack in attacks.items():
            start = time.perf_counter()
            batch = attack_images(context, name, attack, selection, shard_size).batch
            success = batch.success
            results[name] = {
                "success_rate": batch.success_rate,
                "median_l2": float(batch.l2[success].median())
                if success.any()
                else None,
                "median_linf": float(batch.linf[success].median())
                if success.any()
                else None,
                "seconds": time.perf_counter() - start,
                "params": batch.params,
            }
    return results
