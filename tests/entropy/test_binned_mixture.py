"""The binned one-dimensional mixture of the bounds: a density, close to the exact mixture, exact where it must be."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from infoflow.entropy import binned_mixture
from infoflow.entropy.binned_mixture import NODES_PER_BETA, binned_mixture_log_density
from infoflow.entropy.cross_entropy import bound_log_density, mixture_cross_entropy_terms, mixture_log_density

BETA = 0.05


def _centres(kind: str, generator: torch.Generator) -> torch.Tensor:
    """Return (1, 3000, 1) centres of a layer kind seen in the seed's networks."""
    z = torch.randn(1, 3000, 1, generator=generator, dtype=torch.float64)
    if kind == "spread":  # a LeakyReLU layer spread over hundreds of beta
        return torch.nn.functional.leaky_relu(3.0 * z + 1.0, 0.2)
    if kind == "saturated":  # a tanh layer piled up at +-1
        return torch.tanh(4.0 * z)
    return torch.randint(0, 6, (1, 3000, 1), generator=generator).to(torch.float64) * 0.25  # discrete X


def _draws(centres: torch.Tensor, m: int, generator: torch.Generator) -> torch.Tensor:
    """Return (1, m, 1) draws of the exact mixture of ``centres``."""
    rows = torch.randint(centres.shape[1], (m,), generator=generator)
    return centres[:, rows] + BETA * torch.randn(1, m, 1, generator=generator, dtype=torch.float64)


@pytest.mark.parametrize("kind", ["spread", "saturated", "discrete"])
def test_binned_is_close_to_the_exact_mixture(kind):
    """Linear binning is the exact component convolved with variance a(1-a) delta^2 <= delta^2/4 (second
    order), so log q'/q = (delta^2/8 beta^2)(z^2 - 1) + O(delta^4): pointwise within
    (delta/beta)^2 (1 + z^2)/8 with z < 6 for draws of the mixture (0.0046 at delta = beta/10, with
    a factor 2 for the higher orders), and the mean over draws of q (where E[z^2 - 1] = 0) within
    O((delta/beta)^4) = 1e-4."""
    generator = torch.Generator().manual_seed(1)
    centres = _centres(kind, generator)
    points = _draws(centres, 4000, generator)
    difference = binned_mixture_log_density(points, centres, BETA) - mixture_log_density(points, centres, BETA)
    ratio2 = (1.0 / NODES_PER_BETA) ** 2
    assert float(difference.abs().max()) <= 2 * ratio2 * (1 + 6.0**2) / 8
    assert abs(float(difference.mean())) <= ratio2**2


def test_binned_mixture_is_a_density():
    """q' integrates to 1 (trapezoid on a grid 100x finer than beta): so H(p, q') >= h(p) (Gibbs) and the
    cross-entropy stays an upper bound."""
    generator = torch.Generator().manual_seed(2)
    centres = _centres("spread", generator)
    lo, hi = float(centres.min()) - 12 * BETA, float(centres.max()) + 12 * BETA
    grid = torch.linspace(lo, hi, int((hi - lo) / (BETA / 100)), dtype=torch.float64)
    density = binned_mixture_log_density(grid.view(1, -1, 1), centres, BETA).exp()[0]
    assert float(torch.trapezoid(density, grid)) == pytest.approx(1.0, abs=1e-9)


def test_points_far_from_every_centre_are_exact():
    """Centres on one node (no binning error): near, far (outside the windows) and very far points equal the
    exact log density (the far ones through the every-node path)."""
    centres = torch.full((1, 2000, 1), 0.3, dtype=torch.float64)
    points = torch.tensor([[[0.3], [0.31], [0.3 + 3 * BETA], [0.3 + 7 * BETA], [0.3 + 40 * BETA], [-50.0]]],
                          dtype=torch.float64)
    got = binned_mixture_log_density(points, centres, BETA)
    exact = -0.5 * ((points[..., 0] - 0.3) / BETA) ** 2 - 0.5 * math.log(2 * math.pi * BETA**2)
    np.testing.assert_allclose(got.numpy(), exact.numpy(), rtol=1e-12, atol=1e-9)


