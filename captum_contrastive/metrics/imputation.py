"""Linear imputation of removed pixels: ROAD's sparse systems and their solvers.

Every removed pixel, in every channel, is set to the weighted mean of its 8
in-image neighbours (``1/6`` direct, ``1/12`` diagonal, renormalized at the
border, as the reference ``NoisyLinearImputer`` of ``tleemann/road_evaluation``);
kept pixels are fixed. Each image-and-channel pair is one sparse symmetric
positive definite system ``A x = b`` over its removed pixels, with

``A x_i = s_i x_i - sum_j w_ij x_j`` (removed neighbours ``j``) and
``b_i = sum_j w_ij v_j`` (kept neighbours ``j`` with values ``v_j``),

``s_i`` the sum of pixel ``i``'s in-image weights. A removed region that touches
no kept pixel (the whole image) has no defined imputation: it keeps the starting
value, the mean of the image's kept pixels in that channel (0 when none is
kept).

Two solvers, one criterion: a system is solved once every one of its removed
pixels has a ``float64`` residual ``|b_i - A x_i| <= tol`` (``tol = 1e-6`` by
default, in the units of the images).

- :func:`linear_imputation`: the fast one. Conjugate gradient in ``float32``
  with the stencil written as tensor slices (the ``[1, 2, 1] x [1, 2, 1]``
  filter is separable: ``12 sum_j w_ij x_j = S(x)_i - 4 x_i``), preconditioned
  by one multigrid V-cycle per iteration (:func:`_vcycle`: one Jacobi sweep
  before and after each coarse correction, cell-centred bilinear transfers and
  their transposes, the same stencil on grids of half the size, down to 8
  pixels a side; a coarse pixel is unknown when its whole ``2 x 2`` block is
  removed). The V-cycle is a fixed symmetric positive definite linear map, so
  CG converges to the same solution; it does so in 6-20 iterations where
  Jacobi preconditioning took 50-500 on the large holes of a Grad-CAM
  ranking at 224². Converged systems leave the batch as soon as they are done,
  and every ``float32`` solve is checked by a ``float64`` residual; a system that
  fails the check is refined (the ``float32`` solver is run on the ``float64``
  residual and the correction added in ``float64``). Systems are solved in
  chunks whose size is measured once per process, shape and device
  (:func:`measured_chunk_systems`): the fastest per system on the CPU, where a
  large stack leaves the caches, and every system at once on a GPU.
- :func:`reference_linear_imputation`: the solver the ROAD study used before, in
  ``float64`` with a ``conv2d`` stencil, every system of the batch in one stack.
  It is slow on a large stack and kept as the test oracle.

Both answers satisfy the same residual criterion, so they differ by at most
``||A^-1||_inf * 2 tol`` per pixel (a few ``1e-5`` for a hole of 10 pixels'
width; the tests check the bound against a direct sparse solve).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "IMPUTATION_TOL",
    "ROAD_NEIGHBOUR_WEIGHTS",
    "SolveStats",
    "imputation_residual",
    "linear_imputation",
    "measured_chunk_systems",
    "reference_linear_imputation",
]

#: The default residual tolerance, per removed pixel and channel, in image units.
IMPUTATION_TOL = 1e-6
#: The 3x3 neighbour weights of the reference ``NoisyLinearImputer``.
ROAD_NEIGHBOUR_WEIGHTS: tuple[tuple[float, float, float], ...] = (
    (1 / 12, 1 / 6, 1 / 12),
    (1 / 6, 0.0, 1 / 6),
    (1 / 12, 1 / 6, 1 / 12),
)
#: The ``float32`` solver aims this far below ``tol``, so that its rounding
#: (about ``1e-7`` on values of order 1) rarely fails the ``float64`` check.
_FLOAT32_MARGIN = 0.5
#: At most this many ``float32`` solves per system (the first and refinements).
_MAX_ROUNDS = 6
#: The system counts tried by :func:`measured_chunk_systems`.
_CANDIDATE_CHUNKS = (1, 3, 6, 12, 24, 48)
#: Iterations per system of a timing: the cost per iteration is what counts.
_CALIBRATION_ITERATIONS = 6
_MEASURED: dict[tuple[str, int, int], int] = {}


def default_max_iter(height: int, width: int) -> int:
    """``10 * (H + W) + 100``: the most CG iterations by default."""
    return 10 * (height + width) + 100


# ---------------------------------------------------------------- the stencil


def _smooth(values: Tensor) -> Tensor:
    """The ``[1, 2, 1] x [1, 2, 1]`` filter with zero padding, over the last two
    dimensions, as slices: ``12 sum_j w_ij x_j + 4 x_i``."""
    rows = values * 2
    rows[..., 1:, :] += values[..., :-1, :]
    rows[..., :-1, :] += values[..., 1:, :]
    out = rows * 2
    out[..., :, 1:] += rows[..., :, :-1]
    out[..., :, :-1] += rows[..., :, 1:]
    return out


def _centre_weights(height: int, width: int, dtype: torch.dtype, device) -> Tensor:
    """``12 s_i + 4`` per pixel, ``(H, W)``: ``12 A x = centre * x - S(x)``."""
    ones = torch.ones(height, width, dtype=dtype, device=device)
    return _smooth(ones)  # 12 s_i + 4 exactly: the weights are small integers


def _apply12(values: Tensor, centre: Tensor, removed: Tensor) -> Tensor:
    """``12 A x`` on the removed pixels (0 elsewhere); ``values`` is 0 on kept."""
    return (centre * values - _smooth(values)) * removed


def _rhs12(values: Tensor, removed: Tensor) -> Tensor:
    """``12 b``: the kept neighbours' weighted sum, on the removed pixels."""
    kept = values * ~removed
    return _smooth(kept) * removed  # the centre term is 0: pixel i is removed


