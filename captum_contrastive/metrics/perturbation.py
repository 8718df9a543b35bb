"""Perturbation recovery (paper §3, Fig. 4).

Rank the spatial pixels of each adversarial image by its saliency map, replace the
top ``x`` of them (all channels) with a fill, and check whether the model's
prediction returns to the true label. A map that points at the pixels the attack
relied on should recover more labels, at a smaller ``x``, than a random ranking.

Protocol choices (all recorded in :attr:`RecoveryCurve.protocol`):

- pixels are ranked by the channel sum of the map (``ranking="map"``) or of its
  absolute value (``"abs"``, for signed methods); ties are broken by the image's
  seeded ``"tie_break"`` stream (:func:`~captum_contrastive.metrics.pixel_ranking`);
  the baseline ``"random"`` is one seeded permutation per image from the
  ``"random_ranking"`` stream;
- a fraction ``x`` replaces ``floor(x * H * W + 0.5)`` pixels, at least 1;
- fills: ``"mean"`` (the dataset mean colour in pixel space; the default),
  ``"zero"``, ``"blur"`` (the pixels of a Gaussian-blurred copy of the adversarial
  image, ``blur_sigma`` in pixels, replicate padding) and ``"clean"`` (the clean
  pixels: an oracle upper bound, not a defence);
- the per-image AUC is the trapezoid rule over ``x = 0`` (the unmodified
  adversarial image, normally wrong) and the fractions, on a linear ``x`` axis,
  divided by the largest fraction so that it lies in ``[0, 1]``. Because the
  default fractions are roughly log-spaced, the widest intervals (10% → 20%) weigh
  most; the unweighted mean over the fractions is reported as well
  (:attr:`RecoveryCurve.mean_accuracy`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from captum_contrastive.attacks.batch import AdversarialBatch
from captum_contrastive.devices import model_device
from captum_contrastive.metrics.ranking import (
    RANDOM_RANKING_PURPOSE,
    TIE_BREAK_PURPOSE,
    IndicesLike,
    as_indices,
    pixel_ranking,
    random_ranking,
    ranking_mask,
)

__all__ = [
    "DEFAULT_FRACTIONS",
    "RecoveryCurve",
    "fill_image",
    "gaussian_blur",
    "perturb_top_pixels",
    "recovery_curve",
    "trapezoid_auc",
]

Fill = Literal["mean", "zero", "blur", "clean"]
RankingMode = Literal["map", "abs", "random"]

DEFAULT_FRACTIONS: tuple[float, ...] = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2)


def gaussian_blur(images: Tensor, sigma: float) -> Tensor:
    r"""Separable Gaussian blur of a batch of images, channel by channel.

    The kernel has radius ``ceil(3 * sigma)`` and is normalized to sum to 1; the
    borders use replicate padding, so a constant image stays constant.

    Args:
        images (Tensor): ``(N, C, H, W)``.
        sigma (float): standard deviation in pixels, ``> 0``.

    Returns:
        Tensor of the same shape and dtype.

    Examples::

        >>> gaussian_blur(torch.rand(2, 3, 16, 16), sigma=2.0).shape
        torch.Size([2, 3, 16, 16])
    """
    if sigma <= 0:
        raise ValueError(f"`sigma` must be positive, got {sigma}")
    if images.ndim != 4:
        raise ValueError(f"`images` must be (N, C, H, W), got {tuple(images.shape)}")
    radius = max(1, math.ceil(3.0 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = (kernel / kernel.sum()).to(images.dtype).to(images.device)
    channels = images.shape[1]
    padded = F.pad(images, (radius, radius, radius, radius), mode="replicate")
    horizontal = kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    vertical = kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    out = F.conv2d(padded, horizontal, groups=channels)
    return F.conv2d(out, vertical, groups=channels)


def fill_image(
    adversarial: Tensor,
    fill: Fill | str = "mean",
    clean: Tensor | None = None,
    mean: Tensor | Sequence[float] | None = None,
    blur_sigma: float = 2.0,
) -> Tensor:
    r"""The image whose pixels replace the selected pixels of ``adversarial``.

    Args:
        adversarial (Tensor): ``(N, C, H, W)`` images in pixel space.
        fill (str): ``"mean"``, ``"zero"``, ``"blur"`` or ``"clean"``.
            Default: ``"mean"``
        clean (Tensor, optional): the clean images, needed by ``"clean"``.
        mean (Tensor or sequence of float, optional): the dataset mean colour in
            pixel space, one value per channel (or one scalar); needed by
            ``"mean"``.
        blur_sigma (float): the Gaussian's standard deviation in pixels for
            ``"blur"``. Default: 2.0

    Returns:
        Tensor of the shape of ``adversarial``.

    Examples::

        >>> x = torch.rand(2, 3, 8, 8)
        >>> fill_image(x, "mean", mean=(0.485, 0.456, 0.406))[0, :, 0, 0]
        tensor([0.4850, 0.4560, 0.4060])
    """
    if fill == "zero":
        return torch.zeros_like(adversarial)
    if fill == "mean":
        if mean is None:
            raise ValueError(
                "fill='mean' needs `mean`, the dataset mean colour in pixel space "
                "(e.g. (0.485, 0.456, 0.406) for ImageNet)"
            )
        colour = torch.as_tensor(mean, dtype=adversarial.dtype).to(adversarial.device)
        if colour.numel() not in (1, adversarial.shape[1]):
            raise ValueError(
                f"`mean` has {colour.numel()} values, expected 1 or one per channel "
                f"({adversarial.shape[1]})"
            )
        colour = colour.reshape(1, -1, 1, 1)
        return colour.expand_as(adversarial)
    if fill == "blur":
        return gaussian_blur(adversarial, blur_sigma)
    if fill == "clean":
        if clean is None:
            raise ValueError("fill='clean' needs the clean images (`clean`)")
        if clean.shape != adversarial.shape:
            raise ValueError(
                f"`clean` has shape {tuple(clean.shape)}, expected "
                f"{tuple(adversarial.shape)}"
            )
        return clean.to(adversarial.device, adversarial.dtype)
    raise ValueError(f"`fill` must be 'mean', 'zero', 'blur' or 'clean', got {fill!r}")


def _replace(adversarial: Tensor, replacement: Tensor, mask: Tensor) -> Tensor:
    return torch.where(
        mask.unsqueeze(1).to(adversarial.device), replacement, adversarial
    )


def perturb_top_pixels(
    adversarial: Tensor,
    ranking: Tensor,
    fraction: float,
    fill: Fill | str | Tensor = "mean",
    clean: Tensor | None = None,
    mean: Tensor | Sequence[float] | None = None,
    blur_sigma: float = 2.0,
) -> Tensor:
    r"""Replace the top ``fraction`` of the ranked spatial pixels, all channels.

    Args:
        adversarial (Tensor): ``(N, C, H, W)`` images in pixel space.
        ranking (Tensor): ``(N, H * W)`` flat pixel indices, most important first
            (:func:`~captum_contrastive.metrics.pixel_ranking` or
            :func:`~captum_contrastive.metrics.random_ranking`).
        fraction (float): in ``[0, 1]``; ``floor(fraction * H * W + 0.5)`` pixels
            (at least 1 when ``fraction > 0``) are replaced.
        fill (str or Tensor): ``"mean"``, ``"zero"``, ``"blur"``, ``"clean"``
            (see :func:`fill_image`), or a replacement image broadcastable to
            ``adversarial``. Default: ``"mean"``
        clean (Tensor, optional): clean images, for ``fill="clean"``.
        mean (Tensor or sequence of float, optional): the dataset mean colour in
            pixel space, for ``fill="mean"``.
        blur_sigma (float): for ``fill="blur"``. Default: 2.0

    Returns:
        A new tensor of the shape of ``adversarial``.

    Examples::

        >>> x = torch.rand(1, 3, 4, 4)
        >>> ranking = torch.arange(16).unsqueeze(0)
        >>> out = perturb_top_pixels(x, ranking, 0.25, fill="zero")
        >>> bool((out[0, :, 0] == 0).all())
        True
    """
    if isinstance(fill, Tensor):
        replacement = fill.to(adversarial.device, adversarial.dtype)
    else:
        replacement = fill_image(adversarial, fill, clean, mean, blur_sigma)
    height, width = adversarial.shape[-2:]
    mask = ranking_mask(ranking, fraction, height, width)
    return _replace(adversarial, replacement, mask)


class PerImageCurve:
    """What a curve of per-image correctness over fractions has: its length
    (images) and its accuracy curve. Needs ``indices`` and ``correct``."""

    indices: np.ndarray
    correct: np.ndarray

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def accuracy(self) -> np.ndarray:
        """The accuracy curve ``(F,)``: the mean of :attr:`correct` over images."""
        return self.correct.mean(axis=0)


@dataclass(frozen=True)
class RecoveryCurve(PerImageCurve):
    r"""Per-image results of :func:`recovery_curve`.

    Attributes:
        indices: ``(N,)`` dataset indices.
        fractions: ``(F,)`` the fractions of pixels replaced, increasing.
        correct: ``(N, F)`` bool: the prediction on the perturbed image equals the
            true label.
        predictions: ``(N, F)`` the predictions on the perturbed images.
        base_correct: ``(N,)`` bool: the prediction on the unmodified adversarial
            image equals the true label (the curve's point ``x = 0``).
        auc: ``(N,)`` trapezoid area under ``[base_correct, correct]`` over
            ``[0, *fractions]``, divided by ``fractions[-1]``: in ``[0, 1]``.
        mean_accuracy: ``(N,)`` the unweighted mean of ``correct`` over the
            fractions.
        protocol: the choices made, for the benchmark's JSON.
    """

    indices: np.ndarray
    fractions: np.ndarray
    correct: np.ndarray
    predictions: np.ndarray
    base_correct: np.ndarray
    auc: np.ndarray
    mean_accuracy: np.ndarray
    protocol: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def concatenate(cls, parts: Sequence[RecoveryCurve]) -> RecoveryCurve:
        """The curves of consecutive parts of the images, as one (same fractions;
        the protocol of the first part)."""
        if not parts:
            raise ValueError("`parts` is empty")

        def joined(name: str) -> np.ndarray:
            return np.concatenate([getattr(part, name) for part in parts])

        return cls(
            indices=joined("indices"),
            fractions=parts[0].fractions,
            correct=joined("correct"),
            predictions=joined("predictions"),
            base_correct=joined("base_correct"),
            auc=joined("auc"),
            mean_accuracy=joined("mean_accuracy"),
            protocol=parts[0].protocol,
        )

    def to_tensors(self) -> dict[str, Any]:
        """The curve as tensors and plain values (stored with ``weights_only``)."""
        arrays = ("indices", "fractions", "correct", "predictions", "base_correct")
        values: dict[str, Any] = {
            name: torch.from_numpy(np.ascontiguousarray(getattr(self, name)))
            for name in (*arrays, "auc", "mean_accuracy")
        }
        values["protocol"] = self.protocol
        return values

    @classmethod
    def from_tensors(cls, values: dict[str, Any]) -> RecoveryCurve:
        """The inverse of :meth:`to_tensors`."""
        found = {
            k: (v.numpy() if isinstance(v, Tensor) else v) for k, v in values.items()
        }
        return cls(**found)

    def records(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per image (keys ``index``, ``auc``,
        ``mean_accuracy``, ``base_correct``, ``correct``, ``predictions``)."""
        return [
            {
                "index": int(self.indices[i]),
                "auc": float(self.auc[i]),
                "mean_accuracy": float(self.mean_accuracy[i]),
                "base_correct": bool(self.base_correct[i]),
                "correct": [bool(v) for v in self.correct[i]],
                "predictions": [int(v) for v in self.predictions[i]],
            }
            for i in range(len(self))
        ]


def trapezoid_auc(
    base: np.ndarray, correct: np.ndarray, fractions: np.ndarray
) -> np.ndarray:
    r"""Normalized per-image area under a recovery curve that starts at ``x = 0``.

    Args:
        base (ndarray): ``(N,)`` the value at ``x = 0``.
        correct (ndarray): ``(N, F)`` the values at ``fractions``.
        fractions (ndarray): ``(F,)`` increasing, positive.

    Returns:
        ``np.ndarray`` of shape ``(N,)``: the trapezoid area divided by
        ``fractions[-1]``.

    Examples::

        >>> trapezoid_auc(np.array([0.0]), np.array([[1.0, 1.0]]), np.array([0.1, 0.2]))
        array([0.75])
    """
    xs = np.concatenate([[0.0], np.asarray(fractions, dtype=np.float64)])
    ys = np.concatenate(
        [np.asarray(base, dtype=np.float64)[:, None], np.asarray(correct, np.float64)],
        axis=1,
    )
    return np.trapezoid(ys, xs, axis=1) / xs[-1]


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    values = np.asarray([float(f) for f in fractions], dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("`fractions` must be a non-empty sequence of floats")
    if (values <= 0).any() or (values > 1).any() or (np.diff(values) <= 0).any():
        raise ValueError(
            "`fractions` must be strictly increasing and lie in (0, 1], got "
            f"{values.tolist()}"
        )
    return values


_RANKING_RULES: dict[str, str] = {
    "map": "channel sum of the map, descending",
    "abs": "channel sum of |map|, descending",
    "random": "seeded per-image permutation",
    "given": "caller-supplied",
}


def _unpack_adversarial(
    adversarial: AdversarialBatch | Tensor,
    labels: Tensor | None,
    clean: Tensor | None,
    indices: IndicesLike,
) -> tuple[Tensor, Tensor, Tensor | None, IndicesLike]:
    """The images, labels, clean images and indices, from a batch or the caller."""
    if isinstance(adversarial, AdversarialBatch):
        if labels is not None or clean is not None or indices is not None:
            raise ValueError(
                "pass `labels`, `clean` and `indices` only with a tensor "
                "`adversarial`; an AdversarialBatch provides them"
            )
        return (
            adversarial.adversarial,
            adversarial.labels,
            adversarial.clean,
            adversarial.indices,
        )
    if labels is None:
        raise ValueError("`labels` is required when `adversarial` is a tensor")
    return adversarial, labels, clean, indices


def _check_images_and_labels(images: Tensor, labels: Tensor, batch_size: int) -> Tensor:
    """Validate the image batch and ``batch_size``; the labels as a flat tensor."""
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got {tuple(images.shape)}")
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be positive, got {batch_size}")
    batch = images.shape[0]
    labels = torch.as_tensor(labels).reshape(-1)
    if labels.shape[0] != batch:
        raise ValueError(f"`labels` has {labels.shape[0]} entries, expected {batch}")
    return labels


def _resolve_ranking(
    ranking: RankingMode | str | Tensor,
    maps: Tensor | None,
    index_array: np.ndarray,
    seed: int,
    shape: tuple[int, int, int],
) -> tuple[Tensor, str]:
    """The ``(N, H * W)`` pixel order and its protocol name; ``shape`` is
    ``(N, H, W)``."""
    batch, height, width = shape
    if isinstance(ranking, Tensor):
        order, ranking_name = ranking, "given"
    elif ranking == "random":
        order = random_ranking(index_array, height * width, seed)
        ranking_name = "random"
    elif ranking in ("map", "abs"):
        if maps is None:
            raise ValueError(f"ranking={ranking!r} needs `maps`")
        if maps.shape[0] != batch or tuple(maps.shape[-2:]) != (height, width):
            raise ValueError(
                f"`maps` has shape {tuple(maps.shape)}, expected batch {batch} and "
                f"spatial size {(height, width)}"
            )
        order = pixel_ranking(maps, seed, index_array, absolute=ranking == "abs")
        ranking_name = ranking
    else:
        raise ValueError(
            f"`ranking` must be 'map', 'abs', 'random' or a tensor, got {ranking!r}"
        )
    if tuple(order.shape) != (batch, height * width):
        raise ValueError(
            f"the ranking has shape {tuple(order.shape)}, expected "
            f"{(batch, height * width)}"
        )
    return order, ranking_name


def _predict_chunk(
    model: Callable[[Tensor], Tensor],
    chunk: Tensor,
    replacement: Tensor,
    chunk_order: Tensor,
    values: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions on one chunk: unmodified ``(B,)`` and per fraction ``(B, F)``."""
    height, width = chunk.shape[-2:]
    base = model(chunk).argmax(dim=1).cpu().numpy()
    predictions = np.empty((chunk.shape[0], values.size), dtype=np.int64)
    for column, fraction in enumerate(values):
        mask = ranking_mask(chunk_order, float(fraction), height, width)
        perturbed = _replace(chunk, replacement, mask)
        predictions[:, column] = model(perturbed).argmax(dim=1).cpu().numpy()
    return base, predictions


def _predict_recovery(
    model: Callable[[Tensor], Tensor],
    images: Tensor,
    clean: Tensor | None,
    order: Tensor,
    values: np.ndarray,
    fill: Fill | str,
    mean: Tensor | Sequence[float] | None,
    blur_sigma: float,
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Base ``(N,)`` and perturbed ``(N, F)`` predictions, in chunks, no grad."""
    batch = images.shape[0]
    device = model_device(model, images.device)
    predictions = np.empty((batch, values.size), dtype=np.int64)
    base_predictions = np.empty(batch, dtype=np.int64)
    with torch.no_grad():
        for start in range(0, batch, batch_size):
            rows = slice(start, min(start + batch_size, batch))
            chunk = images[rows].to(device)
            chunk_clean = None if clean is None else clean[rows].to(device)
            replacement = fill_image(chunk, fill, chunk_clean, mean, blur_sigma)
            chunk_order = order[rows].to(device)
            base_predictions[rows], predictions[rows] = _predict_chunk(
                model, chunk, replacement, chunk_order, values
            )
    return base_predictions, predictions


def _recovery_protocol(
    values: np.ndarray,
    image_size: tuple[int, int],
    fill: Fill | str,
    mean: Tensor | Sequence[float] | None,
    blur_sigma: float,
    ranking_name: str,
    seed: int,
) -> dict[str, Any]:
    """The protocol record of :func:`recovery_curve`, for the benchmark's JSON."""
    return {
        "metric": "perturbation_recovery",
        "fractions": values.tolist(),
        "pixels_per_fraction": "floor(fraction * H * W + 0.5), at least 1",
        "image_size": list(image_size),
        "fill": fill,
        "mean": None if mean is None else torch.as_tensor(mean).reshape(-1).tolist(),
        "blur_sigma": blur_sigma if fill == "blur" else None,
        "ranking": ranking_name,
        "ranking_rule": _RANKING_RULES[ranking_name],
        "tie_break": f"per-image permutation, stream purpose '{TIE_BREAK_PURPOSE}'",
        "random_stream": f"purpose '{RANDOM_RANKING_PURPOSE}'",
        "seed": seed,
        "accuracy_on": "true label",
        "auc": (
            "trapezoid over x = [0, *fractions] (x = 0: the unmodified adversarial "
            "image), linear x axis, divided by max(fractions)"
        ),
    }


def recovery_curve(
    model: Callable[[Tensor], Tensor],
    adversarial: AdversarialBatch | Tensor,
    maps: Tensor | None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    fill: Fill | str = "mean",
    *,
    labels: Tensor | None = None,
    clean: Tensor | None = None,
    indices: IndicesLike = None,
    mean: Tensor | Sequence[float] | None = None,
    ranking: RankingMode | str | Tensor = "map",
    seed: int = 0,
    blur_sigma: float = 2.0,
    batch_size: int = 64,
) -> RecoveryCurve:
    r"""Per-image accuracy on the true label after perturbing the top-ranked pixels.

    For every fraction ``x`` the top ``x`` spatial pixels (by the map, or at random)
    of each adversarial image are replaced with the fill (all channels) and the
    model is run on the result, in batches of ``batch_size`` under
    :func:`torch.no_grad`. The model takes pixel-space inputs (e.g. ``[0, 1]``,
    normalization inside the model) and must already be in eval mode. Per the
    protocol, pass only successful attacks (:meth:`AdversarialBatch.successful`)
    with maps of the adversarial image for its adversarial class.

    Args:
        model (nn.Module or callable): maps ``(B, C, H, W)`` images to ``(B, K)``
            scores; the prediction is the arg-max.
        adversarial (AdversarialBatch or Tensor): the attacked images. An
            :class:`~captum_contrastive.attacks.AdversarialBatch` also provides
            ``labels``, ``clean`` and ``indices`` (do not pass them again).
        maps (Tensor or None): ``(N, C, H, W)`` or ``(N, H, W)`` saliency maps;
            unused (may be ``None``) when ``ranking`` is ``"random"`` or a tensor.
        fractions (sequence of float): strictly increasing, in ``(0, 1]``.
            Default: ``(0.005, 0.01, 0.02, 0.05, 0.1, 0.2)``
        fill (str): ``"mean"``, ``"zero"``, ``"blur"`` or ``"clean"``.
            Default: ``"mean"``
        labels (Tensor, optional): ``(N,)`` true labels, when ``adversarial`` is a
            tensor.
        clean (Tensor, optional): clean images, for ``fill="clean"`` when
            ``adversarial`` is a tensor.
        indices (Tensor, ndarray, sequence of int or None): dataset indices when
            ``adversarial`` is a tensor; ``None`` means ``0..N-1``.
        mean (Tensor or sequence of float, optional): the dataset mean colour in
            pixel space, needed by ``fill="mean"``.
        ranking (str or Tensor): ``"map"`` (channel sum of the map, descending),
            ``"abs"`` (channel sum of ``|map|``), ``"random"`` (the seeded
            baseline), or a precomputed ``(N, H * W)`` ranking. Default: ``"map"``
        seed (int): the run's seed for tie-breaks and the random ranking.
            Default: 0
        blur_sigma (float): for ``fill="blur"``, in pixels. Default: 2.0
        batch_size (int): images per forward pass. Default: 64

    Returns:
        :class:`RecoveryCurve` with per-image results and the protocol.

    Examples::

        >>> curve = recovery_curve(model, batch.successful(), maps, mean=(0.5,) * 3)
        >>> curve.accuracy(), curve.auc.mean()
        >>> baseline = recovery_curve(model, batch.successful(), None,
        ...                           ranking="random", mean=(0.5,) * 3)
    """
    images, labels, clean, indices = _unpack_adversarial(
        adversarial, labels, clean, indices
    )
    labels = _check_images_and_labels(images, labels, batch_size)
    batch, _, height, width = images.shape
    index_array = as_indices(indices, batch)
    values = _check_fractions(fractions)
    order, ranking_name = _resolve_ranking(
        ranking, maps, index_array, seed, (batch, height, width)
    )
    base_predictions, predictions = _predict_recovery(
        model, images, clean, order, values, fill, mean, blur_sigma, batch_size
    )
    truth = labels.detach().cpu().numpy().astype(np.int64)
    correct = predictions == truth[:, None]
    base_correct = base_predictions == truth
    auc = trapezoid_auc(base_correct, correct, values)
    protocol = _recovery_protocol(
        values, (height, width), fill, mean, blur_sigma, ranking_name, seed
    )
    return RecoveryCurve(
        indices=index_array,
        fractions=values,
        correct=correct,
        predictions=predictions,
        base_correct=base_correct,
        auc=auc,
        mean_accuracy=correct.mean(axis=1),
        protocol=protocol,
    )
