"""Parity with the author's Keras reference (keras-explain, ``enhanced_guided_bp``).

The reference, per image in Keras's ``(H, W, C)`` layout, with ``g_j`` the guided
backprop gradient of class j and the contrast class the runner-up::

    mask = max(0, g_k); mask_contra = max(0, g_m)
    mask = mask / mask.sum(axis=(0, 1)) - mask_contra / mask_contra.sum(axis=(0, 1))
    mask = mask.sum(axis=2); mask /= mask.max()

It is written out below with NumPy on the maps of our own GuidedBackprop, so the
tests check the arithmetic of ``variant="keras_reference"``, not the guided rule.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients, NoiseTunnel

from captum_contrastive import (
    ContrastiveAttribution,
    EnhancedGuidedBackprop,
    GuidedBackprop,
)
from captum_contrastive.attr import ContrastVariant, sum_channels_and_scale
from tests.tiny_models import images, small_cnn

KERAS = "keras_reference"


def reference_runner_up(output: np.ndarray, target_class: int) -> int:
    """The reference's contrast class: the best class, or the second if k is it."""
    index = np.argsort(output)
    return int(index[-2] if index[-1] == target_class else index[-1])


def reference_map(grad_k: np.ndarray, grad_m: np.ndarray) -> np.ndarray:
    """The reference's arithmetic for one image; gradients in ``(C, H, W)``."""
    mask = np.maximum(0, grad_k.transpose(1, 2, 0))
    mask_contra = np.maximum(0, grad_m.transpose(1, 2, 0))
    channels = mask.shape[2]
    mask = mask / mask.sum(axis=(0, 1)).reshape((1, 1, channels))
    mask_contra = mask_contra / mask_contra.sum(axis=(0, 1)).reshape((1, 1, channels))
    mask = mask - mask_contra
    mask = np.sum(mask, axis=2)
    mask /= mask.max()
    return mask


def reference_maps(model: torch.nn.Module, x: torch.Tensor, targets: list[int]):
    """Reference maps ``(N, H, W)`` and the contrast classes it chose."""
    with torch.no_grad():
        logits = model(x).numpy()
    contrasts = [
        reference_runner_up(row, k) for row, k in zip(logits, targets, strict=True)
    ]
    guided = GuidedBackprop(model)
    grads_k = guided.attribute(x, target=targets).numpy().astype(np.float64)
    grads_m = guided.attribute(x, target=contrasts).numpy().astype(np.float64)
    maps = np.stack(
        [reference_map(g_k, g_m) for g_k, g_m in zip(grads_k, grads_m, strict=True)]
    )
    assert np.isfinite(maps).all()  # the seeded inputs avoid the reference's 0/0
    return torch.from_numpy(maps).float(), contrasts


@pytest.mark.parametrize("targets", [[0, 1, 2], [3, 3, 3]])
def test_keras_variant_matches_reference_arithmetic(targets: list[int]) -> None:
    model, x = small_cnn(), images(3)
    expected, contrasts = reference_maps(model, x, targets)

    egbp = EnhancedGuidedBackprop(model, variant=KERAS)
    wrapped = ContrastiveAttribution(GuidedBackprop(model), variant=KERAS)
    for result in (
        egbp.attribute(x, target=targets),  # runner-up chosen by us
        egbp.attribute(x, target=targets, contrast_target=contrasts),
        wrapped.attribute(x, target=targets),
    ):
        assert result.shape == (3, 1, 8, 8)
        torch.testing.assert_close(result[:, 0], expected, rtol=1e-4, atol=1e-5)
    # the reference's signature: largest value exactly 1, negative values kept
    maps = egbp.attribute(x, target=targets)
    torch.testing.assert_close(maps.amax(dim=(1, 2, 3)), torch.ones(3))
    assert (maps < 0).any()