def imputation_residual(images: Tensor, imputed: Tensor, mask: Tensor) -> Tensor:
    """Largest ``|b_i - A x_i|`` per image and channel, in ``float64``; ``(N, C)``.

    ``imputed`` holds the solution on the removed pixels; its kept pixels are
    ignored (the values of ``images`` are used there).

    Args:
        images (Tensor): ``(N, C, H, W)`` the original images.
        imputed (Tensor): ``(N, C, H, W)`` the imputed images.
        mask (Tensor): ``(N, H, W)`` bool, ``True`` on the removed pixels.

    Returns:
        ``(N, C)`` ``float64`` tensor, in the units of the images.

    Examples::

        >>> out = linear_imputation(images, mask)
        >>> bool((imputation_residual(images, out, mask) <= 1e-6).all())
        True
    """
    removed = mask.unsqueeze(1).to(images.device)
    values = images.detach().to(torch.float64)
    unknown = torch.where(removed, imputed.detach().to(values), 0.0)
    centre = _centre_weights(*values.shape[-2:], torch.float64, values.device)
    residual = _rhs12(values, removed) - _apply12(unknown, centre, removed)
    return residual.abs().amax(dim=(-2, -1)) / 12


# ---------------------------------------------------------------- multigrid


def _prolong16(coarse: Tensor, height: int, width: int) -> Tensor:
    """``16`` times cell-centred bilinear interpolation to ``(height, width)``:
    every coarse pixel copied to its ``2 x 2`` fine pixels, then the
    ``[1, 2, 1]`` filter in both directions (zero padding: a border pixel takes
    ``3/4`` of the nearest coarse value, which keeps :func:`_restrict16` the
    exact transpose)."""
    lead, (rows, cols) = coarse.shape[:-2], coarse.shape[-2:]
    fine = coarse.unsqueeze(-1).unsqueeze(-3).expand(*lead, rows, 2, cols, 2)
    return _smooth(fine.reshape(*lead, 2 * rows, 2 * cols))[..., :height, :width]


