"""The SP entropy engine against exact answers: one point, far-apart points, hypercube corners, bounds."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from scipy import integrate

from infoflow import sp_entropy
from infoflow.entropy import (
    dense_quadrature_entropy,
    gaussian_entropy,
    monte_carlo_entropy,
    quadrature_entropy,
    smoothed_density,
)

BETA = 0.05
# The quadrature's own error is ~1e-9 nats (Hermite truncation ~3e-10 relative, spectrally small
# trapezoid error); the bar is 1e-6.
QUADRATURE_TOLERANCE = 1e-6


def two_point_entropy(distance: float, beta: float) -> float:
    """h of 0.5 N(0, beta^2) + 0.5 N(distance, beta^2) by adaptive scipy quadrature (independent of ours)."""

    def integrand(t: float) -> float:
        log_parts = [-0.5 * (t / beta) ** 2, -0.5 * ((t - distance) / beta) ** 2]
        top = max(log_parts)
        log_density = (
            top + math.log(sum(math.exp(v - top) for v in log_parts)) - math.log(2 * beta * math.sqrt(2 * math.pi))
        )
        return -math.exp(log_density) * log_density

    lo, hi = -15 * beta, distance + 15 * beta
    # Split at the components so quad sees smooth pieces.
    knots = sorted({lo, 0.0, distance / 2, distance, hi})
    return sum(
        integrate.quad(integrand, a, b, epsabs=1e-14, epsrel=1e-13, limit=200)[0] for a, b in zip(knots[:-1], knots[1:])
    )


# ------------------------------------------------------------------------------------------ closed forms


@pytest.mark.parametrize("dim", [1, 2])
def test_one_point_is_the_gaussian_entropy(dim: int) -> None:
    assert sp_entropy(np.zeros((1, dim)), BETA, method="quadrature") == pytest.approx(
        gaussian_entropy(dim, BETA), abs=1e-9
    )


def test_one_point_monte_carlo_in_five_dimensions() -> None:
    value, std_error = sp_entropy(np.ones((1, 5)), BETA, method="monte_carlo", n_noise=4000, return_std_error=True)
    assert abs(value - gaussian_entropy(5, BETA)) < 4 * std_error


@pytest.mark.parametrize("dim,k", [(1, 2), (1, 7), (2, 4), (2, 9)])
def test_far_apart_points_add_log_k(dim: int, k: int) -> None:
    # Points 40 beta apart: the overlap terms are ~exp(-200), far below float64 resolution.
    grid_side = math.ceil(k ** (1 / dim))
    coords = np.stack(np.meshgrid(*[np.arange(grid_side)] * dim, indexing="ij"), -1).reshape(-1, dim)[:k]
    points = 40 * BETA * coords
    expected = math.log(k) + gaussian_entropy(dim, BETA)
    assert sp_entropy(points, BETA, method="quadrature") == pytest.approx(expected, abs=1e-9)


def test_far_apart_points_monte_carlo_in_five_dimensions() -> None:
    points = 40 * BETA * np.eye(5)
    value, std_error = sp_entropy(points, BETA, method="monte_carlo", n_noise=2000, return_std_error=True)
    assert abs(value - (math.log(5) + gaussian_entropy(5, BETA))) < 4 * std_error


@pytest.mark.parametrize("distance_in_beta", [0.01, 0.7, 2.0, 3.5, 6.0])
def test_two_points_match_an_independent_integral(distance_in_beta: float) -> None:
    distance = distance_in_beta * BETA
    expected = two_point_entropy(distance, BETA)
    assert sp_entropy([0.0, distance], BETA, method="quadrature") == pytest.approx(expected, abs=1e-9)


def test_independent_coordinates_add_in_two_dimensions() -> None:
    # Corners of a square of side a: the mixture factorises into two two-point mixtures.
    side = 1.7 * BETA
    corners = side * np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    assert sp_entropy(corners, BETA, method="quadrature") == pytest.approx(2 * two_point_entropy(side, BETA), abs=1e-9)


@pytest.mark.parametrize("dim", [3, 4])
def test_independent_coordinates_add_monte_carlo(dim: int) -> None:
    side = 1.7 * BETA
    corners = side * np.array(np.meshgrid(*[[0.0, 1.0]] * dim, indexing="ij")).reshape(dim, -1).T
    value, std_error = sp_entropy(corners, BETA, method="monte_carlo", n_noise=400, return_std_error=True)
    assert abs(value - dim * two_point_entropy(side, BETA)) < 4 * std_error


def test_sp_underestimates_the_true_entropy_on_average() -> None:
    # E[h(P_hat * phi)] <= h(P * phi) by concavity of entropy; for X ~ N(0, s^2) the right side is
    # 0.5 log(2 pi e (s^2 + beta^2)). With n = 50 points the gap is large (~0.1 nats) against the
    # standard error of the mean over 40 draws (~0.01).
    scale = 0.3
    generator = torch.Generator().manual_seed(5)
    draws = torch.randn(40, 50, 1, generator=generator, dtype=torch.float64) * scale
    values = sp_entropy(draws, BETA, method="quadrature")
    truth = 0.5 * math.log(2 * math.pi * math.e * (scale**2 + BETA**2))
    mean, std_error = float(values.mean()), float(values.std()) / math.sqrt(40)
    assert mean < truth - 3 * std_error


# ------------------------------------------------------------------------------------------ quadrature


@pytest.mark.parametrize("scale", [0.0, 0.02, 0.1, 0.5, 2.0])
def test_quadrature_matches_the_dense_reference(scale: float) -> None:
    generator = torch.Generator().manual_seed(1)
    points = torch.randn(6, 400, 1, generator=generator, dtype=torch.float64) * scale
    # Add clustered sets: the shape network layers take.
    clusters = torch.tensor([-1.0, 0.0, 0.3, 2.0], dtype=torch.float64)
    clustered = clusters[torch.randint(4, (4, 400, 1), generator=generator)] + 0.3 * BETA * torch.randn(
        4, 400, 1, generator=generator, dtype=torch.float64
    )
    points = torch.cat([points, clustered])
    reference = dense_quadrature_entropy(points, BETA, step_ratio=0.1, padding=12.0)
    assert torch.allclose(quadrature_entropy(points, BETA), reference, rtol=0, atol=QUADRATURE_TOLERANCE)


def test_quadrature_in_two_dimensions_matches_a_dense_grid() -> None:
    generator = torch.Generator().manual_seed(2)
    points = torch.randn(1, 60, 2, generator=generator, dtype=torch.float64) * 0.1
    step = 0.1 * BETA
    lo = points.amin(1)[0] - 10 * BETA
    hi = points.amax(1)[0] + 10 * BETA
    axes = [torch.arange(float(lo[i]), float(hi[i]) + step, step, dtype=torch.float64) for i in range(2)]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)
    squared = ((grid.unsqueeze(1) - points[0].unsqueeze(0)) ** 2).sum(-1)
    density = torch.exp(-squared / (2 * BETA**2)).mean(1) / (2 * math.pi * BETA**2)
    positive = density[density > 0]
    reference = float(-(positive * positive.log()).sum() * step**2)
    assert float(quadrature_entropy(points, BETA)[0]) == pytest.approx(reference, abs=QUADRATURE_TOLERANCE)


def test_batched_equals_unbatched_quadrature() -> None:
    generator = torch.Generator().manual_seed(3)
    # Sets of very different spans share one call.
    scales = torch.tensor([0.001, 0.05, 1.0, 4.0], dtype=torch.float64).view(4, 1, 1)
    points = torch.randn(4, 300, 1, generator=generator, dtype=torch.float64) * scales
    batched = sp_entropy(points, BETA)
    single = [sp_entropy(points[i, :, 0], BETA) for i in range(4)]
    assert batched.shape == (4,)
    assert batched.tolist() == pytest.approx(single, abs=1e-12)
    nested = sp_entropy(points.view(2, 2, 300, 1), BETA)
    assert nested.shape == (2, 2)
    assert torch.equal(nested.reshape(-1), batched)


def test_two_dimensional_batch_equals_single_sets() -> None:
    generator = torch.Generator().manual_seed(4)
    points = torch.randn(3, 100, 2, generator=generator, dtype=torch.float64) * torch.tensor(
        [0.02, 0.2, 0.5], dtype=torch.float64
    ).view(3, 1, 1)
    batched = sp_entropy(points, BETA, method="quadrature")
    single = [sp_entropy(points[i], BETA, method="quadrature") for i in range(3)]
    assert batched.tolist() == pytest.approx(single, abs=1e-12)


# ------------------------------------------------------------------------------------------ Monte Carlo


def test_monte_carlo_matches_quadrature_within_four_standard_errors() -> None:
    generator = torch.Generator().manual_seed(6)
    points = torch.randn(5, 500, 1, generator=generator, dtype=torch.float64) * torch.linspace(
        0.01, 1.0, 5, dtype=torch.float64
    ).view(5, 1, 1)
    exact = quadrature_entropy(points, BETA)
    estimate = monte_carlo_entropy(points, BETA, n_noise=8, seed=11)
    assert ((estimate.nats - exact).abs() < 4 * estimate.std_error).all()


def test_monte_carlo_matches_quadrature_in_two_dimensions() -> None:
    generator = torch.Generator().manual_seed(7)
    points = torch.randn(3, 300, 2, generator=generator, dtype=torch.float64) * 0.2
    exact = quadrature_entropy(points, BETA)
    estimate = monte_carlo_entropy(points, BETA, n_noise=10, seed=12)
    assert ((estimate.nats - exact).abs() < 4 * estimate.std_error).all()


def test_monte_carlo_standard_error_falls_as_one_over_root_m() -> None:
    generator = torch.Generator().manual_seed(8)
    points = torch.randn(1, 400, 3, generator=generator, dtype=torch.float64) * 0.2
    small = monte_carlo_entropy(points, BETA, n_noise=4, seed=1).std_error.item()
    large = monte_carlo_entropy(points, BETA, n_noise=64, seed=1).std_error.item()
    # Expected ratio sqrt(64/4) = 4; each SE estimate has relative error ~1/sqrt(2 N) <= 2.5 %
    # (N = 1600 evaluation points), so the ratio is within about 10 % of 4.
    assert large * 4 == pytest.approx(small, rel=0.1)


def test_monte_carlo_default_meets_the_target_standard_error() -> None:
    generator = torch.Generator().manual_seed(9)
    points = torch.randn(2, 200, 4, generator=generator, dtype=torch.float64) * 0.3
    estimate = monte_carlo_entropy(points, BETA, target_std_error=0.01)
    # The pilot's SD estimate has ~2 % relative error, so allow the SE 5 % over target.
    assert float(estimate.std_error.max()) <= 0.0105
    _, std_error = sp_entropy(points[0], BETA, return_std_error=True)
    assert std_error <= 0.0105


def test_monte_carlo_is_reproducible() -> None:
    points = np.random.default_rng(0).normal(size=(100, 3))
    first = sp_entropy(points, BETA, method="monte_carlo", seed=3)
    assert sp_entropy(points, BETA, method="monte_carlo", seed=3) == first
    assert sp_entropy(points, BETA, method="monte_carlo", seed=4) != first
    generator = torch.Generator().manual_seed(3)
    assert sp_entropy(points, BETA, method="monte_carlo", generator=generator) == first


@pytest.mark.slow
def test_monte_carlo_memory_stays_bounded_for_large_n() -> None:
    # n = 30000 points: the full kernel matrix would take 30000^2 * 8 B = 7.2 GB. The tiled
    # evaluation must stay far below the 512 MB budget.
    script = textwrap.dedent(
        """
        import resource, torch
        from infoflow.entropy import monte_carlo_entropy
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        points = torch.randn(1, 30000, 3, dtype=torch.float64)
        monte_carlo_entropy(points, 0.05, n_noise=1)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) // 1024)
        """
    )
    grown_mb = int(
        subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout.strip()
    )
    assert grown_mb < 512


# ------------------------------------------------------------------------------------------ interface


def test_huge_ranges_stay_exact() -> None:
    # 1e5 beta apart: quadrature; 1e9 beta apart: "auto" falls back to Monte Carlo (the grid would be too large), whose
    # exponent switches to exact differences; three far-apart points give log 3 exactly, because
    # every cross term underflows to 0.
    far = np.array([0.0, 5e3, 3e3])
    expected = math.log(3) + gaussian_entropy(1, BETA)
    assert sp_entropy(far, BETA, method="quadrature") == pytest.approx(expected, abs=1e-9)
    value, std_error = sp_entropy(far * 1e4, BETA, return_std_error=True)
    assert abs(value - expected) < 4 * std_error + 1e-9


def test_auto_avoids_a_two_dimensional_grid_too_large_for_memory() -> None:
    # 1200 beta on each axis: a 4800^2 grid would take ~70 GiB; "auto" integrates by Monte Carlo.
    far = np.array([[0.0, 0.0], [60.0, 60.0]])
    value, std_error = sp_entropy(far, BETA, return_std_error=True)
    assert std_error > 0
    assert abs(value - (math.log(2) + gaussian_entropy(2, BETA))) < 4 * std_error + 1e-9


def test_auto_picks_quadrature_in_one_dimension_and_by_cost_in_two() -> None:
    wide = np.random.default_rng(1).normal(size=(50, 1))
    assert sp_entropy(wide, BETA) == sp_entropy(wide, BETA, method="quadrature")
    # 2-D: a compact set's grid is small, so quadrature; a set 50 beta wide needs a grid of ~7e4
    # points (~0.2 s) where 50 centres cost Monte Carlo ~10 ms at the default target: Monte Carlo.
    compact = np.random.default_rng(1).normal(size=(500, 2)) * BETA
    assert sp_entropy(compact, BETA) == sp_entropy(compact, BETA, method="quadrature")
    wide2 = np.random.default_rng(1).normal(size=(50, 2))
    assert sp_entropy(wide2, BETA) == sp_entropy(wide2, BETA, method="monte_carlo")
    points3 = np.random.default_rng(1).normal(size=(50, 3))
    assert sp_entropy(points3, BETA) == sp_entropy(points3, BETA, method="monte_carlo")


def test_return_types() -> None:
    assert isinstance(sp_entropy(np.zeros(5), BETA), float)
    assert isinstance(sp_entropy(torch.zeros(5, 1), BETA), float)
    batch = sp_entropy(torch.zeros(2, 3, 5, 1), BETA)
    assert isinstance(batch, torch.Tensor) and batch.shape == (2, 3) and batch.dtype == torch.float64
    value, std_error = sp_entropy(np.zeros(5), BETA, return_std_error=True)
    assert std_error == 0.0


def test_float32_and_integer_samples_are_accepted() -> None:
    expected = math.log(2) + gaussian_entropy(1, BETA)
    assert sp_entropy(torch.tensor([0.0, 10.0], dtype=torch.float32), BETA) == pytest.approx(expected, abs=1e-9)
    assert sp_entropy(np.array([0, 10]), BETA) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    "samples,beta,kwargs,message",
    [
        ([0.0, float("nan")], BETA, {}, "NaN"),
        ([0.0, float("inf")], BETA, {}, "NaN or infinite"),
        (np.zeros(0), BETA, {}, "at least one point"),
        (np.zeros((0, 2)), BETA, {}, "at least one point"),
        (np.zeros((3, 0)), BETA, {}, "at least one point"),
        (np.zeros((0, 3, 1)), BETA, {}, "empty"),
        (1.0, BETA, {}, "scalar"),
        (["a", "b"], BETA, {}, "real numbers"),
        ([0.0, 1.0], 0.0, {}, "beta"),
        ([0.0, 1.0], -1.0, {}, "beta"),
        ([0.0, 1.0], float("nan"), {}, "beta"),
        ([0.0, 1.0], BETA, {"method": "simpson"}, "method"),
        (np.zeros((4, 3)), BETA, {"method": "quadrature"}, "dimension 1 or 2"),
        (np.zeros((4, 3)), BETA, {"method": "monte_carlo", "n_noise": 0}, "n_noise"),
        ([0.0, 1e30], BETA, {}, "float64 cannot resolve"),
        ([0.0, 1e7], BETA, {"method": "quadrature"}, "use method='monte_carlo'"),
        ([[0.0, 0.0], [60.0, 60.0]], BETA, {"method": "quadrature"}, "GiB for one set"),
    ],
)
def test_bad_input_raises_a_clear_value_error(samples, beta, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        sp_entropy(samples, beta, **kwargs)


def test_smoothed_density_integrates_to_one_per_unit() -> None:
    samples = torch.tensor([[0.0, 1.0], [0.5, 1.0], [2.0, -1.0]], dtype=torch.float64)
    grid = torch.linspace(-2, 4, 6001, dtype=torch.float64)
    density = smoothed_density(samples, grid, BETA)
    assert density.shape == (2, 6001)
    mass = torch.trapezoid(density, grid, dim=-1)
    assert torch.allclose(mass, torch.ones(2, dtype=torch.float64), atol=1e-9)
    # At a sample far from the others the density is phi_beta(0) / n.
    peak = density[0, torch.argmin((grid - 2.0).abs())]
    assert float(peak) == pytest.approx(1 / (3 * BETA * math.sqrt(2 * math.pi)), rel=1e-9)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_tensors_give_the_cpu_numbers() -> None:
    generator = torch.Generator().manual_seed(10)
    points = torch.randn(3, 200, 1, generator=generator, dtype=torch.float64)
    on_gpu = sp_entropy(points.cuda(), BETA)
    assert on_gpu.device.type == "cuda"
    assert torch.allclose(on_gpu.cpu(), sp_entropy(points, BETA), atol=1e-10)
    estimate = monte_carlo_entropy(points.cuda().expand(3, 200, 1).reshape(3, 200, 1), BETA, n_noise=4)
    assert estimate.nats.device.type == "cuda"


def test_edges_of_floating_point_are_refused_or_exact() -> None:
    # A beta whose square leaves float64's normal range is refused; just inside it the answer is
    # the single-Gaussian closed form (the points' spread is negligible against beta).
    for beta in (1e300, 1e-160):
        with pytest.raises(ValueError, match="beta must lie in"):
            sp_entropy([0.0, 1.0], beta)
    assert sp_entropy([0.0, 1.0], 1e149) == pytest.approx(gaussian_entropy(1, 1e149), rel=1e-12)
    with pytest.raises(ValueError, match="complex"):
        sp_entropy(np.array([1 + 1j, 2.0]), BETA)