def test_default_behaviour_is_unchanged() -> None:
    model, x = small_cnn(), images(3)
    targets, contrasts = [0, 1, 2], [3, 4, 0]
    guided = GuidedBackprop(model)
    s_k = guided.attribute(x, target=targets).clamp_min(0)
    s_m = guided.attribute(x, target=contrasts).clamp_min(0)
    paper = (
        s_k / s_k.sum(dim=(2, 3), keepdim=True)
        - s_m / s_m.sum(dim=(2, 3), keepdim=True)
    ).clamp_min(0)

    default = EnhancedGuidedBackprop(model)
    assert default.variant is ContrastVariant.PAPER
    wrapped = ContrastiveAttribution(GuidedBackprop(model))
    assert wrapped.variant is ContrastVariant.PAPER and wrapped.clip_difference
    for result in (
        default.attribute(x, target=targets, contrast_target=contrasts),
        EnhancedGuidedBackprop(model, variant="paper").attribute(
            x, target=targets, contrast_target=contrasts
        ),
        wrapped.attribute(x, target=targets, contrast_target=contrasts),
    ):
        assert result.shape == x.shape
        torch.testing.assert_close(result, paper, rtol=1e-4, atol=1e-6)


def test_clip_difference_defaults_follow_the_variant() -> None:
    model = small_cnn()
    assert not ContrastiveAttribution(
        GuidedBackprop(model), variant=KERAS
    ).clip_difference
    assert ContrastiveAttribution(
        GuidedBackprop(model), variant=KERAS, clip_difference=True
    ).clip_difference
    with pytest.raises(ValueError, match="difference_of_maps"):
        ContrastiveAttribution(
            IntegratedGradients(model), mode="map_of_difference", variant=KERAS
        )
    with pytest.raises(ValueError):
        EnhancedGuidedBackprop(model, variant="keras")


@pytest.mark.parametrize("wrapped", [False, True])
def test_noise_tunnel_composes_with_the_keras_variant(wrapped: bool) -> None:
    model, x = small_cnn(), images(2)
    target, contrast = [0, 1], [3, 4]
    if wrapped:
        method = ContrastiveAttribution(GuidedBackprop(model), variant=KERAS)
    else:
        method = EnhancedGuidedBackprop(model, variant=KERAS)
    torch.manual_seed(0)
    smooth = NoiseTunnel(method).attribute(
        x,
        nt_type="smoothgrad",
        nt_samples=3,
        stdevs=0.05,
        target=target,
        contrast_target=contrast,
    )
    assert smooth.shape == (2, 1, 8, 8) and torch.isfinite(smooth).all()
    torch.manual_seed(0)
    noisy = x.repeat_interleave(3, dim=0) + torch.normal(
        0, torch.full((6, 3, 8, 8), 0.05)
    )
    maps = EnhancedGuidedBackprop(model, variant=KERAS).attribute(
        noisy,
        target=torch.tensor(target).repeat_interleave(3),
        contrast_target=torch.tensor(contrast).repeat_interleave(3),
    )
    expected = maps.view(2, 3, 1, 8, 8).mean(1)
    torch.testing.assert_close(smooth, expected, rtol=1e-4, atol=1e-6)


def test_internal_batch_size_and_tuple_inputs() -> None:
    model, x = small_cnn(), images(4)
    egbp = EnhancedGuidedBackprop(model, variant=KERAS)
    whole = egbp.attribute(x, target=1)
    torch.testing.assert_close(
        egbp.attribute(x, target=1, internal_batch_size=3), whole
    )
    (as_tuple,) = egbp.attribute((x,), target=1)
    torch.testing.assert_close(as_tuple, whole)


def test_division_by_the_maximum_never_gives_nan() -> None:
    positive = torch.tensor([[[[2.0, -1.0], [0.5, 0.0]]]])
    torch.testing.assert_close(
        sum_channels_and_scale(positive), positive / 2.0
    )  # max > 0: divided by it
    negative = torch.tensor([[[[-0.5, -1.0], [-2.0, 0.0]]]])
    torch.testing.assert_close(
        sum_channels_and_scale(negative), negative / 2.0
    )  # max <= 0: divided by max |value|, sign kept, range [-1, 0]
    zero = torch.zeros(2, 3, 2, 2)
    assert sum_channels_and_scale(zero).eq(0).all()  # 0/0: zeros
    two_channels = torch.tensor([[[[1.0, 0.0]], [[1.0, -4.0]]]])  # (1, 2, 1, 2)
    torch.testing.assert_close(
        sum_channels_and_scale(two_channels), torch.tensor([[[[1.0, -2.0]]]])
    )
    with pytest.raises(ValueError, match="channel"):
        sum_channels_and_scale(torch.ones(2, 3))