def _restrict16(fine: Tensor, height: int, width: int) -> Tensor:
    """The transpose of :func:`_prolong16`: ``(2 height, 2 width)`` pixels (or
    one fewer in a direction) to ``(height, width)``."""
    rows, cols = fine.shape[-2:]
    if (rows, cols) != (2 * height, 2 * width):
        fine = F.pad(fine, (0, 2 * width - cols, 0, 2 * height - rows))
    smooth = _smooth(fine)
    pairs = smooth[..., 0::2, :] + smooth[..., 1::2, :]
    return pairs[..., 0::2] + pairs[..., 1::2]


@dataclass
class _Level:
    """One grid of :func:`_vcycle`, ``(B, h, w)`` per system: its removed pixels
    (1.0, else 0.0), ``1 / diagonal`` and ``1 / 16`` on them, and the stencil's
    centre weights ``(h, w)``."""

    removed: Tensor
    inverse: Tensor
    sixteenth: Tensor
    centre: Tensor

    @classmethod
    def of(cls, mask: Tensor, dtype: torch.dtype) -> _Level:
        centre = _centre_weights(*mask.shape[-2:], dtype, mask.device)
        removed = mask.to(dtype)
        return cls(removed, removed / centre.sub(4.0), removed / 16, centre)

    def select(self, keep: Tensor) -> _Level:
        """The level of the systems ``keep`` (a bool or index tensor) selects."""
        return _Level(
            self.removed[keep], self.inverse[keep], self.sixteenth[keep], self.centre
        )


#: Coarsen while both sides of the coarse grid would be at least this long.
_COARSEST_SIDE = 8
#: Jacobi sweeps before and after each coarse correction.
_SMOOTHING_SWEEPS = 1
#: Jacobi sweeps on the coarsest grid.
_COARSEST_SWEEPS = 4


def _levels(removed: Tensor, dtype: torch.dtype) -> list[_Level]:
    """The grids of :func:`_vcycle` for ``(B, H, W)`` bool masks, finest first.

    A coarse pixel is removed when all of its ``2 x 2`` fine pixels (those in
    the image) are: the coarse grids hold the interiors of the holes, where
    Jacobi is slow, and a system of scattered pixels, which Jacobi solves
    quickly, gets an empty coarse grid. Coarsening stops at the coarsest side
    or when no coarse pixel of the stack is removed.
    """
    levels = [_Level.of(removed, dtype)]
    mask = removed
    while min(mask.shape[-2:]) >= 2 * _COARSEST_SIDE:
        height, width = mask.shape[-2:]
        padding = (0, width % 2, 0, height % 2)
        padded = F.pad(mask.unsqueeze(1).to(dtype), padding, value=1.0)
        mask = -F.max_pool2d(-padded, 2).squeeze(1) > 0
        if not bool(mask.any()):
            break
        levels.append(_Level.of(mask, dtype))
    return levels


def _jacobi(rhs: Tensor, level: _Level, sweeps: int, start: Tensor | None) -> Tensor:
    """``sweeps`` Jacobi sweeps for ``12 A x = rhs`` (the first from ``x = 0``
    when ``start`` is None)."""
    x = rhs * level.inverse if start is None else start
    for _ in range(sweeps - (start is None)):
        x = x + (rhs - _apply12(x, level.centre, level.removed)) * level.inverse
    return x


def _vcycle(rhs: Tensor, levels: list[_Level], depth: int = 0) -> Tensor:
    """One symmetric V-cycle for ``12 A x = rhs`` from ``x = 0``: Jacobi
    smoothing, bilinear transfer, the same stencil on the coarse grids. A fixed
    symmetric positive definite linear map: a preconditioner for CG."""
    level = levels[depth]
    if depth == len(levels) - 1:
        return _jacobi(rhs, level, _COARSEST_SWEEPS, None)
    x = _jacobi(rhs, level, _SMOOTHING_SWEEPS, None)
    residual = rhs - _apply12(x, level.centre, level.removed)
    coarse = levels[depth + 1]
    height, width = coarse.removed.shape[-2:]
    coarse_rhs = _restrict16(residual, height, width) * coarse.sixteenth
    correction = _vcycle(coarse_rhs, levels, depth + 1)
    x = x + _prolong16(correction, *rhs.shape[-2:]) * level.sixteenth
    return _jacobi(rhs, level, _SMOOTHING_SWEEPS, x)


