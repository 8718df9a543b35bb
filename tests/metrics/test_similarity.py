import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from captum_contrastive.metrics import (
    avg_diff,
    binarized_similarity,
    spearman,
    top_iou,
)


def test_spearman_identical_and_reversed():
    maps = torch.rand(3, 6, 6, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(spearman(maps, maps), 1.0)
    np.testing.assert_allclose(spearman(maps, -maps), -1.0)
    ranks = torch.arange(20.0).reshape(1, 4, 5)
    np.testing.assert_allclose(spearman(ranks, ranks.flip(-1).flip(-2)), -1.0)


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, size=(5, 30)).astype(float)  # many ties
    b = rng.integers(0, 4, size=(5, 30)).astype(float)
    expected = [spearmanr(a[i], b[i]).statistic for i in range(5)]
    np.testing.assert_allclose(spearman(a, b), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(spearman(torch.tensor(a), b), expected, atol=1e-12)


def test_spearman_constant_map_is_nan():
    a = torch.zeros(2, 4, 4)
    b = torch.rand(2, 4, 4)
    b[1] = 3.0
    out = spearman(torch.stack([torch.rand(4, 4), a[1]]), b)
    assert np.isnan(out).tolist() == [False, True]
    assert np.isnan(spearman(a, b)).all()


def test_spearman_shape_mismatch():
    with pytest.raises(ValueError):
        spearman(torch.rand(2, 4, 4), torch.rand(2, 4, 5))


def test_top_iou_identical_maps_is_one_even_when_constant():
    maps = torch.rand(3, 3, 10, 10)
    np.testing.assert_array_equal(top_iou(maps, maps, q=0.1), 1.0)
    zeros = torch.zeros(3, 10, 10)
    np.testing.assert_array_equal(top_iou(zeros, zeros, q=0.1, indices=[4, 5, 6]), 1.0)


def test_top_iou_known_value():
    a = torch.arange(10.0).reshape(1, 1, 10)  # top 2: pixels 8, 9
    b = a.clone()
    b[0, 0, 8] = -1.0  # top 2: pixels 9, 7
    np.testing.assert_allclose(top_iou(a, b, q=0.2), [1 / 3])
    np.testing.assert_allclose(top_iou(a, -a, q=0.2), [0.0])


def test_top_iou_sharding():
    a, b = torch.rand(8, 2, 5, 5), torch.zeros(8, 2, 5, 5)
    indices = torch.arange(20, 28)
    full = top_iou(a, b, 0.2, seed=2, indices=indices)
    parts = np.concatenate(
        [
            top_iou(a[:4], b[:4], 0.2, 2, indices[:4]),
            top_iou(a[4:], b[4:], 0.2, 2, indices[4:]),
        ]
    )
    np.testing.assert_array_equal(parts, full)


def test_binarized_similarity():
    a = torch.tensor([[1.0, 0.0, 2.0, -1.0]])
    b = torch.tensor([[5.0, 1.0, 0.0, -3.0]])
    np.testing.assert_allclose(binarized_similarity(a, b), [0.5])
    np.testing.assert_allclose(binarized_similarity(a, 7 * a), [1.0])
    np.testing.assert_allclose(binarized_similarity(a, b, threshold=1.5), [0.5])


def test_avg_diff():
    a = torch.rand(4, 3, 5, 5) + 0.1
    np.testing.assert_allclose(avg_diff(a, 2 * a), 0.5)
    np.testing.assert_allclose(avg_diff(2 * a, a), 0.5)
    np.testing.assert_allclose(avg_diff(a, a), 0.0)
    zeros = torch.zeros(2, 3, 2, 2)
    np.testing.assert_array_equal(avg_diff(zeros, -torch.ones(2, 3, 2, 2)), 0.0)
    np.testing.assert_allclose(avg_diff(a[:2, :, :2, :2], zeros), 1.0)
    # Only the positive part counts.
    signed = torch.tensor([[1.0, -9.0]])
    np.testing.assert_allclose(avg_diff(signed, torch.tensor([[2.0, 0.0]])), [0.5])
