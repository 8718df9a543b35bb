import numpy as np
import pytest
import torch
from PIL import Image

from captum_contrastive.visualization import display_map, save_map_grid


def test_display_map_of_all_zero_map_is_zero() -> None:
    assert np.array_equal(display_map(torch.zeros(3, 4, 4)), np.zeros((4, 4)))


def test_display_map_scales_to_unit_max() -> None:
    values = torch.zeros(3, 4, 4)
    values[0, 1, 2] = 2.0
    values[1, 1, 2] = 2.0
    values[2, 0, 0] = -1.0
    shown = display_map(values)
    assert shown[1, 2] == 1.0 and shown[0, 0] == 0.0
    assert display_map(values, "all")[0, 0] == pytest.approx(-0.25)


def test_display_map_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="`sign`"):
        display_map(torch.ones(4, 4), "negative")
    with pytest.raises(ValueError, match="`attribution`"):
        display_map(torch.ones(2, 3, 4, 4))


def test_save_map_grid_writes_png_with_zero_maps(tmp_path) -> None:
    images = torch.rand(2, 3, 8, 8)
    path = save_map_grid(
        tmp_path / "grid.png",
        images,
        {"zeros": torch.zeros(2, 3, 8, 8), "random": torch.rand(2, 3, 8, 8)},
        row_labels=["a", "b"],
        cell_titles={"zeros": ["k=1", "k=2"]},
    )
    with Image.open(path) as png:
        assert png.size[0] > png.size[1] > 0
    assert not list(tmp_path.glob(".*tmp*"))
