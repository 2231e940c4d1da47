"""smoothed_density: the Gaussian-smoothed marginal densities on a grid."""

from __future__ import annotations

import math

import pytest
import torch

from infoflow.entropy import density as density_module
from infoflow.entropy.density import UNDERFLOW_EXPONENT, smoothed_density


def test_far_entries_underflow_to_exact_zero() -> None:
    # The skipped entries are those exp would round to 0.0 anyway.
    assert float(torch.exp(torch.tensor(UNDERFLOW_EXPONENT, dtype=torch.float64))) == 0.0
    assert float(torch.exp(torch.tensor([UNDERFLOW_EXPONENT] * 64, dtype=torch.float64)).max()) == 0.0


@pytest.mark.parametrize("n", [300, 3000])  # the plain sum, and the windows (n x 701 >= 2^20 pairs)
def test_density_matches_the_direct_sum_and_integrates_to_one(n: int) -> None:
    generator = torch.Generator().manual_seed(0)
    samples = torch.cat([torch.rand(n, 2, generator=generator, dtype=torch.float64) * 10 - 2])
    grid = torch.linspace(-4.0, 10.0, 701, dtype=torch.float64)
    assert (n * grid.numel() >= density_module.MIN_WINDOWED_PAIRS) == (n == 3000)
    beta = 0.05
    density = smoothed_density(samples, grid, beta)
    z = (grid.view(1, 1, -1) - samples.T.unsqueeze(-1)) / beta
    direct = torch.exp(-0.5 * z**2).sum(dim=1) / (len(samples) * beta * math.sqrt(2 * math.pi))
    # The same positive terms (only exact zeros are skipped), added in another order: recursive
    # summation of n positive terms errs by at most (n - 1) eps relative, plus the subnormal
    # spacing per term where the sum itself is subnormal.
    n = samples.shape[0]
    allowed = (n - 1) * torch.finfo(torch.float64).eps * direct + n * 5e-324
    assert bool(((density - direct).abs() <= allowed).all())
    assert torch.equal(density == 0, direct == 0)
    step = float(grid[1] - grid[0])
    assert torch.allclose(density.sum(dim=1) * step, torch.ones(2, dtype=torch.float64), atol=1e-6)


def test_any_grid_order_and_non_finite_samples() -> None:
    # The windows take each block's smallest and largest grid point, so a descending or shuffled
    # grid gives the same values at the same points; a NaN sample makes every value NaN, as the
    # plain sum over all samples does.
    generator = torch.Generator().manual_seed(1)
    samples = torch.randn(4100, 1, generator=generator, dtype=torch.float64) * 3
    grid = torch.linspace(-12.0, 12.0, 257, dtype=torch.float64)
    assert samples.shape[0] * grid.numel() >= density_module.MIN_WINDOWED_PAIRS
    forward = smoothed_density(samples, grid, 0.05)
    order = torch.randperm(257, generator=generator)
    assert torch.allclose(smoothed_density(samples, grid.flip(0), 0.05), forward.flip(1), rtol=1e-13, atol=0)
    assert torch.allclose(smoothed_density(samples, grid[order], 0.05), forward[:, order], rtol=1e-13, atol=0)
    samples[7, 0] = float("nan")
    assert bool(smoothed_density(samples, grid, 0.05).isnan().all())


def test_a_negligible_error_shortens_the_reach_and_stays_within_it() -> None:
    # reach_betas: n samples r beta away add at most exp(-r^2/2) / (beta sqrt(2 pi)) together.
    beta = 0.05
    assert density_module.reach_betas(beta, 0.0) == density_module.REACH_BETAS
    negligible = 1e-30
    reach = density_module.reach_betas(beta, negligible)
    assert reach < density_module.REACH_BETAS
    assert math.exp(-0.5 * reach**2) / (beta * math.sqrt(2 * math.pi)) == pytest.approx(negligible, rel=1e-9)
    # Two clusters 40 beta apart: with the shorter reach each window sees one cluster only.
    generator = torch.Generator().manual_seed(2)
    samples = torch.cat([torch.randn(2000, 1, generator=generator, dtype=torch.float64) * beta - 1.0,
                         torch.randn(2000, 1, generator=generator, dtype=torch.float64) * beta + 1.0])
    grid = torch.linspace(-1.3, 1.3, 600, dtype=torch.float64)
    assert samples.shape[0] * grid.numel() >= density_module.MIN_WINDOWED_PAIRS
    exact = smoothed_density(samples, grid, beta)
    short = smoothed_density(samples, grid, beta, negligible=negligible)
    # What is left out is below `negligible` at every point; the rest is the same positive terms
    # in another order ((n - 1) eps relative, as above).
    n = samples.shape[0]
    allowed = negligible + (n - 1) * torch.finfo(torch.float64).eps * exact
    assert bool(((short - exact).abs() <= allowed).all())
    assert bool((short <= exact * (1 + (n - 1) * torch.finfo(torch.float64).eps)).all())  # terms are only dropped


def test_layer_densities_are_the_float32_of_the_full_sum() -> None:
    # The run's densities leave out terms below 2^-200 (measure.densities.FLOAT32_NEGLIGIBLE):
    # far below float32's least value 2^-149, so the stored float32 values are those of the
    # sum over every sample, including the far tails that are tiny but not zero in float32.
    from infoflow.measure.densities import FLOAT32_NEGLIGIBLE, layer_density

    generator = torch.Generator().manual_seed(3)
    samples = torch.cat([torch.randn(3000, 1, generator=generator, dtype=torch.float64) * 0.3 - 1.0,
                         torch.rand(1000, 1, generator=generator, dtype=torch.float64) * 8 + 3.0])
    grid = torch.linspace(-4.0, 16.0, 600, dtype=torch.float64).numpy()
    stored, _ = layer_density(samples, grid, 0.05)
    full = smoothed_density(samples, torch.from_numpy(grid), 0.05).to(torch.float32).numpy()
    assert density_module.reach_betas(0.05, FLOAT32_NEGLIGIBLE) < density_module.REACH_BETAS
    assert (stored == full).all()
    assert ((full > 0) & (full < 1e-30)).any()  # the tails this checks are there