# ---------------------------------------------------------------- float32 PCG


@dataclass
class SolveStats:
    """What one :func:`linear_imputation` call did.

    Attributes:
        systems: image-and-channel systems solved (one per channel with a
            removed pixel).
        chunk_systems: systems per chunk.
        iterations: the most CG iterations any system took, all rounds.
        refinements: ``float32`` solves after the first that some system needed.
        worst_residual: the largest final ``float64`` residual, image units.
    """

    systems: int = 0
    chunk_systems: int = 0
    iterations: int = 0
    refinements: int = 0
    worst_residual: float = 0.0


def _safe_divide(numerator: Tensor, denominator: Tensor) -> Tensor:
    return numerator / torch.where(denominator != 0, denominator, 1.0)


def _pcg32(
    rhs: Tensor,
    removed: Tensor,
    tol12: float,
    budget: Tensor,
) -> tuple[Tensor, Tensor]:
    """Solve ``12 A d = rhs`` per system in ``float32`` from ``d = 0`` by
    conjugate gradient preconditioned with one :func:`_vcycle` per iteration.

    A system leaves the stack once its recursive residual is at most ``tol12``
    everywhere or its iteration ``budget`` is spent. Returns ``d`` and the
    iterations each system took.
    """
    count = rhs.shape[0]
    solution = torch.zeros_like(rhs)
    taken = torch.zeros(count, dtype=torch.long, device=rhs.device)
    live = torch.arange(count, device=rhs.device)
    levels = _levels(removed, rhs.dtype)
    residual = rhs.clone()
    x = torch.zeros_like(rhs)
    z = _vcycle(residual, levels)
    direction = z.clone()
    rz = (residual * z).sum(dim=(1, 2))
    steps = 0
    while live.numel():
        done = residual.abs().amax(dim=(1, 2)) <= tol12
        done |= budget[live] <= steps
        if bool(done.any()):
            solution[live[done]] = x[done]
            taken[live[done]] = steps
            keep = ~done
            live, x, residual = live[keep], x[keep], residual[keep]
            direction, rz = direction[keep], rz[keep]
            levels = [level.select(keep) for level in levels]
            if not live.numel():
                break
        product = _apply12(direction, levels[0].centre, levels[0].removed)
        alpha = _safe_divide(rz, (direction * product).sum(dim=(1, 2)))
        x.addcmul_(alpha.view(-1, 1, 1), direction)
        residual.addcmul_(alpha.view(-1, 1, 1), product, value=-1.0)
        z = _vcycle(residual, levels)
        rz_next = (residual * z).sum(dim=(1, 2))
        direction = z.addcmul_(_safe_divide(rz_next, rz).view(-1, 1, 1), direction)
        rz = rz_next
        steps += 1
    return solution, taken


def _kept_mean_start(values: Tensor, removed: Tensor) -> Tensor:
    """Per system the mean of its kept pixels (0 if none), on the removed ones."""
    kept = ~removed
    count = kept.sum(dim=(1, 2))
    mean = (values * kept).sum(dim=(1, 2)) / count.clamp_min(1)
    return torch.where(removed, mean.view(-1, 1, 1), 0.0)


