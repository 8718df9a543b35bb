import numpy as np
import pytest
import torch
from scipy import ndimage

from captum_contrastive.metrics import normalize_unit_range
from captum_contrastive.metrics import structural_similarity as ssim


def _maps(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def _reference(x: np.ndarray, y: np.ndarray, radius: int = 5) -> float:
    """skimage's algorithm written out with SciPy: reflect-padded Gaussian filter
    (sigma 1.5, truncated at ``radius``), population statistics, L = 1, the mean
    over the map with the ``radius``-wide border cropped."""

    def blur(z: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(z, 1.5, truncate=radius / 1.5, mode="reflect")

    mu_x, mu_y = blur(x), blur(y)
    var_x, var_y = blur(x * x) - mu_x**2, blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    values = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )
    return float(values[radius:-radius, radius:-radius].mean())


def _normalised_pair(a: torch.Tensor, b: torch.Tensor) -> tuple:
    x = normalize_unit_range(a.double().sum(1)).numpy()
    y = normalize_unit_range(b.double().sum(1)).numpy()
    return x, y


def test_identical_maps_give_one():
    maps = _maps(3, 3, 16, 16) - 0.5
    np.testing.assert_allclose(ssim(maps, maps), 1.0, atol=1e-12)
    np.testing.assert_allclose(ssim(maps, maps, reduce="abs_sum"), 1.0, atol=1e-12)
    np.testing.assert_allclose(ssim(maps[:, 0], maps[:, 0].numpy()), 1.0, atol=1e-12)


def test_symmetric():
    a, b = _maps(4, 3, 20, 17, seed=1), _maps(4, 3, 20, 17, seed=2)
    np.testing.assert_allclose(ssim(a, b), ssim(b, a), rtol=0, atol=1e-15)
    assert (ssim(a, b) < 0.5).all()


def test_matches_the_written_out_algorithm():
    a = _maps(3, 3, 24, 20, seed=3)
    b = a + 0.4 * _maps(3, 3, 24, 20, seed=4)
    x, y = _normalised_pair(a, b)
    expected = [_reference(x[i], y[i]) for i in range(3)]
    np.testing.assert_allclose(ssim(a, b), expected, rtol=0, atol=1e-12)


def test_matches_skimage():
    metrics = pytest.importorskip("skimage.metrics")
    a = _maps(2, 3, 32, 28, seed=5)
    b = a**2 + 0.2 * _maps(2, 3, 32, 28, seed=6)
    x, y = _normalised_pair(a, b)
    expected = [
        metrics.structural_similarity(
            x[i],
            y[i],
            data_range=1.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
        for i in range(2)
    ]
    np.testing.assert_allclose(ssim(a, b), expected, rtol=0, atol=1e-10)


def test_small_maps_shrink_the_window():
    a, b = _maps(2, 8, 8, seed=7), _maps(2, 8, 8, seed=8)
    x, y = _normalised_pair(a.unsqueeze(1), b.unsqueeze(1))
    expected = [_reference(x[i], y[i], radius=3) for i in range(2)]
    np.testing.assert_allclose(ssim(a, b), expected, rtol=0, atol=1e-12)
    assert ssim(_maps(1, 2, 2), _maps(1, 2, 2, seed=1)).shape == (1,)


def test_normalised_first_so_scale_and_offset_do_not_matter():
    a = _maps(2, 3, 16, 16, seed=9)
    np.testing.assert_allclose(ssim(a, 7 * a - 3), 1.0, atol=1e-9)
    inverted = ssim(a, -a)
    assert (inverted < 0).all()
    np.testing.assert_allclose(ssim(a, -a, reduce="abs_sum"), 1.0, atol=1e-12)


def test_constant_maps_give_no_nan():
    zeros, ones = torch.zeros(2, 3, 12, 12), torch.ones(2, 3, 12, 12)
    structured = _maps(2, 3, 12, 12, seed=10)
    np.testing.assert_array_equal(ssim(zeros, zeros), 1.0)
    np.testing.assert_array_equal(ssim(zeros, 5 * ones), 1.0)
    mixed = ssim(zeros, structured)
    assert np.isfinite(mixed).all() and (np.abs(mixed) < 0.05).all()
    np.testing.assert_allclose(mixed, ssim(structured, zeros), atol=1e-15)


def test_batched_equals_one_by_one():
    a, b = _maps(5, 3, 14, 13, seed=11), _maps(5, 3, 14, 13, seed=12)
    batched = ssim(a, b)
    alone = [ssim(a[i : i + 1], b[i : i + 1])[0] for i in range(5)]
    np.testing.assert_allclose(batched, alone, rtol=0, atol=1e-14)
    assert batched.dtype == np.float64 and ssim(a[:0], b[:0]).shape == (0,)


def test_invalid_inputs():
    a = _maps(2, 3, 12, 12)
    with pytest.raises(ValueError, match="same batch"):
        ssim(a, a[:, :, :10])
    with pytest.raises(ValueError, match="NaN"):
        ssim(a, torch.full_like(a, float("nan")))
    with pytest.raises(ValueError, match="odd"):
        ssim(a, a, window_size=10)
    with pytest.raises(ValueError, match="shape"):
        ssim(a[0, 0, 0], a[0, 0, 0])
