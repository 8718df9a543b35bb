"""The fast ROAD imputation against a direct sparse solve and the former solver.

Both solvers stop once every removed pixel's ``float64`` residual is at most
``tol``, so each differs from the exact solution ``x*`` by at most
``||A^-1||_inf * residual`` per pixel, and from each other by at most the sum
of their bounds. The tests build ``A`` and ``b`` here, from the definition
(loops over the 8 neighbours), and solve with ``scipy.sparse.linalg.spsolve``.
"""

import warnings

import numpy as np
import pytest
import torch

from captum_contrastive.metrics import imputation
from captum_contrastive.metrics.imputation import (
    IMPUTATION_TOL,
    SolveStats,
    imputation_residual,
    linear_imputation,
    measured_chunk_systems,
    reference_linear_imputation,
)

sparse = pytest.importorskip("scipy.sparse")
linalg = pytest.importorskip("scipy.sparse.linalg")


def neighbour_system(image: np.ndarray, mask: np.ndarray):
    """``A`` (sparse), ``b`` and the removed pixels of one channel, by loops."""
    height, width = mask.shape
    unknowns = list(zip(*np.nonzero(mask), strict=True))
    position = {pixel: k for k, pixel in enumerate(unknowns)}
    rows, cols, vals = [], [], []
    rhs = np.zeros(len(unknowns))
    for k, (i, j) in enumerate(unknowns):
        total = 0.0
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                r, c = i + di, j + dj
                if (di, dj) == (0, 0) or not (0 <= r < height and 0 <= c < width):
                    continue
                w = 1 / 6 if di == 0 or dj == 0 else 1 / 12
                total += w
                if mask[r, c]:
                    rows.append(k), cols.append(position[(r, c)]), vals.append(-w)
                else:
                    rhs[k] += w * image[r, c]
        rows.append(k), cols.append(k), vals.append(total)
    size = len(unknowns)
    matrix = sparse.csc_matrix((vals, (rows, cols)), shape=(size, size))
    return matrix, rhs, unknowns


def exact_and_bound(image: np.ndarray, mask: np.ndarray):
    """``x*`` by ``spsolve``, ``||A^-1||_inf`` and a residual function."""
    matrix, rhs, unknowns = neighbour_system(image, mask)
    exact = linalg.spsolve(matrix, rhs)
    inverse_norm = np.abs(np.linalg.inv(matrix.toarray())).sum(axis=1).max()
    rows, cols = np.array(unknowns).T

    def residual(solution: np.ndarray) -> float:
        return float(np.abs(rhs - matrix @ solution[rows, cols]).max())

    return exact, inverse_norm, residual, (rows, cols)


def cases() -> tuple[torch.Tensor, torch.Tensor]:
    """Small images: random removals, a large hole, a hole at the border and a
    corner, one pixel, a thin line."""
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(5, 2, 14, 11, generator=generator)
    mask = torch.rand(5, 14, 11, generator=generator) < 0.5
    mask[1] = False
    mask[1, 2:12, 2:9] = True
    mask[2, :6, :] = True
    mask[2, 8:, 7:] = True
    mask[3] = False
    mask[3, 7, 5] = True
    mask[4] = False
    mask[4, :, 4] = True
    return images, mask


def test_fast_solver_is_within_its_bound_of_the_direct_sparse_solve() -> None:
    images, mask = cases()
    stats = SolveStats()
    out = linear_imputation(images, mask, stats=stats)
    assert out.dtype == torch.float64
    assert 0 < stats.worst_residual <= IMPUTATION_TOL
    for n in range(images.shape[0]):
        for ch in range(images.shape[1]):
            image = images[n, ch].double().numpy()
            exact, inverse_norm, residual, rows_cols = exact_and_bound(
                image, mask[n].numpy()
            )
            solution = out[n, ch].numpy()
            assert residual(solution) <= IMPUTATION_TOL
            error = np.abs(solution[rows_cols] - exact).max()
            assert error <= inverse_norm * IMPUTATION_TOL + 1e-12
    kept = ~mask.unsqueeze(1).expand_as(images)
    assert torch.equal(out[kept], images.double()[kept])