def test_sets_are_binned_separately():
    """B sets at different places give each set's own mixture (the conditional sets of a measurement)."""
    generator = torch.Generator().manual_seed(3)
    centres = torch.randn(5, 1000, 1, generator=generator, dtype=torch.float64) * 0.1
    centres += torch.arange(5, dtype=torch.float64).view(5, 1, 1) * 3.0
    points = torch.cat([_draws(centres[b : b + 1], 7, generator) for b in range(5)])
    got = binned_mixture_log_density(points, centres, BETA)
    for b in range(5):
        alone = binned_mixture_log_density(points[b : b + 1], centres[b : b + 1], BETA)
        np.testing.assert_allclose(got[b].numpy(), alone[0].numpy(), rtol=0, atol=1e-12)
    assert float((got - mixture_log_density(points, centres, BETA)).abs().max()) < 0.01


def test_bounds_use_the_binned_mixture_only_in_one_dimension_with_many_centres(monkeypatch):
    calls = []
    monkeypatch.setattr(
        "infoflow.entropy.cross_entropy.binned_mixture_log_density",
        lambda points, centres, beta, **options: calls.append(centres.shape)
        or binned_mixture_log_density(points, centres, beta, **options),
    )
    generator = torch.Generator().manual_seed(4)
    many = torch.randn(1, 3000, 1, generator=generator, dtype=torch.float64)
    bound_log_density(many[:, :10], many, BETA)
    bound_log_density(many[:, :10], many[:, :100], BETA)  # few centres: exact is cheaper
    two_d = torch.randn(1, 3000, 2, generator=generator, dtype=torch.float64)
    bound_log_density(two_d[:, :10], two_d, BETA)
    assert calls == [many.shape]


def test_huge_spread_falls_back_to_the_exact_sum(monkeypatch):
    monkeypatch.setattr(binned_mixture, "MAX_GRID_ENTRIES", 1000)
    monkeypatch.setattr("infoflow.entropy.cross_entropy.MAX_GRID_ENTRIES", 1000)
    centres = torch.linspace(0.0, 100.0, 3000, dtype=torch.float64).view(1, -1, 1)
    points = torch.tensor([[[1.0], [50.0]]], dtype=torch.float64)
    np.testing.assert_array_equal(
        bound_log_density(points, centres, BETA).numpy(), mixture_log_density(points, centres, BETA).numpy()
    )


def test_cross_entropy_under_the_binned_mixture_bounds_a_known_entropy():
    """T = S + beta Z with S uniform on 6 points 0.5 apart (>> beta): h(T) = log 6 + h(N(0, beta^2)) to
    1e-100. The mean of the terms over 4000 independent draws lies above it minus 4 standard errors and
    within 0.001 nats plus 4 SE of it: the mixture's weights are the 6 points' shares among 3000
    centres, which costs KL(p || p_hat) ~ (6 - 1) / (2 * 3000) = 0.0008 nats, and the binning ~1e-5
    (the centres sit on one node each)."""
    generator = torch.Generator().manual_seed(5)
    support = torch.arange(6, dtype=torch.float64) * 0.5
    centres = support[torch.randint(6, (1, 3000), generator=generator)].unsqueeze(-1)
    clean = support[torch.randint(6, (1, 4000), generator=generator)].unsqueeze(-1)
    noisy = clean + BETA * torch.randn(clean.shape, generator=generator, dtype=torch.float64)
    terms = mixture_cross_entropy_terms(noisy, clean, centres, BETA)[0]
    truth = math.log(6) + 0.5 * math.log(2 * math.pi * math.e * BETA**2)
    mean, se = float(terms.mean()), float(terms.std()) / math.sqrt(terms.numel())
    assert truth - 4 * se <= mean <= truth + 0.001 + 4 * se
