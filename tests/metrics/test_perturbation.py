import numpy as np
import pytest
import torch
from torch import nn

from captum_contrastive.attacks.batch import AdversarialBatch
from captum_contrastive.metrics import (
    fill_image,
    gaussian_blur,
    perturb_top_pixels,
    pixel_ranking,
    recovery_curve,
    trapezoid_auc,
)

SIZE = 8
MEAN = 0.5


class TriggerModel(nn.Module):
    """Class 1 iff the pixels of a fixed trigger region are far above the mean.

    ``logit_1 = 10 * sum over trigger pixels and channels of (x - 0.5) - 0.5``,
    ``logit_0 = 0``. A mean-grey image is class 0.
    """

    def __init__(self) -> None:
        super().__init__()
        weight = torch.zeros(3, SIZE, SIZE)
        weight[:, 2:6, 2:6] = 10.0
        self.register_buffer("weight", weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = ((x - MEAN) * self.weight).sum(dim=(1, 2, 3)) - 0.5
        return torch.stack([torch.zeros_like(score), score], dim=1)


def make_batch(n: int = 8) -> AdversarialBatch:
    """Clean mean-grey images; each attack brightens 2 trigger pixels per image."""
    clean = torch.full((n, 3, SIZE, SIZE), MEAN)
    adversarial = clean.clone()
    for i in range(n):
        row, col = 2 + i % 4, 2 + (i // 4) % 4
        adversarial[i, :, row, col] = 1.0
        adversarial[i, :, row, 2 + (col - 1) % 4] = 1.0
    model = TriggerModel()
    labels = torch.zeros(n, dtype=torch.long)
    delta = (adversarial - clean).flatten(1)
    return AdversarialBatch(
        attack="handmade",
        clean=clean,
        adversarial=adversarial,
        labels=labels,
        clean_predictions=model(clean).argmax(1),
        adversarial_predictions=model(adversarial).argmax(1),
        success=model(adversarial).argmax(1) != labels,
        l2=delta.norm(dim=1),
        linf=delta.abs().amax(dim=1),
        indices=torch.arange(100, 100 + n),
    )


def test_constructed_attack_is_successful():
    batch = make_batch()
    assert batch.success.all()
    assert (batch.clean_predictions == 0).all()


def test_gaussian_blur_keeps_constants_and_mass():
    constant = torch.full((1, 2, 9, 9), 0.3)
    torch.testing.assert_close(gaussian_blur(constant, 1.5), constant)
    impulse = torch.zeros(1, 1, 21, 21)
    impulse[0, 0, 10, 10] = 1.0
    blurred = gaussian_blur(impulse, 2.0)
    assert blurred.sum().item() == pytest.approx(1.0)
    assert blurred[0, 0, 10, 10] < 0.1
    with pytest.raises(ValueError):
        gaussian_blur(impulse, 0.0)


def test_fill_images():
    x = torch.rand(2, 3, 4, 4)
    clean = torch.rand(2, 3, 4, 4)
    mean = fill_image(x, "mean", mean=(0.1, 0.2, 0.3))
    assert torch.equal(mean[1, :, 3, 3], torch.tensor([0.1, 0.2, 0.3]))
    assert torch.equal(fill_image(x, "zero"), torch.zeros_like(x))
    assert torch.equal(fill_image(x, "clean", clean=clean), clean)
    assert fill_image(x, "blur", blur_sigma=1.0).shape == x.shape
    with pytest.raises(ValueError, match="mean"):
        fill_image(x, "mean")
    with pytest.raises(ValueError, match="clean"):
        fill_image(x, "clean")
    with pytest.raises(ValueError):
        fill_image(x, "noise")


def test_perturb_top_pixels_replaces_all_channels_of_the_top_pixels():
    x = torch.rand(1, 3, 4, 4)
    ranking = torch.tensor([[5, 0] + [i for i in range(16) if i not in (0, 5)]])
    out = perturb_top_pixels(x, ranking, 2 / 16, fill="mean", mean=(0.0, 0.5, 1.0))
    flat_out, flat_x = out.flatten(2), x.flatten(2)
    for pixel in (0, 5):
        assert flat_out[0, :, pixel].tolist() == [0.0, 0.5, 1.0]
    untouched = [i for i in range(16) if i not in (0, 5)]
    assert torch.equal(flat_out[0, :, untouched], flat_x[0, :, untouched])
    assert torch.equal(x, x.clone())  # the input is not modified
    custom = perturb_top_pixels(x, ranking, 1 / 16, fill=torch.zeros_like(x))
    assert (custom.flatten(2)[0, :, 5] == 0).all()


@pytest.mark.parametrize("fill", ["mean", "clean"])
def test_map_on_the_perturbation_recovers_better_than_random(fill):
    batch = make_batch()
    maps = (batch.adversarial - batch.clean).abs()
    curve = recovery_curve(TriggerModel(), batch, maps, fill=fill, mean=(MEAN,) * 3)
    random = recovery_curve(
        TriggerModel(), batch, None, fill=fill, mean=(MEAN,) * 3, ranking="random"
    )
    assert curve.correct.shape == (8, 6)
    assert not curve.base_correct.any()
    # 0.5%, 1%, 2% of 64 pixels is 1 pixel: not enough; 5% and up: 3 pixels.
    assert not curve.correct[:, :3].any()
    assert curve.correct[:, 3:].all()
    assert curve.auc.mean() > random.auc.mean()
    assert curve.accuracy().tolist() == [0, 0, 0, 1, 1, 1]
    assert (curve.auc > 0.5).all()
    np.testing.assert_array_equal(curve.indices, np.arange(100, 108))


def test_zero_fill_overshoots_and_recovers_from_one_pixel():
    batch = make_batch()
    maps = (batch.adversarial - batch.clean).abs()
    curve = recovery_curve(TriggerModel(), batch, maps, fill="zero")
    random = recovery_curve(TriggerModel(), batch, None, fill="zero", ranking="random")
    assert curve.correct.all()
    assert curve.auc.mean() > random.auc.mean()
    assert curve.protocol["fill"] == "zero"


def test_recovery_curve_with_tensors_and_abs_ranking():
    batch = make_batch(4)
    signed = batch.clean - batch.adversarial  # negative on the perturbation
    plain = recovery_curve(
        TriggerModel(),
        batch.adversarial,
        signed,
        labels=batch.labels,
        indices=batch.indices,
        mean=(MEAN,) * 3,
    )
    absolute = recovery_curve(
        TriggerModel(),
        batch.adversarial,
        signed,
        labels=batch.labels,
        indices=batch.indices,
        mean=(MEAN,) * 3,
        ranking="abs",
    )
    assert absolute.auc.mean() > plain.auc.mean()
    assert absolute.protocol["ranking"] == "abs"


def test_recovery_curve_sharding_and_batching_match():
    batch = make_batch(8)
    maps = torch.zeros(8, 3, SIZE, SIZE)  # all ties: the ranking is the tie-break
    kwargs = dict(mean=(MEAN,) * 3, seed=5, fractions=(0.1, 0.3, 0.6))
    full = recovery_curve(TriggerModel(), batch, maps, batch_size=3, **kwargs)
    first = recovery_curve(
        TriggerModel(), batch.select(torch.arange(4)), maps[:4], **kwargs
    )
    second = recovery_curve(
        TriggerModel(), batch.select(torch.arange(4, 8)), maps[4:], **kwargs
    )
    np.testing.assert_array_equal(
        np.concatenate([first.correct, second.correct]), full.correct
    )
    np.testing.assert_array_equal(np.concatenate([first.auc, second.auc]), full.auc)
    assert full.records()[5]["index"] == 105
    for mode in ("random",):
        r_full = recovery_curve(TriggerModel(), batch, None, ranking=mode, **kwargs)
        r_part = recovery_curve(
            TriggerModel(),
            batch.select(torch.arange(4, 8)),
            None,
            ranking=mode,
            **kwargs,
        )
        np.testing.assert_array_equal(r_full.predictions[4:], r_part.predictions)


def test_recovery_curve_validation():
    batch = make_batch(2)
    maps = torch.rand(2, 3, SIZE, SIZE)
    with pytest.raises(ValueError):
        recovery_curve(TriggerModel(), batch, maps, fractions=(0.2, 0.1), mean=(0.5,))
    with pytest.raises(ValueError):
        recovery_curve(TriggerModel(), batch, maps, labels=batch.labels, mean=(0.5,))
    with pytest.raises(ValueError):
        recovery_curve(TriggerModel(), batch.adversarial, maps, mean=(0.5,))
    with pytest.raises(ValueError):
        recovery_curve(TriggerModel(), batch, None, mean=(0.5,))
    given = pixel_ranking(maps, indices=batch.indices)
    out = recovery_curve(TriggerModel(), batch, None, mean=(0.5,), ranking=given)
    assert out.protocol["ranking"] == "given"


def test_trapezoid_auc_includes_zero_and_is_normalized():
    base = np.array([0.0, 1.0, 0.0])
    correct = np.array([[1, 1], [1, 1], [0, 1]], dtype=bool)
    fractions = np.array([0.1, 0.2])
    np.testing.assert_allclose(
        trapezoid_auc(base, correct, fractions), [0.75, 1.0, 0.25]
    )


def test_recovery_curves_of_shards_joined_are_the_curves_of_the_whole():
    from captum_contrastive.metrics.perturbation import RecoveryCurve
    from captum_contrastive.studies.recovery import recovery_curves

    batch = make_batch(8)
    maps = {
        "m": torch.rand(8, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    }
    kwargs = dict(fractions=(0.1, 0.3), mean=(MEAN,) * 3, signed={"m"}, seed=2)
    whole = recovery_curves(TriggerModel(), batch, maps, **kwargs)
    parts = [
        recovery_curves(
            TriggerModel(), batch.select(rows), {"m": maps["m"][rows]}, **kwargs
        )
        for rows in (torch.arange(0, 3), torch.arange(3, 8))
    ]
    assert list(whole) == ["m", "m |abs|", "random", "oracle |x_adv - x|"]
    for name, curve in whole.items():
        joined = RecoveryCurve.concatenate([part[name] for part in parts])
        stored = RecoveryCurve.from_tensors(joined.to_tensors())
        for field in ("indices", "correct", "predictions", "base_correct", "auc"):
            np.testing.assert_array_equal(getattr(stored, field), getattr(curve, field))
        assert stored.protocol == curve.protocol
    with pytest.raises(ValueError, match="empty"):
        RecoveryCurve.concatenate([])
