"""ROAD: RemOve And Debias (Rong et al., ICML 2022).

"A Consistent and Efficient Evaluation Strategy for Attribution Methods" removes
the pixels an attribution ranks most (MoRF) or least (LeRF) relevant, replaces
them by a *noisy linear imputation* that leaks little information through the
shape of the removed region, and reads the model's accuracy on the true label as
the removed fraction grows. A faithful map makes MoRF accuracy drop fast and LeRF
accuracy stay high: the gap ``AUC(LeRF) - AUC(MoRF)`` summarizes both.

Protocol choices (all recorded in :attr:`RoadCurve.protocol`):

- **imputation**: every removed pixel (all channels) is set to the weighted mean
  of its 8 neighbours, weight ``1/6`` for the 4 direct and ``1/12`` for the 4
  diagonal ones, as the reference ``NoisyLinearImputer``
  (``tleemann/road_evaluation``); at the image border the weights of the
  neighbours inside the image are renormalized (the reference's
  ``sum_neighbors``). Kept pixels are fixed, so the removed pixels solve one
  sparse linear system per image and channel;
- **solver**: :func:`~captum_contrastive.metrics.imputation.linear_imputation`:
  conjugate gradient in ``float32`` preconditioned by a multigrid V-cycle, with
  a slice stencil, checked and if needed refined in ``float64``, in chunks of
  systems whose size is measured per process (every system at once on a GPU;
  no scipy). Each image-and-channel system is solved once every one of its
  removed pixels has a ``float64`` residual ``|s_i x_i - sum_j w_ij x_j| <=
  tol`` (the sums over in-image neighbours, kept ones included; ``s_i`` the sum
  of their weights; ``tol=1e-6`` in the units of the images), so its result
  does not depend on the rest of the batch; after ``max_iter`` iterations a
  :class:`RuntimeWarning` is raised instead. A removed region that touches no
  kept pixel (the whole image) has no defined imputation: it keeps the
  starting value, the mean of the image's kept pixels in that channel (0 when
  nothing is kept). The former ``float64`` ``conv2d`` solver is
  :func:`~captum_contrastive.metrics.imputation.reference_linear_imputation`,
  the tests' oracle: the two answers differ by at most ``||A^-1|| * 2 tol``;
- **noise**: Gaussian with standard deviation ``noise`` (default 0.01, as ROAD)
  on the removed pixels only. It is drawn per image from the stream
  ``(seed, index, "road")`` (:func:`~captum_contrastive.random_streams.image_generator`)
  as one ``float32`` ``(C, H, W)`` field on the CPU, so a sharded run, any batch
  composition and any device give the same noise. The same field serves every
  fraction of a curve (the reference draws fresh noise per call); a pixel
  removed at several fractions gets the same noise each time;
- **no clamping**: the noise-free imputation is a convex combination of kept
  pixels, so it stays in their range (e.g. ``[0, 1]``); only the noise can leave
  it, by a few ``noise``. The reference does not clamp either;
- **ranking**: the channel sum of the map (``absolute=True``: of ``|map|``), ties
  broken by the image's ``"tie_break"`` stream
  (:func:`~captum_contrastive.metrics.pixel_ranking`). MoRF removes the highest
  values first; LeRF ranks the negated map with the same tie-break rule. A
  fraction removes ``floor(fraction * H * W + 0.5)`` pixels, at least 1;
- **AUC**: :func:`~captum_contrastive.metrics.trapezoid_auc` over
  ``x = [0, *fractions]`` (``x = 0``: the unmodified image), divided by the
  largest fraction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from captum_contrastive.devices import model_device
from captum_contrastive.metrics.imputation import (
    IMPUTATION_TOL,
    ROAD_NEIGHBOUR_WEIGHTS,
    check_imputation_inputs,
    check_solver_options,
    linear_imputation,
    measured_chunk_systems,
)
from captum_contrastive.metrics.perturbation import (
    PerImageCurve,
    _check_fractions,
    trapezoid_auc,
)
from captum_contrastive.metrics.ranking import (
    TIE_BREAK_PURPOSE,
    IndicesLike,
    as_indices,
    pixel_ranking,
    ranking_mask,
    spatial_map,
)
from captum_contrastive.metrics.road_costs import (
    RoadProfile,
    active_road_profiles,
    record_road_costs,
)
from captum_contrastive.metrics.stats import bootstrap_ci, paired_bootstrap_diff
from captum_contrastive.random_streams import image_generator

__all__ = [
    "DEFAULT_ROAD_FRACTIONS",
    "ROAD_NEIGHBOUR_WEIGHTS",
    "ROAD_PURPOSE",
    "RoadCurve",
    "RoadProfile",
    "noisy_linear_imputation",
    "record_road_costs",
    "road_curve",
    "road_curves",
    "road_gap",
    "road_summary",
]

Order = Literal["morf", "lerf"]

#: The purpose of the per-image noise stream
#: (:func:`~captum_contrastive.random_streams.image_generator`).
ROAD_PURPOSE = "road"
#: The removed fractions of the ROAD paper: 10%, 20%, ..., 90%.
DEFAULT_ROAD_FRACTIONS: tuple[float, ...] = tuple(k / 10 for k in range(1, 10))


def _noise_fields(
    index_array: np.ndarray, shape: tuple[int, int, int], seed: int
) -> Tensor:
    """One standard-normal ``float32`` field per image from its ``"road"`` stream."""
    fields = [
        torch.randn(shape, generator=image_generator(seed, int(i), ROAD_PURPOSE))
        for i in index_array
    ]
    if not fields:
        return torch.empty((0, *shape))
    return torch.stack(fields)


def _check_solver_options(noise: float, tol: float, max_iter: int | None) -> None:
    if not noise >= 0:
        raise ValueError(f"`noise` must be non-negative, got {noise}")
    check_solver_options(tol, max_iter)


def _impute(
    images: Tensor,
    mask: Tensor,
    noise: float,
    fields: Tensor,
    tol: float,
    max_iter: int | None,
) -> Tensor:
    """The imputation plus ``noise * fields`` on the removed pixels."""
    imputed = linear_imputation(images, mask, tol, max_iter)
    removed = mask.to(imputed.device).unsqueeze(1)
    if noise > 0:
        noisy = imputed + noise * fields.to(imputed.device, torch.float64)
        imputed = torch.where(removed, noisy, imputed)
    return torch.where(removed, imputed.to(images.dtype), images)


def noisy_linear_imputation(
    images: Tensor,
    mask: Tensor,
    noise: float = 0.01,
    seed: int = 0,
    indices: IndicesLike = None,
    *,
    tol: float = IMPUTATION_TOL,
    max_iter: int | None = None,
) -> Tensor:
    r"""ROAD's noisy linear imputation of the masked pixels of a batch of images.

    Every removed pixel, in every channel, is solved for so that it equals the
    weighted mean of its 8 neighbours (``1/6`` direct, ``1/12`` diagonal,
    renormalized at the border); the kept pixels are fixed and returned exactly.
    The sparse system of each image and channel is solved by
    :func:`~captum_contrastive.metrics.imputation.linear_imputation`
    (multigrid-preconditioned conjugate gradient in ``float32``, checked and refined
    in ``float64``) until every equation's ``float64`` residual is at most
    ``tol``; a :class:`RuntimeWarning` says when ``max_iter`` is reached first. A
    removed region touching no kept pixel gets the mean of the image's kept
    pixels in that channel (0 when none is kept). Then Gaussian noise of standard
    deviation ``noise`` is added to the removed pixels, from the image's stream
    ``(seed, index, "road")``: the result does not depend on the batch it is in.
    Nothing is clamped.

    Args:
        images (Tensor): ``(N, C, H, W)`` floating-point images.
        mask (Tensor): ``(N, H, W)`` bool, ``True`` for the pixels to remove.
        noise (float): the noise's standard deviation, in the units of
            ``images``; 0 gives the exact linear imputation. Default: 0.01
        seed (int): the run's seed. Default: 0
        indices (Tensor, ndarray, sequence of int or None): the images' dataset
            indices; ``None`` means ``0..N-1``. Default: None
        tol (float): the largest residual accepted, per removed pixel and
            channel. Default: 1e-6
        max_iter (int, optional): the most CG iterations; ``None`` means
            ``10 * (H + W) + 100``. Default: None

    Returns:
        Tensor of the shape, dtype and device of ``images``.

    Examples::

        >>> images = torch.rand(2, 3, 8, 8)
        >>> mask = torch.zeros(2, 8, 8, dtype=torch.bool)
        >>> mask[:, 2:5, 2:5] = True
        >>> out = noisy_linear_imputation(images, mask, seed=0, indices=[7, 8])
        >>> bool((out[:, :, 0] == images[:, :, 0]).all())
        True
    """
    check_imputation_inputs(images, mask)
    _check_solver_options(noise, tol, max_iter)
    index_array = as_indices(indices, images.shape[0])
    fields = _noise_fields(index_array, tuple(images.shape[1:]), seed)
    with torch.no_grad():
        return _impute(images, mask.to(images.device), noise, fields, tol, max_iter)


@dataclass(frozen=True)
class RoadCurve(PerImageCurve):
    r"""Per-image results of :func:`road_curve`.

    Attributes:
        order: ``"morf"`` (most relevant removed first) or ``"lerf"`` (least).
        indices: ``(N,)`` dataset indices.
        fractions: ``(F,)`` the fractions of pixels removed, increasing.
        correct: ``(N, F)`` bool: the prediction on the imputed image equals the
            true label.
        predictions: ``(N, F)`` the predictions on the imputed images.
        base_correct: ``(N,)`` bool: the prediction on the unmodified image
            equals the true label (the curve's point ``x = 0``).
        auc: ``(N,)`` trapezoid area under ``[base_correct, correct]`` over
            ``[0, *fractions]``, divided by ``fractions[-1]``: in ``[0, 1]``.
        probability: ``(N, F)`` softmax probability of the true label, or
            ``None`` unless requested.
        base_probability: ``(N,)`` the same on the unmodified image, or ``None``.
        probability_auc: ``(N,)`` the normalized trapezoid area of the
            probabilities, or ``None``.
        protocol: the choices made, for the benchmark's JSON.
    """

    order: str
    indices: np.ndarray
    fractions: np.ndarray
    correct: np.ndarray
    predictions: np.ndarray
    base_correct: np.ndarray
    auc: np.ndarray
    probability: np.ndarray | None = None
    base_probability: np.ndarray | None = None
    probability_auc: np.ndarray | None = None
    protocol: dict[str, Any] = field(default_factory=dict)

    def records(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per image (``index``, ``auc``, ``base_correct``,
        ``correct``, ``predictions``, and with probabilities ``probability``,
        ``base_probability``, ``probability_auc``)."""
        rows = []
        for i in range(len(self)):
            row: dict[str, Any] = {
                "index": int(self.indices[i]),
                "auc": float(self.auc[i]),
                "base_correct": bool(self.base_correct[i]),
                "correct": [bool(v) for v in self.correct[i]],
                "predictions": [int(v) for v in self.predictions[i]],
            }
            if self.probability is not None:
                row["probability"] = [float(v) for v in self.probability[i]]
                row["base_probability"] = float(self.base_probability[i])
                row["probability_auc"] = float(self.probability_auc[i])
            rows.append(row)
        return rows

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: ``order``, ``fractions``, the mean ``accuracy`` curve,
        ``auc_mean``, ``protocol`` and the per-image ``records``."""
        return {
            "order": self.order,
            "fractions": [float(f) for f in self.fractions],
            "accuracy": [float(a) for a in self.accuracy()],
            "auc_mean": float(self.auc.mean()) if len(self) else float("nan"),
            "protocol": self.protocol,
            "records": self.records(),
        }


def _check_curve_inputs(
    images: Tensor, labels: Tensor, maps: Tensor, order: str, batch_size: int
) -> Tensor:
    """Validate the inputs of :func:`road_curve`; the labels as a flat tensor."""
    if images.ndim != 4:
        raise ValueError(f"`images` must be (N, C, H, W), got {tuple(images.shape)}")
    if order not in ("morf", "lerf"):
        raise ValueError(f"`order` must be 'morf' or 'lerf', got {order!r}")
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be positive, got {batch_size}")
    batch, _, height, width = images.shape
    labels = torch.as_tensor(labels).reshape(-1)
    if labels.shape[0] != batch:
        raise ValueError(f"`labels` has {labels.shape[0]} entries, expected {batch}")
    if maps.ndim not in (3, 4) or maps.shape[0] != batch:
        raise ValueError(
            f"`maps` must be (N, C, H, W) or (N, H, W) with N = {batch}, got "
            f"{tuple(maps.shape)}"
        )
    if maps.is_floating_point() and bool(torch.isnan(maps).any()):
        raise ValueError("`maps` contains NaN values")
    if tuple(maps.shape[-2:]) != (height, width):
        raise ValueError(
            f"`maps` has spatial size {tuple(maps.shape[-2:])}, expected "
            f"{(height, width)}"
        )
    return labels


def _road_ranking(
    maps: Tensor, order: str, seed: int, index_array: np.ndarray, absolute: bool
) -> Tensor:
    """``(N, H * W)`` pixels in removal order: MoRF by the map, LeRF by its
    negation, ties by the ``"tie_break"`` stream either way."""
    spatial = spatial_map(maps, "abs_sum" if absolute else "sum")
    values = spatial if order == "morf" else -spatial
    return pixel_ranking(values, seed, index_array)


def _scores(model: Callable[[Tensor], Tensor], images: Tensor) -> Tensor:
    scores = model(images)
    if scores.ndim != 2 or scores.shape[0] != images.shape[0]:
        raise ValueError(
            f"the model must return (B, K) scores, got {tuple(scores.shape)}"
        )
    return scores


def _label_outputs(scores: Tensor, labels: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Predictions ``(B,)`` and softmax probabilities of the labels ``(B,)``."""
    probs = torch.softmax(scores.double(), dim=1)
    picked = probs.gather(1, labels.to(scores.device).view(-1, 1)).squeeze(1)
    return scores.argmax(dim=1).cpu().numpy(), picked.cpu().numpy()


@dataclass(frozen=True)
class _RoadOptions:
    order: str
    absolute: bool
    seed: int
    noise: float
    tol: float
    max_iter: int | None


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed_outputs(
    model: Callable[[Tensor], Tensor], images: Tensor, labels: Tensor
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_label_outputs` of a forward pass, its cost recorded."""
    profiles = active_road_profiles()
    start = time.perf_counter()
    outputs = _label_outputs(_scores(model, images), labels)
    elapsed = time.perf_counter() - start
    for profile in profiles:
        profile.forward_seconds += elapsed
        profile.forward_images += images.shape[0]
        profile.forward_calls += 1
    return outputs


def _solve(
    images: Tensor, mask: Tensor, fields: Tensor, options: _RoadOptions
) -> Tensor:
    """:func:`_impute` with the curve's options, finished on its device."""
    imputed = _impute(
        images, mask, options.noise, fields, options.tol, options.max_iter
    )
    _synchronize(imputed.device)
    return imputed


def _timed_impute(
    images: Tensor, mask: Tensor, fields: Tensor, options: _RoadOptions
) -> Tensor:
    """:func:`_impute` of a stack of images, its cost recorded (and each
    image's alone, for the profiles that ask)."""
    profiles = active_road_profiles()
    if profiles:  # the chunk size is measured once; not part of a call's cost
        measured_chunk_systems(*images.shape[-2:], images.device)
    start, cpu = time.perf_counter(), time.process_time()
    imputed = _solve(images, mask, fields, options)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    for profile in profiles:
        profile.imputation_seconds += elapsed
        profile.imputation_cpu_seconds += cpu
        profile.imputed_images += images.shape[0]
        profile.imputation_calls += 1
    alone = [profile for profile in profiles if profile.time_alone]
    for row in range(images.shape[0] if alone else 0):
        one = slice(row, row + 1)
        start, cpu = time.perf_counter(), time.process_time()
        _solve(images[one], mask[one], fields[one], options)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        for profile in alone:
            profile.alone_seconds += elapsed
            profile.alone_cpu_seconds += cpu
            profile.alone_images += 1
    return imputed


def _stack_fractions(device: torch.device) -> bool:
    """Impute every fraction of a chunk in one solver call: on accelerators,
    where one large stack is cheapest; on the CPU one fraction at a time keeps
    the ``float64`` copies of a stack small."""
    return device.type != "cpu"


def _curve_columns(
    model: Callable[[Tensor], Tensor],
    chunk: Tensor,
    labels: Tensor,
    ranking: Tensor,
    fields: Tensor,
    values: np.ndarray,
    options: _RoadOptions,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-fraction predictions and label probabilities ``(B, F)`` of a chunk
    whose pixels are removed in ``ranking`` order; one forward pass a fraction."""
    height, width = chunk.shape[-2:]
    count = chunk.shape[0]
    masks = [ranking_mask(ranking, float(f), height, width) for f in values]
    if _stack_fractions(chunk.device) and len(masks) > 1:
        stacked = _timed_impute(
            chunk.repeat(len(masks), 1, 1, 1),
            torch.cat(masks),
            fields.repeat(len(masks), 1, 1, 1),
            options,
        )
        imputed = list(stacked.split(count))
    else:
        imputed = [_timed_impute(chunk, mask, fields, options) for mask in masks]
    predictions = np.empty((count, values.size), dtype=np.int64)
    probability = np.empty((count, values.size), dtype=np.float64)
    for column, images in enumerate(imputed):
        predictions[:, column], probability[:, column] = _timed_outputs(
            model, images, labels
        )
    return predictions, probability


def _stack_columns(found: list, fractions: int) -> list[np.ndarray]:
    """The chunks' ``(predictions, probabilities)`` as two ``(N, F)`` arrays."""
    if not found:
        return [np.empty((0, fractions), np.int64), np.empty((0, fractions))]
    return [np.concatenate(column) for column in zip(*found, strict=True)]


def _predict_road(
    model: Callable[[Tensor], Tensor],
    images: Tensor,
    labels: Tensor,
    rankings: Mapping[str, Tensor],
    index_array: np.ndarray,
    values: np.ndarray,
    options: dict[str, _RoadOptions],
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray, dict[tuple[str, str], list[np.ndarray]]]:
    """Base ``(N,)`` predictions and probabilities, shared by every curve, and
    per curve ``(name, order)`` its ``(N, F)`` predictions and probabilities,
    chunk by chunk (images, rankings and noise fields too, to bound memory).
    Each chunk's unmodified images pass forward once, for all curves."""
    base_parts: list[tuple[np.ndarray, np.ndarray]] = []
    parts: dict[tuple[str, str], list] = {
        (name, order): [] for name in rankings for order in options
    }
    device = model_device(model, images.device)
    seed = next(iter(options.values())).seed
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            rows = slice(start, start + batch_size)
            chunk = images[rows].to(device)
            chunk_labels = labels[rows].to(device)
            fields = _noise_fields(index_array[rows], tuple(chunk.shape[1:]), seed)
            base_parts.append(_timed_outputs(model, chunk, chunk_labels))
            for (name, order), found in parts.items():
                option = options[order]
                ranking = _road_ranking(
                    rankings[name][rows],
                    order,
                    option.seed,
                    index_array[rows],
                    option.absolute,
                ).to(device)
                found.append(
                    _curve_columns(
                        model, chunk, chunk_labels, ranking, fields, values, option
                    )
                )
    columns = {key: _stack_columns(found, values.size) for key, found in parts.items()}
    if not base_parts:
        return np.empty(0, np.int64), np.empty(0), columns
    base, base_prob = (np.concatenate(c) for c in zip(*base_parts, strict=True))
    return base, base_prob, columns


def _road_protocol(
    values: np.ndarray,
    image_size: tuple[int, int],
    options: _RoadOptions,
) -> dict[str, Any]:
    """The protocol record of :func:`road_curve`, for the benchmark's JSON."""
    return {
        "metric": "road",
        "order": options.order,
        "fractions": values.tolist(),
        "pixels_per_fraction": "floor(fraction * H * W + 0.5), at least 1",
        "image_size": list(image_size),
        "ranking_rule": (
            f"channel sum of {'|map|' if options.absolute else 'the map'}, "
            + ("descending (MoRF)" if options.order == "morf" else "ascending (LeRF)")
        ),
        "tie_break": f"per-image permutation, stream purpose '{TIE_BREAK_PURPOSE}'",
        "imputation": (
            "noisy linear: removed pixel = weighted mean of its 8 in-image "
            "neighbours (1/6 direct, 1/12 diagonal, renormalized at the border)"
        ),
        "solver": (
            "conjugate gradient preconditioned by a multigrid V-cycle, "
            "float32 iterations, "
            "float64 residual check and refinement"
        ),
        "tol": options.tol,
        "max_iter": options.max_iter,
        "noise": options.noise,
        "noise_stream": f"purpose '{ROAD_PURPOSE}', one field per image",
        "clamp": None,
        "seed": options.seed,
        "accuracy_on": "true label",
        "auc": (
            "trapezoid over x = [0, *fractions] (x = 0: the unmodified image), "
            "linear x axis, divided by max(fractions)"
        ),
    }


def road_curve(
    model: Callable[[Tensor], Tensor],
    images: Tensor,
    labels: Tensor,
    maps: Tensor,
    fractions: Sequence[float] = DEFAULT_ROAD_FRACTIONS,
    order: Order | str = "morf",
    *,
    seed: int = 0,
    indices: IndicesLike = None,
    batch_size: int = 64,
    noise: float = 0.01,
    absolute: bool = False,
    probabilities: bool = False,
    tol: float = IMPUTATION_TOL,
    max_iter: int | None = None,
) -> RoadCurve:
    r"""ROAD: per-image accuracy on the true label as ranked pixels are imputed.

    For every fraction ``x`` the first ``x`` of each image's spatial pixels in
    removal order (MoRF: highest channel-summed map first; LeRF: lowest first)
    are replaced by :func:`noisy_linear_imputation` (all channels, one noise field
    per image from its ``(seed, index, "road")`` stream, shared by the
    fractions), and the model is run on the result in batches of
    ``batch_size`` under :func:`torch.no_grad`. The model must already be in eval
    mode; it takes the images as given (normalization inside the model).

    Args:
        model (nn.Module or callable): maps ``(B, C, H, W)`` images to ``(B, K)``
            scores; the prediction is the arg-max.
        images (Tensor): ``(N, C, H, W)`` floating-point images.
        labels (Tensor): ``(N,)`` true labels.
        maps (Tensor): ``(N, C, H, W)`` or ``(N, H, W)`` attribution maps,
            without NaN.
        fractions (sequence of float): strictly increasing, in ``(0, 1]``.
            Default: ``(0.1, 0.2, ..., 0.9)``
        order (str): ``"morf"`` (most relevant first) or ``"lerf"`` (least
            relevant first). Default: ``"morf"``
        seed (int): the run's seed for tie-breaks and the noise. Default: 0
        indices (Tensor, ndarray, sequence of int or None): dataset indices;
            ``None`` means ``0..N-1``. Default: None
        batch_size (int): images per imputation and forward pass. Default: 64
        noise (float): the imputation noise's standard deviation. Default: 0.01
        absolute (bool): rank by the channel sum of ``|map|``. Default: False
        probabilities (bool): also record the softmax probability of the true
            label. Default: False
        tol (float): the conjugate gradient's residual tolerance. Default: 1e-6
        max_iter (int, optional): the most CG iterations; ``None`` means
            ``10 * (H + W) + 100``. Default: None

    Returns:
        :class:`RoadCurve` with per-image results and the protocol.

    Examples::

        >>> morf = road_curve(model, images, labels, maps, order="morf",
        ...                   indices=indices)
        >>> lerf = road_curve(model, images, labels, maps, order="lerf",
        ...                   indices=indices)
        >>> road_summary(morf, lerf)["gap"]["mean_diff"]
    """
    return road_curves(
        model,
        images,
        labels,
        {"map": maps},
        fractions,
        (str(order),),
        seed=seed,
        indices=indices,
        batch_size=batch_size,
        noise=noise,
        absolute=absolute,
        probabilities=probabilities,
        tol=tol,
        max_iter=max_iter,
    )["map"][str(order)]


def _curve(
    order: str,
    index_array: np.ndarray,
    values: np.ndarray,
    truth: np.ndarray,
    base: tuple[np.ndarray, np.ndarray],
    found: list[np.ndarray],
    probabilities: bool,
    protocol: dict[str, Any],
) -> RoadCurve:
    predictions, probability = found
    correct = predictions == truth[:, None]
    base_correct = base[0] == truth
    return RoadCurve(
        order=order,
        indices=index_array,
        fractions=values,
        correct=correct,
        predictions=predictions,
        base_correct=base_correct,
        auc=trapezoid_auc(base_correct, correct, values),
        probability=probability if probabilities else None,
        base_probability=base[1] if probabilities else None,
        probability_auc=(
            trapezoid_auc(base[1], probability, values) if probabilities else None
        ),
        protocol=protocol,
    )


def road_curves(
    model: Callable[[Tensor], Tensor],
    images: Tensor,
    labels: Tensor,
    rankings: Mapping[str, Tensor],
    fractions: Sequence[float] = DEFAULT_ROAD_FRACTIONS,
    orders: Sequence[str] = ("morf", "lerf"),
    *,
    seed: int = 0,
    indices: IndicesLike = None,
    batch_size: int = 64,
    noise: float = 0.01,
    absolute: bool = False,
    probabilities: bool = False,
    tol: float = IMPUTATION_TOL,
    max_iter: int | None = None,
) -> dict[str, dict[str, RoadCurve]]:
    r""":func:`road_curve` of several maps and orders of the same images.

    Each curve equals :func:`road_curve` of its map and order; the images are
    moved to the model's device, and the unmodified images passed forward, once
    per chunk of ``batch_size`` images for all curves, and the noise fields are
    drawn once per image. Each fraction's imputations of a chunk are one solver
    call (every fraction at once on an accelerator), each fraction's imputed
    chunk one forward pass.

    Args:
        model (nn.Module or callable): maps ``(B, C, H, W)`` images to ``(B, K)``
            scores; the prediction is the arg-max.
        images (Tensor): ``(N, C, H, W)`` floating-point images.
        labels (Tensor): ``(N,)`` true labels.
        rankings (mapping of str to Tensor): per name, ``(N, C, H, W)`` or
            ``(N, H, W)`` maps without NaN that rank the pixels.
        fractions (sequence of float): strictly increasing, in ``(0, 1]``.
            Default: ``(0.1, 0.2, ..., 0.9)``
        orders (sequence of str): ``"morf"`` and/or ``"lerf"``.
            Default: ``("morf", "lerf")``
        seed (int): the run's seed for tie-breaks and the noise. Default: 0
        indices (Tensor, ndarray, sequence of int or None): dataset indices;
            ``None`` means ``0..N-1``. Default: None
        batch_size (int): images per chunk: per solver call and forward pass
            of a fraction. Default: 64
        noise (float): the imputation noise's standard deviation. Default: 0.01
        absolute (bool): rank by the channel sum of ``|map|``. Default: False
        probabilities (bool): also record the softmax probability of the true
            label. Default: False
        tol (float): the imputation's residual tolerance. Default: 1e-6
        max_iter (int, optional): the most CG iterations; ``None`` means
            ``10 * (H + W) + 100``. Default: None

    Returns:
        ``{name: {order: RoadCurve}}`` in the order of ``rankings`` and
        ``orders``.

    Examples::

        >>> curves = road_curves(model, images, labels,
        ...                      {"saliency": saliency_maps, "random": noise})
        >>> road_gap(curves["saliency"]["morf"], curves["saliency"]["lerf"])
    """
    for maps in rankings.values():
        for order in orders:
            labels = _check_curve_inputs(images, labels, maps, order, batch_size)
    _check_solver_options(float(noise), float(tol), max_iter)
    values = _check_fractions(fractions)
    index_array = as_indices(indices, images.shape[0])
    options = {
        str(order): _RoadOptions(
            str(order), bool(absolute), int(seed), float(noise), float(tol), max_iter
        )
        for order in orders
    }
    profiles = active_road_profiles()
    start = time.perf_counter()
    alone_before = [profile.alone_seconds for profile in profiles]
    base, base_prob, columns = _predict_road(
        model, images, labels, rankings, index_array, values, options, batch_size
    )
    alone = max(
        (p.alone_seconds - b for p, b in zip(profiles, alone_before, strict=True)),
        default=0.0,
    )
    elapsed = time.perf_counter() - start - alone
    for profile in profiles:
        profile.curve_seconds += elapsed
        profile.curve_calls += 1
    truth = labels.detach().cpu().numpy().astype(np.int64)
    size = tuple(images.shape[-2:])
    return {
        name: {
            order: _curve(
                order,
                index_array,
                values,
                truth,
                (base, base_prob),
                columns[(name, order)],
                probabilities,
                _road_protocol(values, size, option),
            )
            for order, option in options.items()
        }
        for name in rankings
    }


def _check_pair(morf: RoadCurve, lerf: RoadCurve) -> None:
    if morf.order != "morf":
        raise ValueError(f"`morf` must be a MoRF curve, got order {morf.order!r}")
    if lerf.order != "lerf":
        raise ValueError(f"`lerf` must be a LeRF curve, got order {lerf.order!r}")
    if not np.array_equal(morf.indices, lerf.indices):
        raise ValueError("`morf` and `lerf` must hold the same images, in order")
    if morf.fractions.shape != lerf.fractions.shape or not np.allclose(
        morf.fractions, lerf.fractions
    ):
        raise ValueError("`morf` and `lerf` must use the same fractions")


def road_gap(morf: RoadCurve, lerf: RoadCurve, probability: bool = False) -> np.ndarray:
    r"""Per-image ROAD gap ``AUC(LeRF) - AUC(MoRF)``: positive for a faithful map.

    Args:
        morf (RoadCurve): the MoRF curve.
        lerf (RoadCurve): the LeRF curve of the same images, fractions and order.
        probability (bool): use the probability AUCs (both curves must have been
            run with ``probabilities=True``). Default: False

    Returns:
        ``np.ndarray`` of shape ``(N,)``, in ``[-1, 1]``.

    Examples::

        >>> road_gap(morf, lerf).mean()
    """
    _check_pair(morf, lerf)
    if not probability:
        return lerf.auc - morf.auc
    if morf.probability_auc is None or lerf.probability_auc is None:
        raise ValueError("`probability=True` needs curves run with probabilities")
    return lerf.probability_auc - morf.probability_auc


def road_summary(
    morf: RoadCurve,
    lerf: RoadCurve,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    probability: bool = False,
) -> dict[str, Any]:
    r"""Mean AUCs of MoRF and LeRF and their per-image gap, with bootstrap CIs.

    ``morf_auc`` and ``lerf_auc`` are :func:`~captum_contrastive.metrics.bootstrap_ci`
    of the per-image AUCs; ``gap`` is
    :func:`~captum_contrastive.metrics.paired_bootstrap_diff` of ``lerf - morf``
    over the same images (its interval is the bootstrap interval of the mean of
    :func:`road_gap`, plus a p-value). Pass the images in a canonical order (e.g.
    sorted by index) for shard-independent intervals.

    Args:
        morf (RoadCurve): the MoRF curve.
        lerf (RoadCurve): the LeRF curve of the same images and fractions.
        n_resamples (int): bootstrap resamples. Default: 2000
        confidence (float): the intervals' level. Default: 0.95
        seed (int): seed of the resampling generator. Default: 0
        probability (bool): summarize the probability AUCs instead of the
            accuracy AUCs. Default: False

    Returns:
        dict with ``morf_auc``, ``lerf_auc``, ``gap`` (dicts as returned by the
        bootstrap functions), ``morf_accuracy`` and ``lerf_accuracy`` (the mean
        curves), ``fractions``, ``n``, ``auc_of`` (``"accuracy"`` or
        ``"probability"``).

    Examples::

        >>> summary = road_summary(morf, lerf, n_resamples=1000)
        >>> summary["gap"]["mean_diff"], summary["gap"]["ci_low"]
    """
    road_gap(morf, lerf, probability)  # validates the pair
    first = morf.probability_auc if probability else morf.auc
    second = lerf.probability_auc if probability else lerf.auc
    return {
        "auc_of": "probability" if probability else "accuracy",
        "n": len(morf),
        "fractions": [float(f) for f in morf.fractions],
        "morf_accuracy": [float(a) for a in morf.accuracy()],
        "lerf_accuracy": [float(a) for a in lerf.accuracy()],
        "morf_auc": bootstrap_ci(first, n_resamples, confidence, seed),
        "lerf_auc": bootstrap_ci(second, n_resamples, confidence, seed),
        "gap": paired_bootstrap_diff(second, first, n_resamples, confidence, seed),
    }
