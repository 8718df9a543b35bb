import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from captum_contrastive.report_html.encoding import (
    MAP_LEVELS,
    image_uri,
    map_uri,
    perturbation_uri,
    shrunk,
)
from captum_contrastive.visualization import display_map


def _decoded(uri: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    return Image.open(io.BytesIO(base64.b64decode(uri[len(prefix) :])))


def test_an_image_is_stored_pixel_for_pixel() -> None:
    image = torch.rand(3, 8, 5, generator=torch.Generator().manual_seed(0))
    decoded = np.asarray(_decoded(image_uri(image)).convert("RGB"))
    expected = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    assert decoded.shape == (8, 5, 3)
    np.testing.assert_array_equal(decoded, expected)


def test_a_map_is_drawn_as_the_maps_grid_draws_it() -> None:
    attribution = torch.randn(3, 6, 6, generator=torch.Generator().manual_seed(1))
    picture = _decoded(map_uri(attribution))
    assert picture.mode == "P" and picture.size == (6, 6)
    indices = np.asarray(picture)
    levels = MAP_LEVELS - 1
    expected = (display_map(attribution, "positive") * levels).round().astype(np.uint8)
    np.testing.assert_array_equal(indices, expected)
    palette = np.asarray(picture.getpalette()).reshape(-1, 3)
    assert tuple(palette[0]) == (0, 0, 4) and tuple(palette[levels]) == (252, 255, 164)


def test_the_perturbation_is_amplified_to_the_display_range() -> None:
    clean = torch.full((3, 4, 4), 0.5)
    adversarial = clean.clone()
    adversarial[0, 0, 0] += 0.01
    adversarial[1, 2, 3] -= 0.005
    uri, gain = perturbation_uri(adversarial, clean)
    assert gain == pytest.approx(50.0)
    pixels = np.asarray(_decoded(uri).convert("RGB"))
    assert pixels[0, 0, 0] == 255 and pixels[2, 3, 1] == 64 and pixels[1, 1, 2] == 128
    assert perturbation_uri(clean, clean)[1] == 1.0


def test_large_pictures_are_shrunk_by_area_average() -> None:
    picture = (
        torch.arange(4.0).repeat_interleave(50).reshape(1, 1, 200).expand(3, 100, 200)
    )
    small = shrunk(picture, max_side=4)
    assert small.shape == (3, 2, 4)
    torch.testing.assert_close(small[0, 0], torch.arange(4.0))
    assert shrunk(picture[:, :4, :4], max_side=4).shape == (3, 4, 4)