def _solve_chunk(
    values: Tensor,
    removed: Tensor,
    tol: float,
    max_iter: int,
    start: Tensor | None = None,
) -> tuple[Tensor, Tensor, int, int]:
    """``float64`` solutions ``(B, H, W)`` of a chunk of systems (0 on kept
    pixels), their final ``float64`` residuals ``(B,)``, the refinements and the
    most iterations a system took. CG starts from ``start`` on the removed
    pixels, or from the mean of the kept pixels when ``None``."""
    centre64 = _centre_weights(*values.shape[-2:], torch.float64, values.device)
    if start is None:
        solution = _kept_mean_start(values, removed)
    else:
        solution = torch.where(removed, start, 0.0)
    rhs = _rhs12(values, removed)
    used = torch.zeros(values.shape[0], dtype=torch.long, device=values.device)
    tol12 = 12 * tol
    refinements = 0
    residual = rhs - _apply12(solution, centre64, removed)
    worst = residual.abs().amax(dim=(1, 2))
    for round_ in range(_MAX_ROUNDS):
        open_ = (worst > tol12) & (used < max_iter)
        if not bool(open_.any()):
            break
        refinements += round_ > 0
        rows = open_.nonzero().squeeze(1)
        correction, taken = _pcg32(
            residual[rows].float(),
            removed[rows],
            _FLOAT32_MARGIN * tol12,
            max_iter - used[rows],
        )
        used[rows] += taken
        solution[rows] += correction.to(torch.float64)
        residual[rows] = rhs[rows] - _apply12(solution[rows], centre64, removed[rows])
        worst[rows] = residual[rows].abs().amax(dim=(1, 2))
    return solution, worst / 12, refinements, int(used.max()) if used.numel() else 0


# ---------------------------------------------------------------- chunking


