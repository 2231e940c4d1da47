"""The compiled binning loop gives torch's moments bit for bit (infoflow.entropy.loops)."""

from __future__ import annotations

import math

import pytest
import torch

from infoflow.entropy import binned_mixture, loops, quadrature
from infoflow.entropy.quadrature import HERMITE_TERMS, STEP_RATIO, quadrature_entropy


def torch_moments(coords: torch.Tensor, n_bins: int, terms: int = HERMITE_TERMS) -> torch.Tensor:
    """The torch path of quadrature._hermite_moments, written out with ``terms`` powers."""
    index = torch.round(coords)
    offset = (coords - index) * STEP_RATIO
    powers = torch.empty((terms, *coords.shape), dtype=coords.dtype)
    powers[0] = 1.0
    if terms > 1:
        powers[1] = offset
    for m in range(2, terms):
        torch.mul(powers[m - 1], offset, out=powers[m])
    index = index.to(torch.int64).clamp_(0, n_bins - 1).unsqueeze(0).expand_as(powers)
    return torch.zeros(terms, coords.shape[0], n_bins, dtype=coords.dtype).scatter_add_(2, index, powers)


def test_loop_is_available() -> None:
    # numba is a dependency: the fast path must be the one that runs.
    assert loops.can_compile(torch.zeros(1, 1, dtype=torch.float64))


@pytest.mark.parametrize("shape", [(1, 4000), (500, 1000), (7, 3)])
def test_equals_scatter_bit_for_bit(shape: tuple[int, int]) -> None:
    generator = torch.Generator().manual_seed(shape[0])
    # Tight clusters (a few bins per set, like the seed's conditional sets) and wide sets.
    centres = torch.rand(shape[0], 1, generator=generator, dtype=torch.float64) * 200 + 40
    spread = torch.where(torch.arange(shape[0]) % 2 == 0, 1.5, 60.0).to(torch.float64).unsqueeze(1)
    coords = centres + spread * torch.randn(*shape, generator=generator, dtype=torch.float64)
    n_bins = int(coords.max()) + 40
    expected = torch_moments(coords, n_bins)
    assert torch.equal(loops.bin_powers(coords, n_bins, HERMITE_TERMS, STEP_RATIO), expected)


def test_half_way_points_round_to_even_and_ends_clamp() -> None:
    # 2.5 -> 2 and 3.5 -> 4 (half to even, as torch.round); points beyond either end count there.
    coords = torch.tensor([[2.5, 3.5, -0.5, -7.2, 0.49999999999999994, 9.5, 30.0, 5.0]], dtype=torch.float64)
    n_bins = 10
    for terms in (1, 2, 3, HERMITE_TERMS):
        got = loops.bin_powers(coords, n_bins, terms, STEP_RATIO)
        assert torch.equal(got, torch_moments(coords, n_bins, terms))
    counts = loops.bin_powers(coords, n_bins, 1, STEP_RATIO)[0, 0]
    assert counts.tolist() == [3.0, 0, 1, 0, 1, 1, 0, 0, 0, 2]


def test_non_contiguous_input() -> None:
    generator = torch.Generator().manual_seed(3)
    coords = (torch.rand(40, 30, generator=generator, dtype=torch.float64) * 50 + 5).t()
    assert not coords.is_contiguous()
    assert torch.equal(loops.bin_powers(coords, 60, HERMITE_TERMS, STEP_RATIO), torch_moments(coords, 60))


def test_other_dtypes_take_torch_path() -> None:
    assert not loops.can_compile(torch.zeros(2, 2, dtype=torch.float32))
    with pytest.raises(ValueError, match="float64"):
        loops.bin_powers(torch.zeros(2, 2, dtype=torch.float32), 4, 8, 0.25)


def test_quadrature_entropy_same_with_and_without_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    # 1-D sets (the 2-D quadrature bins with its own index_put_, not this loop)
    generator = torch.Generator().manual_seed(11)
    beta = 0.05
    centres = torch.rand(64, 1, 1, generator=generator, dtype=torch.float64)
    points = centres + 0.08 * torch.randn(64, 300, 1, generator=generator, dtype=torch.float64)
    calls = []
    original = quadrature.bin_powers
    monkeypatch.setattr(quadrature, "bin_powers", lambda *args: calls.append(1) or original(*args))
    fast = quadrature_entropy(points, beta)
    assert calls  # the loop ran
    monkeypatch.setattr(quadrature, "can_compile", lambda *tensors: False)
    slow = quadrature_entropy(points, beta)
    assert torch.equal(fast, slow)
    # and the value is an entropy of this mixture: between the component's h and h + log n
    component = 0.5 * math.log(2 * math.pi * math.e * beta**2)
    assert bool(((fast >= component) & (fast <= component + math.log(300))).all())


def binned_both_ways(points: torch.Tensor, centres: torch.Tensor, beta: float, monkeypatch: pytest.MonkeyPatch):
    fast = binned_mixture.binned_mixture_log_density(points, centres, beta)
    with monkeypatch.context() as patch:
        patch.setattr(binned_mixture, "can_compile", lambda *tensors: False)
        slow = binned_mixture.binned_mixture_log_density(points, centres, beta)
    return fast, slow


