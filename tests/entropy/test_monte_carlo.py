"""The any-dimension Monte-Carlo engine: every path against closed forms and against each other.

Paths: dense and cut-off kernel sums, each with and without the |z|^2/2 control variate, single and
batched. Tolerances are 4 reported standard errors (plus float64 rounding of the constants, ~1e-12
nats, where the reported SE can be ~0), or come from closed forms.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from infoflow.entropy import EntropyEstimate, gaussian_entropy, monte_carlo_entropy, sp_entropy
from infoflow.entropy import monte_carlo as mc
from infoflow.entropy.dense import CLAMP_EXPONENT, dense_log_kernel_sums, dense_tile_rows
from infoflow.entropy.neighbours import NeighbourGrid, cutoff_cell_side, cutoff_log_kernel_sums

BETA = 0.05
# Rounding of log n + (d/2) log(2 pi e beta^2) and of the float64 sums: far below this.
ROUNDING = 1e-9
PATHS = list(itertools.product(("dense", "cutoff"), (True, False)))


def corners(dim: int, side: float) -> torch.Tensor:
    """The 2^dim corners of {0, side}^dim, shape (1, 2^dim, dim)."""
    return side * torch.tensor(list(itertools.product((0.0, 1.0), repeat=dim)), dtype=torch.float64).unsqueeze(0)


def corners_entropy(dim: int, side: float) -> float:
    """Exact h of the corner mixture: it factorises, so h = dim * h_1D(two points side apart)."""
    return dim * sp_entropy([0.0, side], BETA, method="quadrature")


def estimate(points, algorithm: str, control_variate: bool, **options) -> EntropyEstimate:
    points = torch.as_tensor(points, dtype=torch.float64)
    if points.ndim == 2:
        points = points.unsqueeze(0)
    return monte_carlo_entropy(points, BETA, algorithm=algorithm, control_variate=control_variate, **options)


def assert_within(result: EntropyEstimate, expected, sigmas: float = 4.0) -> None:
    expected = torch.as_tensor(expected, dtype=torch.float64)
    gap = (result.nats - expected).abs()
    assert bool((gap <= sigmas * result.std_error + ROUNDING).all()), (result.nats, expected, result.std_error)


# ------------------------------------------------------------------------------------------ closed forms


@pytest.mark.parametrize("algorithm,control_variate", PATHS)
def test_one_point(algorithm: str, control_variate: bool) -> None:
    result = estimate(np.full((1, 6), 0.3), algorithm, control_variate, target_std_error=0.02)
    assert_within(result, gaussian_entropy(6, BETA))


@pytest.mark.parametrize("algorithm,control_variate", PATHS)
def test_far_apart_points_add_log_k(algorithm: str, control_variate: bool) -> None:
    # 7 points 40 beta apart in 5-D: every cross term is < e^-800.
    points = 40 * BETA * np.vstack([np.eye(5), -np.eye(5)[:2]])
    result = estimate(points, algorithm, control_variate, target_std_error=0.02)
    assert_within(result, math.log(7) + gaussian_entropy(5, BETA))
    if control_variate:
        # L = 0 at every draw: the control variate removes all the noise.
        assert float(result.std_error[0]) < 1e-9


@pytest.mark.parametrize("algorithm,control_variate", PATHS)
@pytest.mark.parametrize("dim", [3, 6])
def test_hypercube_corners_add_across_coordinates(algorithm: str, control_variate: bool, dim: int) -> None:
    side = 1.7 * BETA
    result = estimate(corners(dim, side), algorithm, control_variate, target_std_error=0.01)
    assert result.algorithm == (algorithm,)
    assert_within(result, corners_entropy(dim, side))


@pytest.mark.parametrize("algorithm,control_variate", PATHS)
def test_single_gaussian_cloud_is_bracketed_by_gaussian_entropies(algorithm: str, control_variate: bool) -> None:
    # A cloud of 300 points of s.d. 0.5 beta: h lies between h(N(0, beta^2 I)) (convolution raises
    # entropy) and h of the Gaussian with the mixture's covariance (the maximum for that covariance).
    generator = torch.Generator().manual_seed(3)
    points = 0.5 * BETA * torch.randn(1, 100, 4, generator=generator, dtype=torch.float64)
    result = estimate(points, algorithm, control_variate, target_std_error=0.01)
    covariance = torch.cov(points[0].T, correction=0) + BETA**2 * torch.eye(4, dtype=torch.float64)
    upper = 0.5 * float(torch.logdet(2 * math.pi * math.e * covariance))
    lower = gaussian_entropy(4, BETA)
    se = float(result.std_error[0])
    assert lower - 4 * se <= float(result.nats[0]) <= upper + 4 * se
    assert upper - lower < 1.0  # a bracket this narrow makes the check meaningful


def test_fixed_n_noise_paths_match_closed_forms() -> None:
    side = 2.0 * BETA
    for algorithm, control_variate in PATHS:
        result = estimate(corners(4, side), algorithm, control_variate, n_noise=50)
        assert result.n_noise == 50 and int(result.n_evaluations[0]) == 50 * 16
        assert_within(result, corners_entropy(4, side))


# ------------------------------------------------------------------------------------------ paths agree


def test_dense_and_cutoff_agree_on_a_layer_like_set() -> None:
    generator = torch.Generator().manual_seed(4)
    weights = torch.randn(8, 5, generator=generator, dtype=torch.float64) / math.sqrt(8)
    inputs = torch.randint(0, 2, (1500, 8), generator=generator).to(torch.float64) * 2 - 1
    points = torch.tanh(inputs @ weights).unsqueeze(0)
    for beta in (0.01, 0.1):
        dense = monte_carlo_entropy(points, beta, algorithm="dense", seed=1)
        cutoff = monte_carlo_entropy(points, beta, algorithm="cutoff", seed=2)
        combined = math.hypot(float(dense.std_error[0]), float(cutoff.std_error[0]))
        assert abs(float(dense.nats[0]) - float(cutoff.nats[0])) <= 4 * combined + ROUNDING


def test_monte_carlo_matches_quadrature_in_two_dimensions_on_both_paths() -> None:
    generator = torch.Generator().manual_seed(5)
    points = torch.randn(2, 100, 2, generator=generator, dtype=torch.float64) * torch.tensor([0.1, 1.0]).view(
        2, 1, 1
    ).to(torch.float64)
    exact = torch.as_tensor(sp_entropy(points, BETA, method="quadrature"))
    for algorithm, control_variate in PATHS:
        assert_within(estimate(points, algorithm, control_variate, target_std_error=0.03, seed=7), exact)


def test_control_variate_needs_fewer_evaluations_when_clusters_separate() -> None:
    points = 20 * BETA * torch.randn(1, 400, 5, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    plain = estimate(points, "auto", False)
    controlled = estimate(points, "auto", True)
    assert int(controlled.n_evaluations[0]) < int(plain.n_evaluations[0]) / 10
    combined = math.hypot(float(plain.std_error[0]), float(controlled.std_error[0]))
    assert abs(float(plain.nats[0]) - float(controlled.nats[0])) <= 4 * combined


# ------------------------------------------------------------------------------------------ truncation


def test_cutoff_sum_stays_within_its_bound_of_the_dense_sum() -> None:
    # Adversarial: a cell side of 3 beta (far below the default ~10) and 3000 centres in a shell
    # 3-5 beta from the evaluation points, so many terms are dropped that are only just outside.
    generator = torch.Generator().manual_seed(8)
    direction = torch.randn(3000, 4, generator=generator, dtype=torch.float64)
    radius = 3 + 2 * torch.rand(3000, 1, generator=generator, dtype=torch.float64)
    centres = torch.cat(
        [torch.zeros(1, 4, dtype=torch.float64), direction / direction.norm(dim=1, keepdim=True) * radius]
    )
    centres = centres.unsqueeze(0)
    owners = torch.zeros(1, 400, dtype=torch.int64)
    noise = torch.randn(1, 400, 4, generator=generator, dtype=torch.float64)
    exact, _ = dense_log_kernel_sums(centres, owners, noise)
    grid = NeighbourGrid.build(centres, side=3.0)
    kept, bound = cutoff_log_kernel_sums(grid, owners, noise)
    dropped = exact - kept
    assert bool((dropped >= -1e-12).all())
    assert bool((dropped <= bound + 1e-12).all())
    assert float(dropped.max()) > 1e-3  # the test does drop terms that matter


def test_default_cutoff_bound_is_negligible() -> None:
    # h^2 = 2 * 40 + Z^2 with Z^2 a far-tail cap on |z|^2: the bound is <= n e^-40 per draw.
    assert cutoff_cell_side(10) ** 2 >= 80 + 10
    points = 40 * BETA * torch.randn(1, 2000, 6, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    result = monte_carlo_entropy(points, BETA, algorithm="cutoff")
    assert float(result.truncation_bound[0]) <= 2000 * math.exp(-40)
    assert float(result.truncation_bound[0]) >= 0


def test_float32_kernel_stays_within_its_error_bound() -> None:
    generator = torch.Generator().manual_seed(10)
    centres = 3 * torch.randn(2, 700, 5, generator=generator, dtype=torch.float64)
    owners = torch.randint(700, (2, 300), generator=generator)
    noise = torch.randn(2, 300, 5, generator=generator, dtype=torch.float64)
    wide, wide_bound = dense_log_kernel_sums(centres, owners, noise)
    narrow, narrow_bound = dense_log_kernel_sums(centres, owners, noise, kernel_dtype=torch.float32)
    assert bool(((wide - narrow).abs() <= narrow_bound + wide_bound).all())
    assert float(narrow_bound.max()) < 1e-5
    assert float(wide_bound.max()) >= 700 * math.exp(-CLAMP_EXPONENT)


# ------------------------------------------------------------------------------------------ honest SE


@pytest.mark.parametrize("algorithm,control_variate", PATHS)
def test_standard_error_is_honest_over_seeds(algorithm: str, control_variate: bool) -> None:
    # z = (estimate - truth) / SE over 30 seeds. If the SE is honest, z ~ N(0, 1) (up to the SE's
    # own ~5 % error), so the sample s.d. of 30 z-scores has s.d. ~ 1/sqrt(2 * 29) = 0.13 and the
    # mean has s.d. 1/sqrt(30) = 0.18; we allow 3.5 of those: s.d. in [0.54, 1.46], |mean| < 0.64.
    side = 2.0 * BETA
    truth = corners_entropy(4, side)
    points = corners(4, side)
    scores = []
    for seed in range(30):
        result = estimate(points, algorithm, control_variate, target_std_error=0.02, seed=seed)
        scores.append((float(result.nats[0]) - truth) / float(result.std_error[0]))
    scores = np.array(scores)
    assert 0.54 <= scores.std(ddof=1) <= 1.46, scores
    assert abs(scores.mean()) < 0.64, scores


# ------------------------------------------------------------------------------------------ batches


def test_batched_sets_match_single_sets_and_per_set_targets() -> None:
    generator = torch.Generator().manual_seed(11)
    scales = torch.tensor([0.02, 0.2, 1.0, 5.0, 0.1, 2.0], dtype=torch.float64).view(6, 1, 1)
    points = torch.randn(6, 200, 3, generator=generator, dtype=torch.float64) * scales
    targets = torch.tensor([0.01, 0.02, 0.01, 0.005, 0.03, 0.01], dtype=torch.float64)
    batched = monte_carlo_entropy(points, BETA, target_std_error=targets, seed=1)
    assert batched.nats.shape == (6,) and batched.std_error.shape == (6,)
    assert bool((batched.std_error <= 1.1 * targets).all())
    single = [monte_carlo_entropy(points[i : i + 1], BETA, seed=100 + i) for i in range(6)]
    for i, one in enumerate(single):
        combined = math.hypot(float(batched.std_error[i]), float(one.std_error[0]))
        assert abs(float(batched.nats[i]) - float(one.nats[0])) <= 4 * combined + ROUNDING
    # Per-set targets of the batch shape through the public function.
    values, errors = sp_entropy(
        points.view(2, 3, 200, 3), BETA, target_std_error=targets.view(2, 3), return_std_error=True
    )
    assert values.shape == (2, 3) and bool((errors <= 1.1 * targets.view(2, 3)).all())


def test_a_batch_mixes_dense_and_cutoff_sets() -> None:
    generator = torch.Generator().manual_seed(12)
    overlapping = 0.5 * BETA * torch.randn(1, 4000, 3, generator=generator, dtype=torch.float64)
    separated = 100 * BETA * torch.randn(1, 4000, 3, generator=generator, dtype=torch.float64)
    result = monte_carlo_entropy(torch.cat([overlapping, separated]), BETA)
    assert result.algorithm == ("dense", "cutoff")
    alone = monte_carlo_entropy(overlapping, BETA, seed=3)
    combined = math.hypot(float(result.std_error[0]), float(alone.std_error[0]))
    assert abs(float(result.nats[0]) - float(alone.nats[0])) <= 4 * combined
    # The separated set: between log n + h(N(0, beta^2 I)) minus its overlap (tiny) and that value.
    separated_limit = math.log(4000) + gaussian_entropy(3, BETA)
    assert float(result.nats[1]) <= separated_limit + 4 * float(result.std_error[1]) + ROUNDING
    assert float(result.nats[1]) > separated_limit - 0.05


def test_many_conditionals_at_once() -> None:
    # 100 sets of 300 points, the shape of a conditional batch, with no loop over sets in the engine.
    generator = torch.Generator().manual_seed(13)
    centres = torch.randn(100, 1, 4, generator=generator, dtype=torch.float64)
    points = centres + 0.3 * BETA * torch.randn(100, 300, 4, generator=generator, dtype=torch.float64)
    values, errors = sp_entropy(points, BETA, return_std_error=True, target_std_error=0.02)
    assert values.shape == (100,) and bool((errors <= 0.022).all())
    lower = gaussian_entropy(4, BETA)
    assert bool((values >= lower - 4 * errors).all())


@pytest.mark.slow
def test_five_hundred_conditionals_of_a_thousand_points() -> None:
    generator = torch.Generator().manual_seed(14)
    points = 0.5 * BETA * torch.randn(500, 1000, 5, generator=generator, dtype=torch.float64)
    values, errors = sp_entropy(points, BETA, return_std_error=True, target_std_error=0.03)
    assert values.shape == (500,) and bool((errors <= 0.033).all())
    assert bool((values >= gaussian_entropy(5, BETA) - 4 * errors).all())


# ------------------------------------------------------------------------------------------ memory, interface


@pytest.mark.parametrize("cutoff", [False, True])
def test_large_sets_are_tiled_within_the_memory_budget(cutoff: bool) -> None:
    # n = 1e5 points in d = 20: the estimate of the working memory stays below 512 MB.
    assert mc.peak_bytes(1, 100_000, 20, cutoff=cutoff) < 512 * 2**20
    assert mc.peak_bytes(500, 1000, 10, cutoff=cutoff) < 512 * 2**20
    assert dense_tile_rows(1, 100_000) * 100_000 * 8 <= 8 * 2**20


def test_reproducible_and_seed_dependent() -> None:
    points = np.random.default_rng(0).normal(size=(300, 4))
    for method in ("monte_carlo", "monte_carlo_dense", "monte_carlo_cutoff"):
        first = sp_entropy(points, BETA, method=method, seed=3)
        assert sp_entropy(points, BETA, method=method, seed=3) == first
        assert sp_entropy(points, BETA, method=method, generator=torch.Generator().manual_seed(3)) == first
        assert sp_entropy(points, BETA, method=method, seed=4) != first


def test_progress_bar_does_not_change_the_numbers(monkeypatch) -> None:
    points = np.random.default_rng(1).normal(size=(500, 3)) * 0.1
    quiet = sp_entropy(points, BETA, seed=2)
    monkeypatch.setattr(mc, "PROGRESS_AFTER_S", 0.0)
    assert sp_entropy(points, BETA, seed=2) == quiet


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"target_std_error": 0.0}, "target_std_error"),
        ({"target_std_error": -1.0}, "target_std_error"),
        ({"target_std_error": torch.ones(3)}, "target_std_error"),
        ({"target_std_error": "x"}, "target_std_error"),
        ({"n_noise": 1.5}, "n_noise"),
        ({"method": "monte_carlo_fast"}, "method"),
    ],
)
def test_bad_monte_carlo_input_raises_value_error(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        sp_entropy(np.zeros((2, 4, 3)), BETA, **kwargs)


def test_bad_algorithm_name_raises_value_error() -> None:
    with pytest.raises(ValueError, match="algorithm"):
        monte_carlo_entropy(torch.zeros(1, 4, 3, dtype=torch.float64), BETA, algorithm="kd")
