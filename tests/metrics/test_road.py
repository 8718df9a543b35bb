import json

import numpy as np
import pytest
import torch
from torch import nn

from captum_contrastive.metrics import (
    ROAD_PURPOSE,
    RoadCurve,
    noisy_linear_imputation,
    record_road_costs,
    road_curve,
    road_curves,
    road_gap,
    road_summary,
    trapezoid_auc,
)
from captum_contrastive.random_streams import image_generator


@pytest.fixture(autouse=True)
def seeded() -> None:
    """The tests' inputs come from the global generator: make them fixed."""
    torch.manual_seed(0)


# ---------------------------------------------------------------- imputation


def test_center_pixel_is_the_weighted_mean_of_its_neighbours() -> None:
    # Channel 0: direct neighbours 1, diagonals 0 -> 4 * 1/6 = 2/3.
    # Channel 1: direct neighbours 0, diagonals 1 -> 4 * 1/12 = 1/3.
    image = torch.zeros(1, 2, 3, 3)
    image[0, 0] = torch.tensor([[0.0, 1.0, 0.0], [1.0, 9.0, 1.0], [0.0, 1.0, 0.0]])
    image[0, 1] = torch.tensor([[1.0, 0.0, 1.0], [0.0, 9.0, 0.0], [1.0, 0.0, 1.0]])
    mask = torch.zeros(1, 3, 3, dtype=torch.bool)
    mask[0, 1, 1] = True
    out = noisy_linear_imputation(image, mask, noise=0.0)
    assert out[0, 0, 1, 1].item() == pytest.approx(2 / 3, abs=1e-6)
    assert out[0, 1, 1, 1].item() == pytest.approx(1 / 3, abs=1e-6)


def test_two_coupled_pixels_solved_by_hand() -> None:
    # Image [[a, 1, 0], [1, c, 0], [0, 0, 0]], a (corner) and c (centre) removed.
    # Corner, in-image weights 1/6 + 1/6 + 1/12 = 5/12:
    #     (5/12) a = (1/6)(1 + 1) + (1/12) c        ->  5a = 4 + c
    # Centre, weights sum to 1:
    #     c = (1/6)(1 + 1 + 0 + 0) + (1/12)(a + 0 + 0 + 0) = 1/3 + a/12
    # => a (5 - 1/12) = 13/3  ->  a = 52/59,  c = 24/59.
    image = torch.tensor([[[[5.0, 1.0, 0.0], [1.0, 5.0, 0.0], [0.0, 0.0, 0.0]]]])
    mask = torch.zeros(1, 3, 3, dtype=torch.bool)
    mask[0, 0, 0] = mask[0, 1, 1] = True
    out = noisy_linear_imputation(image, mask, noise=0.0)
    expected = torch.tensor([[52 / 59, 1.0, 0.0], [1.0, 24 / 59, 0.0], [0.0, 0.0, 0.0]])
    torch.testing.assert_close(out[0, 0], expected, atol=1e-6, rtol=0)


def _reference_residual(image: np.ndarray, out: np.ndarray, mask: np.ndarray) -> float:
    """Largest |x_i - weighted mean of in-image neighbours| over removed pixels."""
    height, width = mask.shape
    worst = 0.0
    for i, j in zip(*np.nonzero(mask), strict=True):
        total = weight = 0.0
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                r, c = i + di, j + dj
                if (di, dj) == (0, 0) or not (0 <= r < height and 0 <= c < width):
                    continue
                w = 1 / 6 if di == 0 or dj == 0 else 1 / 12
                total += w * out[r, c]
                weight += w
        worst = max(worst, abs(out[i, j] - total / weight))
    return worst


def test_random_masks_satisfy_the_equations_and_keep_kept_pixels() -> None:
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(3, 3, 12, 10, generator=generator)
    mask = torch.rand(3, 12, 10, generator=generator) < 0.6
    mask[2, 3:9, 2:8] = True  # a large hole
    out = noisy_linear_imputation(images, mask, noise=0.0)
    for n in range(3):
        for ch in range(3):
            residual = _reference_residual(
                images[n, ch].double().numpy(),
                out[n, ch].double().numpy(),
                mask[n].numpy(),
            )
            assert residual < 1e-5
    kept = ~mask.unsqueeze(1).expand_as(images)
    assert torch.equal(out[kept], images[kept])


