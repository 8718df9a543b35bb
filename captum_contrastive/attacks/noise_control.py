"""The noise control of an attack: noise of the same L2 norm as each perturbation.

A map that changes as much under this noise as under the attack does not
explain the attack; the adversarial study compares the two
(:mod:`captum_contrastive.studies.adversarial`), and the pipeline computes the
noise images a shard at a time (:mod:`captum_contrastive.pipeline.requested_maps`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from captum_contrastive.attacks.batch import AdversarialBatch
from captum_contrastive.random_streams import image_generator

__all__ = ["NOISE_PURPOSE", "equal_norm_noise"]

#: The stream purpose of the noise of each image.
NOISE_PURPOSE = "noise_control"


def equal_norm_noise(
    batch: AdversarialBatch, seed: int, bounds: tuple[float, float] = (0.0, 1.0)
) -> Tensor:
    """The clean images plus Gaussian noise scaled to each perturbation's L2 norm.

    The noise of image ``i`` comes from the stream ``(seed, index_i,
    "noise_control")``; the result is clipped to ``bounds`` (which can shrink the
    norm slightly).
    """
    noisy = []
    for row, index in enumerate(batch.indices.tolist()):
        clean = batch.clean[row]
        noise = torch.randn(
            clean.shape, generator=image_generator(seed, index, NOISE_PURPOSE)
        )
        scale = batch.l2[row].cpu() / noise.norm().clamp_min(1e-12)
        noisy.append((clean.cpu() + noise * scale).clamp(*bounds))
    return torch.stack(noisy).to(batch.clean.device)
