"""The compiled binning loop gives torch's moments bit for bit (infoflow.entropy.loops)."""

from __future__ import annotations

import math

import pytest
import torch

from infoflow.entropy import loops, quadrature
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
    assert loops.can_bin_powers(torch.zeros(1, 1, dtype=torch.float64))


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
    assert not loops.can_bin_powers(torch.zeros(2, 2, dtype=torch.float32))
    with pytest.raises(ValueError, match="float64"):
        loops.bin_powers(torch.zeros(2, 2, dtype=torch.float32), 4, 8, 0.25)


@pytest.mark.parametrize("dim", [1, 2])
def test_quadrature_entropy_same_with_and_without_loop(dim: int, monkeypatch: pytest.MonkeyPatch) -> None:
    generator = torch.Generator().manual_seed(11)
    beta = 0.05
    centres = torch.rand(64, 1, dim, generator=generator, dtype=torch.float64)
    points = centres + 0.08 * torch.randn(64, 300, dim, generator=generator, dtype=torch.float64)
    fast = quadrature_entropy(points, beta)
    monkeypatch.setattr(quadrature, "can_bin_powers", lambda coords: False)
    slow = quadrature_entropy(points, beta)
    assert torch.equal(fast, slow)
    # and the value is an entropy of this mixture: between the component's h and h + log n
    component = 0.5 * dim * math.log(2 * math.pi * math.e * beta**2)
    assert bool(((fast >= component) & (fast <= component + math.log(300))).all())
