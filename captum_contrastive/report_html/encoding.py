"""Images, maps and perturbations as small PNG ``data:`` URIs for the page.

Every picture of ``report.html`` is embedded in the file, so the page opens
from ``file://`` with nothing else. Images are drawn as they are (pixel space,
``[0, 1]``); a map is drawn as the report's maps grid draws it
(:func:`~captum_contrastive.visualization.display_map`, positive part, divided
by its largest value, ``inferno``), as an indexed-colour PNG whose palette is
the colour map; a perturbation is amplified to fill the display range. Images
larger than :data:`MAX_SIDE` pixels are shrunk (area average) for the page.
"""

from __future__ import annotations

import base64
import functools
import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from captum_contrastive.visualization import display_map

__all__ = [
    "MAX_SIDE",
    "image_uri",
    "map_uri",
    "perturbation_uri",
    "png_uri",
    "shrunk",
]

#: The longest side, in pixels, of a picture on the page; larger ones are shrunk.
MAX_SIDE = 96
#: The colour map of the maps, as in the report's maps grid.
COLOUR_MAP = "inferno"
#: Colours of a map's palette: 64 steps of the colour map (a 256-colour
#: palette alone is 768 bytes, more than a 32 x 32 map's pixels compress to).
MAP_LEVELS = 64


def png_uri(pixels: np.ndarray, palette: np.ndarray | None = None) -> str:
    """A ``data:image/png;base64,...`` URI of ``pixels``.

    Args:
        pixels (np.ndarray): ``(H, W, 3)`` RGB or, with ``palette``, ``(H, W)``
            palette indices; ``uint8``.
        palette (np.ndarray, optional): ``(K, 3)`` ``uint8`` colours (K <= 256)
            of an indexed-colour PNG.

    Returns:
        The URI, for an ``<img src>``.

    Examples::

        >>> png_uri(np.zeros((2, 2, 3), np.uint8))[:22]
        'data:image/png;base64,'
    """
    if palette is None:
        picture = Image.fromarray(np.ascontiguousarray(pixels), "RGB")
    else:
        picture = Image.fromarray(np.ascontiguousarray(pixels), "P")
        picture.putpalette(palette.astype(np.uint8).flatten().tolist())
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def shrunk(picture: Tensor, max_side: int = MAX_SIDE) -> Tensor:
    """``(C, H, W)`` ``picture`` area-averaged so its longest side is at most
    ``max_side`` (unchanged when it already is)."""
    height, width = picture.shape[-2:]
    longest = max(height, width)
    if longest <= max_side:
        return picture
    size = (max(1, height * max_side // longest), max(1, width * max_side // longest))
    return F.interpolate(picture[None].float(), size=size, mode="area")[0]


def _rgb(image: Tensor) -> np.ndarray:
    """``(C, H, W)`` in ``[0, 1]`` (1 or 3 channels) to ``(H, W, 3)`` uint8."""
    values = image.detach().float().cpu().clamp(0, 1)
    if values.shape[0] == 1:
        values = values.expand(3, -1, -1)
    return (values[:3].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def image_uri(image: Tensor, max_side: int = MAX_SIDE) -> str:
    """An image in pixel space (``(C, H, W)``, ``[0, 1]``) as a PNG URI."""
    return png_uri(_rgb(shrunk(image, max_side)))


def perturbation_uri(
    adversarial: Tensor, clean: Tensor, max_side: int = MAX_SIDE
) -> tuple[str, float]:
    """The perturbation ``adversarial - clean``, amplified so its largest
    magnitude reaches the display range around mid-grey (0.5 is no change).

    Returns:
        the PNG URI and the amplification factor (1 when nothing changed).
    """
    delta = adversarial.detach().float().cpu() - clean.detach().float().cpu()
    largest = float(delta.abs().max()) if delta.numel() else 0.0
    gain = 0.5 / largest if largest > 0 else 1.0
    return image_uri(0.5 + gain * delta, max_side), gain


@functools.cache
def _palette() -> np.ndarray:
    import matplotlib

    steps = np.linspace(0.0, 1.0, MAP_LEVELS)
    colours = matplotlib.colormaps[COLOUR_MAP](steps)[:, :3]
    return (colours * 255).round().astype(np.uint8)


def map_uri(attribution: Tensor, max_side: int = MAX_SIDE) -> str:
    """One method's map (``(C, H, W)``) as drawn in the maps grid: channels
    summed, positive part, divided by its largest value, in ``inferno``
    (:data:`MAP_LEVELS` steps)."""
    values = torch.from_numpy(display_map(attribution, "positive"))
    values = shrunk(values[None], max_side)[0].clamp(0, 1)
    indices = (values.numpy() * (MAP_LEVELS - 1)).round().astype(np.uint8)
    return png_uri(indices, _palette())
