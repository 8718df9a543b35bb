import pytest
import torch

from captum_contrastive import contrast_maps, normalize


def test_channel_energy_normalizes_each_channel_to_unit_l1() -> None:
    maps = torch.rand(2, 3, 4, 4)
    normalized = normalize(maps, "channel_energy")
    torch.testing.assert_close(normalized.sum(dim=(2, 3)), torch.ones(2, 3))


def test_energy_and_max() -> None:
    maps = torch.rand(2, 3, 4, 4) - 0.3
    torch.testing.assert_close(
        normalize(maps, "energy").abs().sum(dim=(1, 2, 3)), torch.ones(2)
    )
    torch.testing.assert_close(
        normalize(maps, "max").abs().amax(dim=(1, 2, 3)), torch.ones(2)
    )
    assert torch.equal(normalize(maps, "none"), maps)


@pytest.mark.parametrize("normalization", ["channel_energy", "energy", "max"])
def test_zero_maps_give_zeros(normalization: str) -> None:
    out = normalize(torch.zeros(2, 3, 4, 4), normalization)
    assert torch.equal(out, torch.zeros(2, 3, 4, 4))


def test_contrast_maps_switches() -> None:
    k = torch.tensor([[[[2.0, -1.0], [0.0, 2.0]]]])
    m = torch.tensor([[[[1.0, 3.0], [0.0, 0.0]]]])
    default = contrast_maps(k, m, "channel_energy")
    expected = torch.tensor([[[[0.25, 0.0], [0.0, 0.5]]]])
    torch.testing.assert_close(default, expected)
    signed = contrast_maps(k, m, "none", positive_parts=False, clip_difference=False)
    torch.testing.assert_close(signed, k - m)


def test_unknown_normalization_and_missing_channel_axis() -> None:
    with pytest.raises(ValueError):
        normalize(torch.rand(2, 3, 4, 4), "l2")
    with pytest.raises(ValueError, match="channel axis"):
        normalize(torch.rand(2, 4), "channel_energy")
