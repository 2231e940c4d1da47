"""smoothed_density: the Gaussian-smoothed marginal densities on a grid."""

from __future__ import annotations

import math

import torch

from infoflow.entropy.density import UNDERFLOW_EXPONENT, smoothed_density


def test_far_entries_underflow_to_exact_zero() -> None:
    # The skipped entries are those exp would round to 0.0 anyway.
    assert float(torch.exp(torch.tensor(UNDERFLOW_EXPONENT, dtype=torch.float64))) == 0.0
    assert float(torch.exp(torch.tensor([UNDERFLOW_EXPONENT] * 64, dtype=torch.float64)).max()) == 0.0


def test_density_matches_the_direct_sum_and_integrates_to_one() -> None:
    generator = torch.Generator().manual_seed(0)
    samples = torch.cat([torch.rand(300, 2, generator=generator, dtype=torch.float64) * 10 - 2])
    grid = torch.linspace(-4.0, 10.0, 701, dtype=torch.float64)
    beta = 0.05
    density = smoothed_density(samples, grid, beta)
    z = (grid.view(1, 1, -1) - samples.T.unsqueeze(-1)) / beta
    direct = torch.exp(-0.5 * z**2).sum(dim=1) / (len(samples) * beta * math.sqrt(2 * math.pi))
    assert torch.equal(density, direct)  # bit for bit: only exact zeros are skipped
    step = float(grid[1] - grid[0])
    assert torch.allclose(density.sum(dim=1) * step, torch.ones(2, dtype=torch.float64), atol=1e-6)
