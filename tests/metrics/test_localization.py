import numpy as np
import pytest
import torch

from captum_contrastive.metrics import mask_area_fraction, positive_mass_fraction


def test_map_inside_the_mask_scores_one():
    masks = torch.zeros(2, 6, 6, dtype=torch.bool)
    masks[:, 1:4, 2:5] = True
    maps = torch.rand(2, 3, 6, 6) * masks.unsqueeze(1)
    maps[:, :, 1, 2] += 1.0
    np.testing.assert_allclose(positive_mass_fraction(maps, masks), 1.0)


def test_known_fractions_and_negative_mass_is_ignored():
    masks = torch.tensor([[[True, False], [False, False]]])
    maps = torch.tensor([[[[1.0, 3.0], [-5.0, 0.0]]]])
    np.testing.assert_allclose(positive_mass_fraction(maps, masks), [0.25])
    np.testing.assert_allclose(positive_mass_fraction(maps, masks, "abs_sum"), [1 / 9])
    np.testing.assert_allclose(positive_mass_fraction(maps, masks.unsqueeze(1)), [0.25])


def test_no_positive_mass_is_nan():
    masks = torch.ones(2, 3, 3, dtype=torch.bool)
    maps = torch.zeros(2, 3, 3)
    maps[1] = -1.0
    assert np.isnan(positive_mass_fraction(maps, masks)).all()


def test_mask_area_fraction_and_shape_check():
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    masks[0, :2] = True
    np.testing.assert_allclose(mask_area_fraction(masks), [0.5, 0.0])
    with pytest.raises(ValueError):
        positive_mass_fraction(torch.rand(2, 3, 4, 4), torch.ones(2, 5, 5))
