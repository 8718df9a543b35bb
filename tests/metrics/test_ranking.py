import numpy as np
import pytest
import torch

from captum_contrastive.metrics import (
    num_selected,
    pixel_ranking,
    random_ranking,
    ranking_mask,
    spatial_map,
    top_fraction_mask,
)


def test_spatial_map_sum_and_abs_sum():
    maps = torch.tensor([[[[1.0, -2.0]], [[3.0, 1.0]]]])  # (1, 2, 1, 2)
    assert torch.equal(spatial_map(maps), torch.tensor([[[4.0, -1.0]]]))
    assert torch.equal(spatial_map(maps, "abs_sum"), torch.tensor([[[4.0, 3.0]]]))
    spatial = torch.tensor([[[1.0, -2.0]]])
    assert torch.equal(spatial_map(spatial), spatial)
    assert torch.equal(spatial_map(spatial, "abs_sum"), spatial.abs())
    with pytest.raises(ValueError):
        spatial_map(maps, "max")


@pytest.mark.parametrize(
    "fraction, pixels, expected",
    [
        (0.0, 100, 0),
        (0.1, 100, 10),
        (0.005, 1024, 5),
        (0.001, 100, 1),
        (1.0, 7, 7),
        (0.1, 1000, 100),
        (0.025, 100, 3),
    ],
)
def test_num_selected(fraction, pixels, expected):
    assert num_selected(fraction, pixels) == expected


def test_num_selected_rejects_out_of_range():
    with pytest.raises(ValueError):
        num_selected(1.5, 10)


def test_pixel_ranking_orders_by_channel_sum():
    maps = torch.zeros(1, 2, 2, 2)
    maps[0, 0] = torch.tensor([[1.0, 4.0], [3.0, 2.0]])
    ranking = pixel_ranking(maps, seed=0)
    assert ranking.tolist() == [[1, 2, 3, 0]]


def test_pixel_ranking_absolute_option():
    maps = torch.tensor([[[[-5.0, 1.0], [0.5, 0.0]]]])
    assert pixel_ranking(maps)[0, 0].item() == 1
    assert pixel_ranking(maps, absolute=True)[0, 0].item() == 0


def test_ties_are_seeded_per_image_and_independent_of_batch_order():
    maps = torch.zeros(8, 3, 6, 6)
    maps[:, :, 0, 0] = 1.0  # a unique top pixel, then a 35-way tie
    indices = torch.arange(100, 108)
    full = pixel_ranking(maps, seed=3, indices=indices)
    assert (full[:, 0] == 0).all()
    # Different images get different tie-breaks; the same image the same one.
    assert not torch.equal(full[0], full[1])
    assert torch.equal(full, pixel_ranking(maps, seed=3, indices=indices))
    # Shards and a shuffled batch give the same rows.
    shards = torch.cat(
        [
            pixel_ranking(maps[:4], 3, indices[:4]),
            pixel_ranking(maps[4:], 3, indices[4:]),
        ]
    )
    assert torch.equal(shards, full)
    perm = torch.tensor([5, 2, 7, 0, 1, 6, 3, 4])
    assert torch.equal(pixel_ranking(maps[perm], 3, indices[perm]), full[perm])
    # Another seed changes the tie-break.
    assert not torch.equal(pixel_ranking(maps, seed=4, indices=indices), full)


def test_ranking_is_a_permutation():
    ranking = pixel_ranking(torch.randn(3, 2, 5, 5), seed=0)
    assert torch.equal(ranking.sort(dim=1).values, torch.arange(25).expand(3, 25))


def test_nan_maps_are_rejected():
    maps = torch.zeros(1, 1, 2, 2)
    maps[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        pixel_ranking(maps)


def test_all_zero_map_gives_a_seeded_random_mask():
    maps = torch.zeros(4, 10, 10)
    masks = top_fraction_mask(maps, 0.1, seed=1, indices=[0, 1, 2, 3])
    assert masks.shape == (4, 10, 10)
    assert masks.sum(dim=(1, 2)).tolist() == [10, 10, 10, 10]
    assert len({tuple(m.flatten().tolist()) for m in masks}) == 4
    again = top_fraction_mask(maps[2:3], 0.1, seed=1, indices=[2])
    assert torch.equal(again[0], masks[2])


def test_top_fraction_mask_selects_the_largest_values():
    maps = torch.arange(16.0).reshape(1, 4, 4)
    mask = top_fraction_mask(maps, 0.25)
    assert mask[0].flatten().nonzero().flatten().tolist() == [12, 13, 14, 15]


def test_random_ranking_is_seeded_and_independent_of_tie_break():
    a = random_ranking([0, 1, 2], 64, seed=0)
    assert torch.equal(a, random_ranking(np.array([0, 1, 2]), 64, seed=0))
    assert torch.equal(a[1:], random_ranking([1, 2], 64, seed=0))
    assert not torch.equal(a, random_ranking([0, 1, 2], 64, seed=1))
    tie_break = pixel_ranking(torch.zeros(3, 8, 8), seed=0, indices=[0, 1, 2])
    assert not torch.equal(a, tie_break)


def test_ranking_mask_counts():
    ranking = torch.arange(16).flip(0).unsqueeze(0)
    mask = ranking_mask(ranking, 0.125, 4, 4)
    assert mask[0].flatten().nonzero().flatten().tolist() == [14, 15]
    assert ranking_mask(ranking, 0.0, 4, 4).sum() == 0