def test_fast_and_reference_solvers_agree_within_the_sum_of_their_bounds() -> None:
    images, mask = cases()
    fast = linear_imputation(images, mask)
    reference = reference_linear_imputation(images, mask)
    for n in range(images.shape[0]):
        for ch in range(images.shape[1]):
            _, inverse_norm, residual, rows_cols = exact_and_bound(
                images[n, ch].double().numpy(), mask[n].numpy()
            )
            bound = inverse_norm * (
                residual(fast[n, ch].numpy()) + residual(reference[n, ch].numpy())
            )
            gap = (fast[n, ch] - reference[n, ch]).abs().numpy()[rows_cols].max()
            assert gap <= bound + 1e-12


def test_the_float64_check_refines_past_float32_precision() -> None:
    # 1e-11 is far below what float32 iterations reach (about 1e-7): only the
    # float64 residual check and its refinement rounds get there.
    images, mask = cases()
    stats = SolveStats()
    out = linear_imputation(images, mask, tol=1e-11, stats=stats)
    assert stats.refinements >= 1
    assert stats.worst_residual <= 1e-11
    assert float(imputation_residual(images, out, mask).max()) <= 1e-11
    exact, _, _, rows_cols = exact_and_bound(
        images[1, 0].double().numpy(), mask[1].numpy()
    )
    assert np.abs(out[1, 0].numpy()[rows_cols] - exact).max() < 1e-9


def large_hole_case() -> tuple[torch.Tensor, torch.Tensor]:
    """A 40 x 36 image, large enough for three multigrid levels: a 26 x 22 hole
    (the slow case for Jacobi), a hole at the border and scattered pixels."""
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(1, 2, 40, 36, generator=generator)
    mask = torch.rand(1, 40, 36, generator=generator) < 0.3
    mask[0, 6:32, 5:27] = True
    mask[0, 34:, 30:] = True
    return images, mask