def _synthetic_systems(count: int, height: int, width: int, device) -> tuple:
    """Random images with half their pixels removed in 8x8 blocks (a ROAD-like
    mix of holes and isolated pixels), from a fixed generator."""
    generator = torch.Generator().manual_seed(0)
    values = torch.rand(count, height, width, generator=generator, dtype=torch.float64)
    blocks = torch.rand(count, (height + 7) // 8, (width + 7) // 8, generator=generator)
    removed = blocks.repeat_interleave(8, 1).repeat_interleave(8, 2)
    removed = removed[:, :height, :width] < 0.5
    return values.to(device), removed.to(device)


def _time_per_system(chunk: int, height: int, width: int, device) -> float:
    """Seconds per system of ``_CALIBRATION_ITERATIONS`` iterations on a
    stack of ``chunk`` synthetic systems, the best of two."""
    values, removed = _synthetic_systems(chunk, height, width, device)
    limit = _CALIBRATION_ITERATIONS
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        _solve_chunk(values, removed, IMPUTATION_TOL, limit)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best / chunk


def measured_chunk_systems(height: int, width: int, device=None) -> int:
    """Systems per chunk of :func:`linear_imputation` on ``device``, measured.

    On the CPU the solver's stack is timed once per process and image size at
    1, 3, 6, 12, 24 and 48 systems (half the pixels removed in 8x8 blocks, 30
    iterations each); the smallest count within 10% of the fastest per system
    wins, so a stacked call
    costs per system at most what one system alone costs. The search stops once
    a count is 25% slower than the best. On a GPU every system goes in one
    chunk (the answer is 0, meaning all; :func:`linear_imputation` then caps a
    chunk at a quarter of the device's free memory).

    Args:
        height (int): image height.
        width (int): image width.
        device (torch.device or str, optional): default: the CPU.

    Returns:
        int: the chunk's system count, or 0 for all at once.

    Examples::

        >>> measured_chunk_systems(224, 224)  # e.g. 3 on a laptop CPU
    """
    device = torch.device("cpu" if device is None else device)
    if device.type != "cpu":
        return 0
    key = (str(device), int(height), int(width))
    if key not in _MEASURED:
        costs: dict[int, float] = {}
        for chunk in _CANDIDATE_CHUNKS:
            costs[chunk] = _time_per_system(chunk, height, width, device)
            if costs[chunk] > 1.25 * min(costs.values()):
                break
        best = min(costs.values())
        _MEASURED[key] = min(c for c, cost in costs.items() if cost <= 1.1 * best)
    return _MEASURED[key]


#: Bytes per pixel of one system in :func:`_solve_chunk`, with room to spare:
#: about 170 at the peak (five ``float64`` arrays and the ``float64`` stencil's
#: temporaries, seven ``float32`` CG vectors and their temporaries, and the
#: multigrid levels' masks and V-cycle temporaries, a third more on the coarse
#: grids). An estimate: not yet measured on a GPU.
_BYTES_PER_PIXEL = 224
#: The share of an accelerator's free memory one chunk may take.
_MEMORY_SHARE = 0.25


def _fitting_systems(count: int, height: int, width: int, device) -> int:
    """All ``count`` systems, or on a CUDA device as many as fit in a quarter
    of its free memory (at least 1)."""
    if torch.device(device).type != "cuda":
        return max(count, 1)
    free, _ = torch.cuda.mem_get_info(device)
    fitting = int(_MEMORY_SHARE * free) // (_BYTES_PER_PIXEL * height * width)
    return max(1, min(count, fitting))


# ---------------------------------------------------------------- entry points


def check_imputation_inputs(images: Tensor, mask: Tensor) -> None:
    """Raise :class:`ValueError` naming ``images`` or ``mask`` when they do not
    fit: ``(N, C, H, W)`` floating point, ``(N, H, W)`` bool."""
    if images.ndim != 4:
        raise ValueError(f"`images` must be (N, C, H, W), got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"`images` must be floating point, got {images.dtype}")
    batch, _, height, width = images.shape
    if mask.dtype != torch.bool:
        raise ValueError(f"`mask` must be a bool tensor, got {mask.dtype}")
    if tuple(mask.shape) != (batch, height, width):
        raise ValueError(
            f"`mask` has shape {tuple(mask.shape)}, expected (N, H, W) = "
            f"{(batch, height, width)}"
        )


def check_solver_options(tol: float, max_iter: int | None) -> None:
    """Raise :class:`ValueError` naming ``tol`` or ``max_iter`` when invalid."""
    if not tol > 0:
        raise ValueError(f"`tol` must be positive, got {tol}")
    if max_iter is not None and max_iter < 1:
        raise ValueError(f"`max_iter` must be positive or None, got {max_iter}")


def _warn_unconverged(worst: float, tol: float, limit: int) -> None:
    warnings.warn(
        f"ROAD imputation: conjugate gradient stopped after {limit} iterations "
        f"with a residual of {worst:.3g} > tol={tol:g}",
        RuntimeWarning,
        stacklevel=3,
    )


def linear_imputation(
    images: Tensor,
    mask: Tensor,
    tol: float = IMPUTATION_TOL,
    max_iter: int | None = None,
    *,
    chunk_systems: int | None = None,
    stats: SolveStats | None = None,
    start: Tensor | None = None,
) -> Tensor:
    r"""The noise-free linear imputation of the masked pixels, in ``float64``.

    Every image-and-channel system is solved by Jacobi-preconditioned conjugate
    gradient in ``float32`` (slice stencil, converged systems leave the stack),
    then checked in ``float64``: a system whose residual exceeds ``tol`` on some
    removed pixel is refined from its ``float64`` residual. A
    :class:`RuntimeWarning` says when ``max_iter`` iterations (all rounds) did
    not reach ``tol``. Kept pixels are returned exactly; each system stops on
    its own criterion, so the result does not depend on the batch.

    Args:
        images (Tensor): ``(N, C, H, W)`` floating-point images.
        mask (Tensor): ``(N, H, W)`` bool, ``True`` on the pixels to impute.
        tol (float): the largest ``float64`` residual accepted per removed pixel
            and channel, in image units. Default: ``1e-6``
        max_iter (int, optional): the most CG iterations per system; ``None``
            means ``10 * (H + W) + 100``. Default: None
        chunk_systems (int, optional): systems solved together; ``None``:
            :func:`measured_chunk_systems` for the images' device; 0: all (on a
            CUDA device, as many as fit in a quarter of its free memory).
            Default: None
        stats (SolveStats, optional): filled with what the call did.
        start (Tensor, optional): ``(N, C, H, W)`` the values CG starts from on
            the removed pixels, e.g. the imputation of a subset of the removed
            pixels with the image's own values elsewhere (a warm start: the
            removed sets of ROAD's fractions are nested). ``None``: the mean of
            each channel's kept pixels. The stopping criterion is the same
            either way, so the answers differ only within the tolerance.
            Default: None

    Returns:
        ``(N, C, H, W)`` ``float64`` tensor on the images' device.

    Examples::

        >>> images = torch.rand(2, 3, 8, 8)
        >>> mask = torch.zeros(2, 8, 8, dtype=torch.bool)
        >>> mask[:, 2:5, 2:5] = True
        >>> out = linear_imputation(images, mask)
        >>> bool((out[:, :, 0] == images[:, :, 0].double()).all())
        True
    """
    check_imputation_inputs(images, mask)
    check_solver_options(tol, max_iter)
    batch, channels, height, width = images.shape
    with torch.no_grad():
        values = images.detach().to(torch.float64)
        removed = mask.to(values.device).unsqueeze(1).expand_as(values)
        out = values.clone()
        flat_values = values.reshape(-1, height, width)
        flat_removed = removed.reshape(-1, height, width)
        flat_out = out.view(-1, height, width)
        flat_start = None
        if start is not None:
            if tuple(start.shape) != tuple(images.shape):
                raise ValueError(
                    f"`start` has shape {tuple(start.shape)}, expected "
                    f"{tuple(images.shape)}"
                )
            flat_start = start.detach().to(values).reshape(-1, height, width)
        systems = flat_removed.any(dim=(1, 2)).nonzero().squeeze(1)
        chunk = (
            measured_chunk_systems(height, width, values.device)
            if chunk_systems is None
            else int(chunk_systems)
        )
        if chunk <= 0:
            chunk = _fitting_systems(systems.numel(), height, width, values.device)
        limit = default_max_iter(height, width) if max_iter is None else max_iter
        worst, refinements, iterations = 0.0, 0, 0
        for start in range(0, systems.numel(), max(chunk, 1)):
            rows = systems[start : start + chunk]
            part_removed = flat_removed[rows]
            solution, residual, rounds, steps = _solve_chunk(
                flat_values[rows],
                part_removed,
                tol,
                limit,
                None if flat_start is None else flat_start[rows],
            )
            flat_out[rows] = torch.where(part_removed, solution, flat_values[rows])
            worst = max(worst, float(residual.max()))
            refinements, iterations = max(refinements, rounds), max(iterations, steps)
    if stats is not None:
        stats.systems, stats.chunk_systems = int(systems.numel()), chunk
        stats.refinements, stats.worst_residual = refinements, worst
        stats.iterations = iterations
    if worst > tol:
        _warn_unconverged(worst, tol, limit)
    return out


# ---------------------------------------------------------------- the oracle


def _neighbour_sum(values: Tensor) -> Tensor:
    """``sum_j w_ij v_j`` over each pixel's in-image neighbours; ``(B, 1, H, W)``."""
    kernel = torch.tensor(ROAD_NEIGHBOUR_WEIGHTS, dtype=values.dtype)
    return F.conv2d(values, kernel.to(values.device).view(1, 1, 3, 3), padding=1)


def _initial_guess(flat: Tensor, removed: Tensor) -> Tensor:
    """Per system, the mean of the kept pixels (0 if none) on the removed ones."""
    kept = 1.0 - removed
    count = kept.sum(dim=(2, 3), keepdim=True)
    total = (flat * kept).sum(dim=(2, 3), keepdim=True)
    mean = torch.where(count > 0, total / count.clamp_min(1.0), torch.zeros_like(total))
    return mean * removed


def _cg_step_sizes(numerator: Tensor, denominator: Tensor) -> Tensor:
    """``numerator / denominator`` per system, 0 where the denominator is 0."""
    safe = torch.where(denominator != 0, denominator, torch.ones_like(denominator))
    return torch.where(denominator != 0, numerator / safe, torch.zeros_like(safe))


def _conjugate_gradient(
    apply: Callable[[Tensor], Tensor],
    rhs: Tensor,
    start: Tensor,
    diagonal: Tensor,
    tol: float,
    max_iter: int,
) -> tuple[Tensor, float]:
    """Jacobi-preconditioned CG, batched over the leading dimension.

    A system stops moving once its own residual is at most ``tol``. Returns the
    solution and the largest final residual.
    """
    dims = (1, 2, 3)
    solution = start.clone()
    residual = rhs - apply(solution)
    precond = residual / diagonal
    direction = precond.clone()
    rz = (residual * precond).sum(dim=dims, keepdim=True)
    for _ in range(max_iter):
        active = residual.abs().amax(dim=dims, keepdim=True) > tol
        if not bool(active.any()):
            break
        product = apply(direction)
        alpha = _cg_step_sizes(rz, (direction * product).sum(dim=dims, keepdim=True))
        alpha = torch.where(active, alpha, torch.zeros_like(alpha))
        solution = solution + alpha * direction
        residual = residual - alpha * product
        precond = residual / diagonal
        rz_next = (residual * precond).sum(dim=dims, keepdim=True)
        step = precond + _cg_step_sizes(rz_next, rz) * direction
        direction = torch.where(active, step, direction)
        rz = rz_next
    worst = float(residual.abs().amax()) if residual.numel() else 0.0
    return solution, worst


def reference_linear_imputation(
    images: Tensor,
    mask: Tensor,
    tol: float = IMPUTATION_TOL,
    max_iter: int | None = None,
) -> Tensor:
    r"""The ROAD study's former solver, kept as the test oracle; ``float64``.

    Jacobi-preconditioned conjugate gradient in ``float64`` over every system of
    the batch in one stack, the matrix applied as a ``3x3`` ``conv2d``. Each
    system stops once its recursively updated residual is at most ``tol`` on
    every removed pixel. Slow on a large stack (the ``float64`` convolution
    scales badly with the stack); :func:`linear_imputation` is the fast solver
    of the same systems.

    Args:
        images (Tensor): ``(N, C, H, W)`` floating-point images.
        mask (Tensor): ``(N, H, W)`` bool, ``True`` on the pixels to impute.
        tol (float): the residual tolerance. Default: ``1e-6``
        max_iter (int, optional): ``None`` means ``10 * (H + W) + 100``.

    Returns:
        ``(N, C, H, W)`` ``float64`` tensor.

    Examples::

        >>> expected = reference_linear_imputation(images, mask)
    """
    check_imputation_inputs(images, mask)
    check_solver_options(tol, max_iter)
    batch, channels, height, width = images.shape
    flat = images.detach().to(torch.float64).reshape(batch * channels, 1, height, width)
    removed = mask.to(flat.device, torch.float64).repeat_interleave(channels, dim=0)
    removed = removed.unsqueeze(1)
    weight_sum = _neighbour_sum(torch.ones_like(removed[:1]))
    rhs = _neighbour_sum(flat * (1.0 - removed)) * removed
    diagonal = torch.where(removed > 0, weight_sum, torch.ones_like(removed))

    def apply(values: Tensor) -> Tensor:
        return (weight_sum * values - _neighbour_sum(values)) * removed

    limit = default_max_iter(height, width) if max_iter is None else max_iter
    with torch.no_grad():
        start = _initial_guess(flat, removed)
        solution, worst = _conjugate_gradient(apply, rhs, start, diagonal, tol, limit)
    if worst > tol:
        _warn_unconverged(worst, tol, limit)
    imputed = torch.where(removed > 0, solution, flat)
    return imputed.reshape(batch, channels, height, width)