def test_kept_pixels_are_bitwise_untouched_with_noise() -> None:
    images = torch.rand(2, 3, 9, 9, dtype=torch.float64)
    mask = torch.rand(2, 9, 9) < 0.5
    out = noisy_linear_imputation(images, mask, noise=0.2, seed=1)
    assert out.dtype == torch.float64 and out.shape == images.shape
    kept = ~mask.unsqueeze(1).expand_as(images)
    assert torch.equal(out[kept], images[kept])
    assert not torch.equal(out[~kept], images[~kept])


def test_noise_comes_from_the_images_road_stream() -> None:
    images = torch.rand(2, 3, 6, 6)
    mask = torch.rand(2, 6, 6) < 0.5
    clean = noisy_linear_imputation(images, mask, noise=0.0)
    noisy = noisy_linear_imputation(images, mask, noise=0.05, seed=4, indices=[8, 3])
    for row, index in enumerate([8, 3]):
        field = torch.randn(
            (3, 6, 6), generator=image_generator(4, index, ROAD_PURPOSE)
        )
        expected = torch.where(mask[row], clean[row] + 0.05 * field, clean[row])
        torch.testing.assert_close(noisy[row], expected, atol=1e-6, rtol=0)


def test_noise_is_independent_of_batch_composition() -> None:
    images = torch.rand(4, 3, 7, 7)
    mask = torch.rand(4, 7, 7) < 0.4
    indices = [10, 11, 12, 13]
    full = noisy_linear_imputation(images, mask, seed=2, indices=indices)
    alone = noisy_linear_imputation(images[2:3], mask[2:3], seed=2, indices=[12])
    flipped = noisy_linear_imputation(
        images.flip(0), mask.flip(0), seed=2, indices=indices[::-1]
    )
    # Each system stops at its own tolerance, so batch mates change nothing.
    torch.testing.assert_close(full[2:3], alone, atol=1e-7, rtol=0)
    torch.testing.assert_close(full, flipped.flip(0), atol=1e-7, rtol=0)
    other_seed = noisy_linear_imputation(images, mask, seed=3, indices=indices)
    assert not torch.allclose(full, other_seed)


def test_everything_removed_falls_back_to_zero_and_no_mask_is_identity() -> None:
    images = torch.rand(1, 2, 5, 5)
    everything = torch.ones(1, 5, 5, dtype=torch.bool)
    out = noisy_linear_imputation(images, everything, noise=0.0)
    assert torch.equal(out, torch.zeros_like(images))
    nothing = torch.zeros(1, 5, 5, dtype=torch.bool)
    assert torch.equal(noisy_linear_imputation(images, nothing), images)


def test_max_iter_reached_warns() -> None:
    images = torch.rand(1, 1, 16, 16)
    mask = torch.zeros(1, 16, 16, dtype=torch.bool)
    mask[:, 2:14, 2:14] = True
    with pytest.warns(RuntimeWarning, match="conjugate gradient"):
        noisy_linear_imputation(images, mask, noise=0.0, max_iter=2)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"images": torch.rand(3, 4, 4)}, "images"),
        ({"images": torch.ones(1, 1, 4, 4, dtype=torch.long)}, "images"),
        ({"mask": torch.zeros(1, 4, 5, dtype=torch.bool)}, "mask"),
        ({"mask": torch.zeros(1, 4, 4)}, "mask"),
        ({"noise": -0.1}, "noise"),
        ({"tol": 0.0}, "tol"),
        ({"max_iter": 0}, "max_iter"),
        ({"indices": [1, 2]}, "indices"),
    ],
)
def test_imputation_validation_names_the_argument(kwargs: dict, name: str) -> None:
    args = {
        "images": torch.rand(1, 1, 4, 4),
        "mask": torch.zeros(1, 4, 4, dtype=torch.bool),
        **kwargs,
    }
    with pytest.raises(ValueError, match=f"`{name}`"):
        noisy_linear_imputation(**args)


# ---------------------------------------------------------------- ROAD curves

SIZE = 8