def test_multigrid_transfers_are_exact_transposes() -> None:
    generator = torch.Generator().manual_seed(2)
    for height, width in ((40, 36), (37, 41)):
        coarse_shape = ((height + 1) // 2, (width + 1) // 2)
        fine = torch.randn(3, height, width, generator=generator, dtype=torch.float64)
        coarse = torch.randn(3, *coarse_shape, generator=generator, dtype=torch.float64)
        left = (fine * imputation._prolong16(coarse, height, width)).sum()
        right = (coarse * imputation._restrict16(fine, *coarse_shape)).sum()
        assert float(left) == pytest.approx(float(right), rel=1e-12)
    # Interpolation of a constant is the constant away from the border.
    ones = imputation._prolong16(torch.ones(1, 5, 4), 10, 8) / 16
    assert torch.equal(ones[0, 1:-1, 1:-1], torch.ones(8, 6))


def test_vcycle_is_symmetric_positive_definite_on_several_levels() -> None:
    _, mask = large_hole_case()
    levels = imputation._levels(mask, torch.float64)
    assert [tuple(level.removed.shape[-2:]) for level in levels] == [
        (40, 36),
        (20, 18),
        (10, 9),
    ]
    # A coarse pixel is removed only when its whole 2 x 2 block is.
    assert bool(levels[1].removed[0, 4:15, 3:13].all())
    assert float(levels[1].removed.sum()) < float(levels[0].removed.sum()) / 4
    generator = torch.Generator().manual_seed(3)
    removed = levels[0].removed
    u, v = (
        torch.randn(1, 40, 36, generator=generator, dtype=torch.float64) * removed
        for _ in range(2)
    )
    uv = (u * imputation._vcycle(v, levels)).sum()
    vu = (v * imputation._vcycle(u, levels)).sum()
    assert float(uv) == pytest.approx(float(vu), rel=1e-10)
    assert float((u * imputation._vcycle(u, levels)).sum()) > 0
    # Scattered pixels alone get no coarse grid: Jacobi solves them quickly.
    scattered = torch.zeros(1, 40, 36, dtype=torch.bool)
    scattered[0, ::2, ::2] = True
    assert len(imputation._levels(scattered, torch.float32)) == 1


def test_multigrid_solves_a_large_hole_in_few_iterations_within_its_bound() -> None:
    images, mask = large_hole_case()
    stats = SolveStats()
    out = linear_imputation(images, mask, stats=stats)
    # Jacobi-preconditioned CG took 49 iterations on this hole, multigrid 8.
    assert stats.iterations <= 15
    for ch in range(images.shape[1]):
        exact, inverse_norm, residual, rows_cols = exact_and_bound(
            images[0, ch].double().numpy(), mask[0].numpy()
        )
        solution = out[0, ch].numpy()
        assert residual(solution) <= IMPUTATION_TOL
        assert np.abs(solution[rows_cols] - exact).max() <= inverse_norm * 1e-6


def test_warm_start_from_a_nested_removal_equals_the_cold_start_within_tol() -> None:
    images, mask = large_hole_case()
    smaller = mask.clone()
    smaller[0, 6:32, 5:16] = False  # removed by `mask` too: the sets are nested
    first = linear_imputation(images, smaller)
    cold = linear_imputation(images, mask)
    warm = linear_imputation(images, mask, start=first)
    for ch in range(images.shape[1]):
        _, inverse_norm, residual, rows_cols = exact_and_bound(
            images[0, ch].double().numpy(), mask[0].numpy()
        )
        assert residual(warm[0, ch].numpy()) <= IMPUTATION_TOL
        bound = inverse_norm * (
            residual(warm[0, ch].numpy()) + residual(cold[0, ch].numpy())
        )
        gap = (warm[0, ch] - cold[0, ch]).abs().numpy()[rows_cols].max()
        assert 0 < gap <= bound
    kept = ~mask.unsqueeze(1).expand_as(images)
    assert torch.equal(warm[kept], images.double()[kept])
    with pytest.raises(ValueError, match="`start` has shape"):
        linear_imputation(images, mask, start=first[:, :1])


def test_result_does_not_depend_on_the_chunks() -> None:
    images, mask = cases()
    whole = linear_imputation(images, mask, chunk_systems=0)
    for chunk in (1, 3):
        stats = SolveStats()
        part = linear_imputation(images, mask, chunk_systems=chunk, stats=stats)
        assert stats.chunk_systems == chunk and stats.systems == 10
        # Each system stops on its own residual: bounded like two solvers.
        torch.testing.assert_close(part, whole, atol=1e-5, rtol=0)
        assert float(imputation_residual(images, part, mask).max()) <= 1e-6


def test_nothing_removed_and_everything_removed() -> None:
    images = torch.rand(2, 3, 6, 5)
    mask = torch.zeros(2, 6, 5, dtype=torch.bool)
    mask[1] = True  # no kept pixel: the start, 0, stays
    stats = SolveStats()
    out = linear_imputation(images, mask, stats=stats)
    assert stats.systems == 3  # image 0's channels have nothing to solve
    assert torch.equal(out[0], images[0].double())
    assert torch.equal(out[1], torch.zeros_like(out[1]))
    assert torch.equal(reference_linear_imputation(images, mask), out)


def test_max_iter_reached_warns_and_says_the_residual() -> None:
    images = torch.rand(1, 1, 16, 16)
    mask = torch.zeros(1, 16, 16, dtype=torch.bool)
    mask[:, 2:14, 2:14] = True
    with pytest.warns(RuntimeWarning, match=r"after 3 iterations .* > tol=1e-06"):
        linear_imputation(images, mask, max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        linear_imputation(images, mask)


def test_chunk_size_is_measured_once_per_shape_and_all_on_an_accelerator() -> None:
    first = measured_chunk_systems(12, 9)
    assert first >= 1
    assert measured_chunk_systems(12, 9) == first
    assert measured_chunk_systems(12, 9, "meta") == 0


def test_residual_of_the_exact_solution_is_zero_up_to_rounding() -> None:
    images, mask = cases()
    exact = images.double().clone()
    for n in range(images.shape[0]):
        for ch in range(images.shape[1]):
            solution, _, _, (rows, cols) = exact_and_bound(
                images[n, ch].double().numpy(), mask[n].numpy()
            )
            exact[n, ch, rows, cols] = torch.from_numpy(solution)
    assert float(imputation_residual(images, exact, mask).max()) < 1e-14
    moved = exact.clone()
    moved[1, 0, 6, 5] += 1e-3  # a removed pixel: its equation is off by 1e-3
    assert float(imputation_residual(images, moved, mask)[1, 0]) == pytest.approx(
        1e-3, rel=1e-6
    )


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_solves_every_system_at_once_to_the_same_tolerance() -> None:
    images, mask = cases()
    stats = SolveStats()
    out = linear_imputation(images.cuda(), mask.cuda(), stats=stats)
    assert out.device.type == "cuda" and stats.chunk_systems == stats.systems
    assert stats.worst_residual <= IMPUTATION_TOL
    torch.testing.assert_close(
        out.cpu(), linear_imputation(images, mask), atol=1e-5, rtol=0
    )