@pytest.mark.parametrize(
    ("n_sets", "m", "n", "spread"),
    [
        (1, 4000, 4000, 3.0),  # one wide set, more points than windows (torch picks whole rows)
        (500, 8, 1000, 0.02),  # the seed's conditional sets: tight, few points each (torch.gather)
        (500, 300, 50, 0.3),  # several row tiles
        (3, 50, 40, 0.0),  # every centre equal: two nodes
    ],
)
def test_binned_mixture_same_with_and_without_loops(
    n_sets: int, m: int, n: int, spread: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    generator = torch.Generator().manual_seed(n_sets + m)
    beta = 0.05
    location = torch.randn(n_sets, 1, 1, generator=generator, dtype=torch.float64)
    centres = location + spread * torch.randn(n_sets, n, 1, generator=generator, dtype=torch.float64)
    # points inside, at the edges and far outside the centres (the exact far path)
    points = location + (spread + 4 * beta) * torch.randn(n_sets, m, 1, generator=generator, dtype=torch.float64)
    points[:, :2] = location[:, :1] + torch.tensor([-1.0, 1.0], dtype=torch.float64).view(1, 2, 1) * (spread * 6 + 3)
    fast, slow = binned_both_ways(points, centres, beta, monkeypatch)
    assert torch.equal(fast, slow)
    assert bool(torch.isfinite(fast).all())


def test_binned_mixture_clustered_centres(monkeypatch: pytest.MonkeyPatch) -> None:
    # A discrete input: centres in a few tight clusters, most nodes empty, points between clusters.
    generator = torch.Generator().manual_seed(5)
    clusters = torch.tensor([-1.0, 0.0, 0.4, 2.5], dtype=torch.float64)
    centres = clusters[torch.randint(0, 4, (2, 3000), generator=generator)].unsqueeze(-1)
    centres = centres + 0.01 * torch.randn(centres.shape, generator=generator, dtype=torch.float64)
    points = torch.linspace(-2.0, 3.5, 1500, dtype=torch.float64).expand(2, -1).unsqueeze(-1).contiguous()
    fast, slow = binned_both_ways(points, centres, 0.05, monkeypatch)
    assert torch.equal(fast, slow)


def test_linear_binning_weights_and_near_nodes() -> None:
    generator = torch.Generator().manual_seed(9)
    centres = torch.rand(4, 200, generator=generator, dtype=torch.float64) * 0.3
    centres[1] = centres[1] * 0.0 + torch.tensor([0.0, 0.3], dtype=torch.float64).repeat(100)  # two clusters
    origin = centres.amin(1, keepdim=True)
    delta, pad, reach = 0.01, 80, 5
    n_nodes = int(float((centres.amax(1) - centres.amin(1)).max()) / delta) + 2
    weights, near = loops.linear_binning(centres, origin, delta, n_nodes, pad, reach)
    assert weights.shape == (4, n_nodes + 2 * pad)
    # every centre's 1/n is split between two nodes: the weights of a set sum to 1 (to rounding)
    assert torch.allclose(weights.sum(1), torch.ones(4, dtype=torch.float64), rtol=0, atol=1e-13)
    assert bool((weights[:, :pad] == 0).all()) and bool((weights[:, pad + n_nodes :] == 0).all())
    # the mean position of the binned mass equals the centres' mean (linear binning keeps it)
    positions = origin + delta * (torch.arange(weights.shape[1], dtype=torch.float64) - pad)
    assert torch.allclose((weights * positions).sum(1), centres.mean(1), rtol=0, atol=1e-12)
    # near: brute force over each node's neighbourhood
    occupied = weights > 0
    for j in range(weights.shape[1]):
        window = occupied[:, max(0, j - reach) : j + reach + 1]
        assert torch.equal(near[:, j], window.any(1))
    assert not bool(near[1, pad + n_nodes // 2])  # between the two clusters of set 1


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_refused(bad: float) -> None:
    # The loops index arrays without bounds checks: a value that cannot be binned must stop them.
    coords = torch.tensor([[1.0, bad, 2.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match="coords contain NaN or infinite"):
        loops.bin_powers(coords, 4, HERMITE_TERMS, STEP_RATIO)
    origin = torch.zeros(1, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match="centres contain NaN or infinite"):
        loops.linear_binning(coords, origin, 0.01, 300, 80, 20)
    weights, near = loops.linear_binning(torch.tensor([[1.0, 2.0]], dtype=torch.float64), origin + 1, 0.01, 102, 80, 20)
    with pytest.raises(ValueError, match="points contain NaN or infinite"):
        loops.window_terms(coords, origin + 1, 0.01, 40, 102, 80, 5.0, weights, near)


def test_shapes_are_checked_before_the_loops_run() -> None:
    origin = torch.zeros(2, 1, dtype=torch.float64)
    centres = torch.rand(2, 10, dtype=torch.float64)
    with pytest.raises(ValueError, match="n_nodes >= 2"):
        loops.linear_binning(centres, origin, 0.01, 1, 80, 20)
    with pytest.raises(ValueError, match=r"origin \(B, 1\)"):
        loops.linear_binning(centres, torch.zeros(3, 1, dtype=torch.float64), 0.01, 102, 80, 20)
    weights, near = loops.linear_binning(centres, origin, 0.01, 102, 80, 20)
    with pytest.raises(ValueError, match="pad >= 2 width"):
        loops.window_terms(centres, origin, 0.01, 41, 102, 80, 5.0, weights, near)
    with pytest.raises(ValueError, match="weights and near"):
        loops.window_terms(centres, origin, 0.01, 40, 101, 80, 5.0, weights, near)
    with pytest.raises(ValueError, match="n_bins >= 1"):
        loops.bin_powers(centres, 0, HERMITE_TERMS, STEP_RATIO)