class TriggerModel(nn.Module):
    """Linear on 4 trigger pixels: class 1 iff their sum exceeds 2.5."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("weight", weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = (x * self.weight).sum(dim=(1, 2, 3)) - 2.5
        return torch.stack([torch.zeros_like(score), score], dim=1)


def toy_problem(
    n: int = 5,
) -> tuple[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Dark images with 4 bright, isolated trigger pixels; maps = model weights."""
    weight = torch.zeros(1, SIZE, SIZE)
    for row, col in [(1, 1), (1, 5), (5, 2), (6, 6)]:
        weight[0, row, col] = 1.0
    images = weight.expand(n, 1, SIZE, SIZE).clone()
    labels = torch.ones(n, dtype=torch.long)
    maps = weight.expand(n, 1, SIZE, SIZE).clone()
    return TriggerModel(weight), images, labels, maps


FRACTIONS = (0.05, 0.25, 0.5, 0.9)


def test_morf_drops_accuracy_faster_than_lerf() -> None:
    model, images, labels, maps = toy_problem()
    indices = [20, 21, 22, 23, 24]
    morf = road_curve(model, images, labels, maps, FRACTIONS, "morf", indices=indices)
    lerf = road_curve(model, images, labels, maps, FRACTIONS, "lerf", indices=indices)
    assert morf.base_correct.all() and lerf.base_correct.all()
    # 0.05 * 64 -> 3 pixels: MoRF imputes 3 of the 4 triggers from dark pixels,
    # LeRF only dark background (all 60 background pixels rank below).
    assert not morf.correct.any()
    assert lerf.correct.all()
    np.testing.assert_allclose(lerf.auc, 1.0)
    np.testing.assert_allclose(morf.auc, 0.5 * 0.05 / 0.9)
    np.testing.assert_allclose(road_gap(morf, lerf), 1.0 - 0.5 * 0.05 / 0.9)
    np.testing.assert_array_equal(
        morf.auc, trapezoid_auc(morf.base_correct, morf.correct, morf.fractions)
    )


def test_curve_is_independent_of_batching_and_sharding() -> None:
    model, images, labels, maps = toy_problem(6)
    images = images + 0.3 * torch.rand(images.shape)  # make the curves vary
    maps = maps + torch.rand(maps.shape)
    indices = np.arange(30, 36)
    kwargs = {"seed": 5, "noise": 0.2, "probabilities": True}
    whole = road_curve(
        model, images, labels, maps, FRACTIONS, indices=indices, batch_size=64, **kwargs
    )
    chunked = road_curve(
        model, images, labels, maps, FRACTIONS, indices=indices, batch_size=4, **kwargs
    )
    shard = road_curve(
        model,
        images[3:],
        labels[3:],
        maps[3:],
        FRACTIONS,
        indices=indices[3:],
        batch_size=1,
        **kwargs,
    )
    np.testing.assert_array_equal(whole.predictions, chunked.predictions)
    np.testing.assert_allclose(whole.probability, chunked.probability, atol=1e-6)
    np.testing.assert_array_equal(whole.predictions[3:], shard.predictions)
    np.testing.assert_allclose(whole.probability[3:], shard.probability, atol=1e-6)


def test_curve_result_shapes_probabilities_and_json() -> None:
    model, images, labels, maps = toy_problem(3)
    curve = road_curve(
        model, images, labels, maps, FRACTIONS, "lerf", probabilities=True
    )
    assert isinstance(curve, RoadCurve) and len(curve) == 3
    assert curve.correct.shape == curve.predictions.shape == (3, len(FRACTIONS))
    assert curve.probability.shape == (3, len(FRACTIONS))
    assert curve.base_probability.shape == curve.probability_auc.shape == (3,)
    expected = torch.softmax(model(images).double(), dim=1)[:, 1].numpy()
    np.testing.assert_allclose(curve.base_probability, expected, atol=1e-6)
    payload = json.loads(json.dumps(curve.to_json()))
    assert payload["order"] == "lerf" and len(payload["records"]) == 3
    assert payload["protocol"]["metric"] == "road"
    assert payload["protocol"]["noise"] == 0.01
    plain = road_curve(model, images, labels, maps, FRACTIONS)
    assert plain.probability is None and "probability" not in plain.records()[0]


def test_summary_has_aucs_and_gap_with_intervals() -> None:
    model, images, labels, maps = toy_problem(6)
    morf = road_curve(model, images, labels, maps, FRACTIONS, "morf")
    lerf = road_curve(model, images, labels, maps, FRACTIONS, "lerf")
    summary = road_summary(morf, lerf, n_resamples=200)
    assert summary["n"] == 6
    assert summary["lerf_auc"]["mean"] == pytest.approx(1.0)
    gap = summary["gap"]
    assert gap["mean_diff"] == pytest.approx(1.0 - 0.5 * 0.05 / 0.9)
    assert gap["ci_low"] <= gap["mean_diff"] <= gap["ci_high"]
    json.dumps(summary)
    with pytest.raises(ValueError, match="`morf`"):
        road_summary(lerf, morf)
    with pytest.raises(ValueError, match="probabilities"):
        road_summary(morf, lerf, probability=True)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"images": torch.rand(2, SIZE, SIZE)}, "images"),
        ({"labels": torch.ones(3, dtype=torch.long)}, "labels"),
        ({"maps": torch.rand(3, 1, SIZE, SIZE)}, "maps"),
        ({"maps": torch.rand(2, 1, 4, 4)}, "maps"),
        ({"order": "random"}, "order"),
        ({"fractions": (0.5, 0.2)}, "fractions"),
        ({"batch_size": 0}, "batch_size"),
        ({"noise": -1.0}, "noise"),
        ({"indices": [1]}, "indices"),
    ],
)
def test_curve_validation_names_the_argument(kwargs: dict, name: str) -> None:
    model, images, labels, maps = toy_problem(2)
    args = {
        "model": model,
        "images": images,
        "labels": labels,
        "maps": maps,
        "fractions": FRACTIONS,
        **kwargs,
    }
    with pytest.raises(ValueError, match=f"`{name}`"):
        road_curve(**args)


def test_road_curves_share_the_base_pass_and_equal_single_curves() -> None:
    model, images, labels, maps = toy_problem(5)
    images = images + 0.3 * torch.rand(images.shape)
    rankings = {"weights": maps + torch.rand(maps.shape), "noise": torch.rand(5, 8, 8)}
    kwargs = {"seed": 3, "indices": [4, 5, 6, 7, 8], "batch_size": 2}
    with record_road_costs(time_alone=True) as profile:
        curves = road_curves(model, images, labels, rankings, FRACTIONS, **kwargs)
    # 3 chunks: one base pass each, then a solver call and a pass per curve and
    # fraction; every imputed image is timed again alone.
    curve_columns = 2 * 2 * len(FRACTIONS)
    assert profile.curve_calls == 1
    assert profile.forward_calls == 3 * (1 + curve_columns)
    assert profile.forward_images == 5 * (1 + curve_columns)
    assert profile.imputation_calls == 3 * curve_columns
    assert profile.imputed_images == profile.alone_images == 5 * curve_columns
    assert 0 < profile.imputation_seconds < profile.curve_seconds
    assert profile.per_alone_imputation() > 0
    for name, maps_ in rankings.items():
        for order in ("morf", "lerf"):
            single = road_curve(
                model, images, labels, maps_, FRACTIONS, order, **kwargs
            )
            found = curves[name][order]
            np.testing.assert_array_equal(found.predictions, single.predictions)
            np.testing.assert_array_equal(found.auc, single.auc)
            assert found.protocol == single.protocol
    with record_road_costs() as plain:
        road_curve(model, images, labels, maps, FRACTIONS, **kwargs)
    assert plain.alone_images == 0 and plain.imputed_images == 5 * len(FRACTIONS)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_curves_impute_every_fraction_in_one_call_with_cpu_results() -> None:
    model, images, labels, maps = toy_problem(6)
    images = images + 0.3 * torch.rand(images.shape)
    rankings = {"weights": maps + torch.rand(maps.shape)}
    kwargs = {"seed": 5, "noise": 0.2, "probabilities": True, "batch_size": 4}
    cpu = road_curves(model, images, labels, rankings, FRACTIONS, **kwargs)
    with record_road_costs() as profile:
        gpu = road_curves(model.cuda(), images, labels, rankings, FRACTIONS, **kwargs)
    # 2 chunks x 2 orders: one solver call for all fractions of a chunk.
    assert profile.imputation_calls == 4
    assert profile.imputed_images == 6 * 2 * len(FRACTIONS)
    for order in ("morf", "lerf"):
        found, expected = gpu["weights"][order], cpu["weights"][order]
        np.testing.assert_array_equal(found.predictions, expected.predictions)
        np.testing.assert_allclose(found.probability, expected.probability, atol=1e-5)
