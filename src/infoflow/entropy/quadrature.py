"""Deterministic quadrature: h(P_hat * N(0, beta^2 I)) for d = 1, 2 in nats, and 1-D panel rules.

The mixture density is evaluated on a grid of step beta/4 by a Hermite fast Gauss transform
(samples binned to the grid with their first moments, then one FFT convolution per axis), and
-integral p log p is taken by the trapezoid rule, which is spectrally accurate for these smooth,
rapidly decaying integrands. Deterministic, error ~1e-10 nats. A set's value depends on the
rounding of its block's transforms (the block's grid and FFT length) at the 1e-13 level: change
nothing here without re-running the seed reproduction and comparing its numbers.

The same module holds the composite Gauss-Legendre panel rules (:func:`panel_rule`) with which
the exact MI (``estimators/truth``) integrates over inputs and layers: one home for quadrature.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from infoflow.entropy.density import smoothed_density
from infoflow.entropy.loops import bin_powers, can_compile

# Quadrature parameters. The grid step is STEP_RATIO * beta. A step of beta/2 is NOT enough: where
# two clusters 3-8 beta apart meet, log p turns over on a scale beta^2/distance and the trapezoid
# rule errs by up to 2e-6 nats (measured on two points 5 beta apart); beta/4 brings the worst case
# we found to 1e-9. Samples are binned to the nearest grid point, so each lies within
# |y| <= beta/8 of its bin centre, and the Hermite series
# exp(-(u-y)^2/2) = sum_m y^m/m! He_m(u) exp(-u^2/2), cut after HERMITE_TERMS terms, errs by at
# most ~1.1 |y|^M / sqrt(M!) ~ 3e-10 relative (Cramer's bound on He_m).
STEP_RATIO = 0.25
HERMITE_TERMS = 8
KERNEL_RADIUS = 11.0
PADDING = 9.0
# Working memory one set's quadrature may take (its grid's moments and their spectra: about
# 48 B x HERMITE_TERMS**d per grid point); beyond it "auto" uses Monte Carlo and "quadrature"
# refuses. 1 GiB is ~2.8e6 grid points (a span of ~7e5 beta) in 1-D, ~3.5e5 (~150 beta square) in 2-D.
MAX_SET_BYTES = 2**30
# Working-memory budget for one block of the batch, in bytes.
BLOCK_BYTES = 128 * 2**20


def grid_points_per_axis(points: torch.Tensor, beta: float) -> torch.Tensor:
    """Return the grid size needed per set and axis, shape (B, d)."""
    span = points.amax(dim=1) - points.amin(dim=1)
    step = STEP_RATIO * beta
    # Clamp in floating point first: a span of 1e30 beta must read as "too large", not overflow.
    points_needed = torch.ceil((span + 2 * PADDING * beta) / step).clamp(max=2.0**40)
    return points_needed.to(torch.int64) + 1


def _quadrature_bytes(points: torch.Tensor, beta: float) -> torch.Tensor:
    """Return the quadrature's working memory per set in bytes, shape (B,), float64."""
    grid_points = grid_points_per_axis(points, beta).to(torch.float64).prod(dim=-1)
    return grid_points * 48 * HERMITE_TERMS ** points.shape[-1]


def grid_is_workable(points: torch.Tensor, beta: float) -> bool:
    return bool(_quadrature_bytes(points, beta).max() <= MAX_SET_BYTES)


def _kernel_spectra(dtype: torch.dtype, device: torch.device, n_fft: int) -> torch.Tensor:
    """Return the rfft of :func:`_hermite_kernels` at length ``n_fft``: shape (HERMITE_TERMS, n_fft // 2 + 1)."""
    table = _kernel_table(dtype, device)
    if n_fft not in table[1]:
        table[1][n_fft] = torch.fft.rfft(table[0], n=n_fft)
    return table[1][n_fft]


@functools.lru_cache(maxsize=8)
def _kernel_table(dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """The kernels of one dtype and device, and their spectra by FFT length (filled on demand).

    Computed once per process (they were recomputed by ~25 small operations, and transformed,
    at every block: 2 ms per fig5 record); the values are those computed here every time.
    """
    return _hermite_kernels(dtype, device), {}


def _hermite_kernels(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Return He_m(u) exp(-u^2/2) / m! at u = tau * STEP_RATIO, tau = -L..L: shape (HERMITE_TERMS, 2L+1).

    The 1/m! of the Taylor moments is folded in here; the kernels are cut at KERNEL_RADIUS.
    """
    radius = math.ceil(KERNEL_RADIUS / STEP_RATIO)
    u = torch.arange(-radius, radius + 1, dtype=dtype, device=device) * STEP_RATIO
    gauss = torch.exp(-0.5 * u**2)
    # Probabilists' Hermite recursion: He_m = u He_{m-1} - (m-1) He_{m-2}.
    hermite = [torch.ones_like(u), u]
    for m in range(2, HERMITE_TERMS):
        hermite.append(u * hermite[-1] - (m - 1) * hermite[-2])
    return torch.stack([h * gauss / math.factorial(m) for m, h in enumerate(hermite[:HERMITE_TERMS])])


def _moments_to_density(moments: torch.Tensor, n_grid: int) -> torch.Tensor:
    """Sum the Hermite expansions of every bin at every grid point, by FFT convolution.

    Parameters
    ----------
    moments : Tensor of shape (HERMITE_TERMS, N, n_grid)
        Hermite moments per bin (bins sit on the grid points), from :func:`_hermite_moments`.

    Returns
    -------
    Tensor of shape (N, n_grid): sum_j sum_m moments[m, :, j] K_m(k - j), the unnormalised density.
    """
    radius = math.ceil(KERNEL_RADIUS / STEP_RATIO)
    n_fft = _fft_length(n_grid)
    spectra = torch.fft.rfft(moments, n=n_fft)  # (M, N, F)
    kernel_spectra = _kernel_spectra(moments.dtype, moments.device, n_fft)  # (M, F)
    # sum_m spectra[m] * kernel_spectra[m], accumulated in place term by term: one pass per term
    # over (N, F). (An einsum here ran as a batched matrix product with one copy per frequency,
    # 6x slower; the sums agree to rounding.)
    spectrum = spectra[0] * kernel_spectra[0]
    for term in range(1, spectra.shape[0]):
        spectrum.addcmul_(spectra[term], kernel_spectra[term].expand_as(spectrum))
    return torch.fft.irfft(spectrum, n=n_fft)[:, radius : radius + n_grid]


def _fft_length(n_grid: int) -> int:
    """Return the FFT length for a grid of ``n_grid`` points: the power of two above the full convolution.

    The full linear convolution with the kernels (2 radius + 1 taps) has n_grid + 2 radius points;
    a power of two at or above it avoids circular wrap-around.
    """
    radius = math.ceil(KERNEL_RADIUS / STEP_RATIO)
    return 1 << (n_grid + 2 * radius - 1).bit_length()


def _hermite_moments(coords: torch.Tensor, n_bins: int) -> torch.Tensor:
    """Return the Hermite moments of points binned to the nearest grid point.

    Parameters
    ----------
    coords : Tensor of shape (N, n)
        Positions in units of the grid step, measured from grid point 0.
    n_bins : int

    Returns
    -------
    Tensor of shape (HERMITE_TERMS, N, n_bins): per bin, the sum over its points of y^m, y the
    offset from the bin centre in units of beta. On the CPU a compiled loop
    (:func:`infoflow.entropy.loops.bin_powers`) gives the same sums bit for bit, faster.
    """
    if can_compile(coords):
        return bin_powers(coords, n_bins, HERMITE_TERMS, STEP_RATIO)
    index = torch.round(coords)
    offset = (coords - index) * STEP_RATIO
    powers = torch.empty((HERMITE_TERMS, *coords.shape), dtype=coords.dtype, device=coords.device)
    powers[0] = 1.0
    powers[1] = offset
    for m in range(2, HERMITE_TERMS):
        torch.mul(powers[m - 1], offset, out=powers[m])
    index = index.to(torch.int64).clamp_(0, n_bins - 1).unsqueeze(0).expand_as(powers)
    moments = torch.zeros(HERMITE_TERMS, coords.shape[0], n_bins, dtype=coords.dtype, device=coords.device)
    return moments.scatter_add_(2, index, powers)


def _quadrature_block_1d(x: torch.Tensor, beta: float) -> torch.Tensor:
    """Entropy of each set of a block, x of shape (B, n) -> (B,) nats."""
    n = x.shape[1]
    step = STEP_RATIO * beta
    low = x.amin(dim=1, keepdim=True) - PADDING * beta
    n_grid = int(grid_points_per_axis(x.unsqueeze(-1), beta).max())
    moments = _hermite_moments((x - low) / step, n_grid)
    density = _moments_to_density(moments, n_grid) / (n * beta * math.sqrt(2 * math.pi))
    return -step * _sum_p_log_p(density, dims=(1,))


def _quadrature_block_2d(x: torch.Tensor, beta: float) -> torch.Tensor:
    """Entropy of each set of a block, x of shape (B, n, 2) -> (B,) nats.

    The 2-D Gaussian factorises, so the expansion is the product of one per axis: axis 1 is
    contracted first, with every (axis-2 power, set, axis-2 bin) as its own row, then axis 2.
    """
    n_sets, n, _ = x.shape
    terms = HERMITE_TERMS
    step = STEP_RATIO * beta
    low = x.amin(dim=1, keepdim=True) - PADDING * beta
    sizes = grid_points_per_axis(x, beta).amax(dim=0)
    g1, g2 = int(sizes[0]), int(sizes[1])
    coords = (x - low) / step
    index2 = torch.round(coords[..., 1])
    offset2 = (coords[..., 1] - index2) * STEP_RATIO
    powers2 = torch.stack([offset2**m for m in range(terms)])  # (M2, B, n)
    rows = (
        torch.arange(terms, device=x.device).view(-1, 1, 1) * n_sets
        + torch.arange(n_sets, device=x.device).view(1, -1, 1)
    ) * g2
    rows = rows + index2.to(torch.int64).clamp_(0, g2 - 1)
    index1 = torch.round(coords[..., 0])
    offset1 = (coords[..., 0] - index1) * STEP_RATIO
    flat = (rows * g1 + index1.to(torch.int64).clamp_(0, g1 - 1)).reshape(-1)  # over (M2, B, n)
    moments = torch.zeros(terms, terms * n_sets * g2 * g1, dtype=x.dtype, device=x.device)
    for m1 in range(terms):
        moments[m1].index_put_((flat,), (offset1**m1 * powers2).reshape(-1), accumulate=True)
    along1 = _moments_to_density(moments.view(terms, terms * n_sets * g2, g1), g1)  # (M2*B*g2, g1)
    along2 = along1.view(terms, n_sets, g2, g1).transpose(2, 3).reshape(terms, n_sets * g1, g2)
    density = _moments_to_density(along2, g2).view(n_sets, g1, g2) / (n * 2 * math.pi * beta**2)
    return -(step**2) * _sum_p_log_p(density, dims=(1, 2))


def _sum_p_log_p(density: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    # Far-tail values are ~1e-40 or round to tiny negatives; they contribute nothing.
    positive = density > 1e-300
    safe = torch.where(positive, density, torch.ones_like(density))
    return torch.where(positive, safe * torch.log(safe), torch.zeros_like(density)).sum(dim=dims)


def quadrature_entropy(points: torch.Tensor, beta: float) -> torch.Tensor:
    """Return h of each set's Gaussian mixture by grid quadrature, in nats.

    Parameters
    ----------
    points : Tensor of shape (B, n, d), d in {1, 2}, float64
    beta : float

    Returns
    -------
    Tensor of shape (B,), float64
    """
    n_sets, n, dim = points.shape
    if dim not in (1, 2):
        raise ValueError(f"quadrature supports dimension 1 or 2; got d={dim}")
    sizes = grid_points_per_axis(points, beta).prod(dim=-1)
    needed = float(_quadrature_bytes(points, beta).max())
    if needed > MAX_SET_BYTES:
        raise ValueError(
            f"quadrature would need {needed / 2**30:.3g} GiB for one set (a grid of {int(sizes.max())} points; "
            f"samples spread over {float((points.amax(1) - points.amin(1)).max()) / beta:.3g} beta); "
            "use method='monte_carlo'"
        )
    # Group sets of similar grid size into blocks that fit the memory budget.
    order = torch.argsort(sizes)
    sorted_sizes = sizes[order].tolist()
    # Moments (8 B) and their spectra (16 B, about twice as many points) per Hermite channel.
    bytes_per_set_point = 48 * HERMITE_TERMS**dim
    bytes_per_sample = 8 * 3 * HERMITE_TERMS**dim
    result = torch.empty(n_sets, dtype=torch.float64, device=points.device)
    start = 0
    # In one dimension a block also keeps to one FFT length: a block pays for its largest grid, and
    # the few wide sets of a batch (a conditional whose input sits on a steep part of the network)
    # would otherwise double the transforms of all the narrow ones.
    fft_lengths = [_fft_length(size) for size in sorted_sizes] if dim == 1 else [0] * n_sets
    while start < n_sets:
        stop = start + 1
        while (
            stop < n_sets
            and fft_lengths[stop] == fft_lengths[start]
            and (stop - start + 1) * (sorted_sizes[stop] * bytes_per_set_point + n * bytes_per_sample) <= BLOCK_BYTES
        ):
            stop += 1
        block = order[start:stop]
        if dim == 1:
            result[block] = _quadrature_block_1d(points[block, :, 0], beta)
        else:
            result[block] = _quadrature_block_2d(points[block], beta)
        start = stop
    return result


def dense_quadrature_entropy(
    points: torch.Tensor, beta: float, step_ratio: float = 0.2, padding: float = 10.0
) -> torch.Tensor:
    """Reference evaluator: the full Gaussian sum on a dense 1-D grid, then the trapezoid rule.

    Slow (every grid point sums every component); used by tests and benchmarks as the
    obvious-but-correct baseline.

    Parameters
    ----------
    points : Tensor of shape (B, n, 1), float64
    step_ratio : float
        Grid step in units of beta.
    padding : float
        Grid extent beyond the outermost samples, in units of beta.

    Returns
    -------
    Tensor of shape (B,), nats
    """
    result = []
    for x in points[..., 0]:
        step = step_ratio * beta
        grid = torch.arange(
            float(x.min()) - padding * beta,
            float(x.max()) + padding * beta + step,
            step,
            dtype=torch.float64,
            device=x.device,
        )
        density = smoothed_density(x.unsqueeze(-1), grid, beta)[0]
        result.append(-step * _sum_p_log_p(density, dims=(0,)))
    return torch.stack(result)


# ----------------------------------------------------------------------------------------------
# Composite Gauss-Legendre panel rules: 1-D integrals whose integrand has kinks and steep parts
# ----------------------------------------------------------------------------------------------
# Used by the exact MI (estimators/truth): integral f(u) du ~ sum(weights * f(nodes)) on panels
# that never straddle a breakpoint (a kink), equally spaced in a caller's "resolution coordinate"
# (one unit per length scale of the integrand), so the rule converges spectrally.

# Gauss-Legendre nodes per panel: two per length scale at the truth's panel width of 6 units.
NODES_PER_PANEL = 12
# Bisection that places panel edges: rounds of steps, repeated (up to the float64 limit) only
# where a very steep activation needs it. Edges only need to be roughly right (any edges give a
# valid rule; kinks are always placed exactly), but a steep region must not fall between them.
EDGE_BISECTIONS_PER_ROUND = 12
MAX_EDGE_BISECTION_ROUNDS = 6


class RuleTooLarge(ValueError):
    """A panel rule would need more nodes than the caller allows."""

    def __init__(self, nodes: float, limit: int) -> None:
        super().__init__(f"the quadrature rule would need {nodes:.3g} nodes (limit {limit})")
        self.nodes = nodes
        self.limit = limit


@dataclass(frozen=True)
class QuadratureRule:
    """A quadrature rule: integral f(u) du ~ sum(weights * f(nodes)); both of shape (n,)."""

    nodes: np.ndarray
    weights: np.ndarray


def panel_edges(
    lo: float, hi: float, coordinate: Callable[[np.ndarray], np.ndarray], panel_width: float, max_nodes: int
) -> np.ndarray:
    """Return edges lo = e_0 < ... < e_n = hi equally spaced in ``coordinate`` (n >= 1).

    Raises RuleTooLarge when the panels would hold more than ``max_nodes`` nodes.
    """
    xi_lo, xi_hi = coordinate(np.array([lo, hi]))
    panels_needed = (xi_hi - xi_lo) / panel_width
    if not panels_needed * NODES_PER_PANEL <= max_nodes:  # also catches inf and NaN
        raise RuleTooLarge(panels_needed * NODES_PER_PANEL, max_nodes)
    n_panels = max(1, math.ceil(panels_needed))
    targets = xi_lo + (xi_hi - xi_lo) * np.arange(1, n_panels) / n_panels
    below = np.full_like(targets, lo)
    above = np.full_like(targets, hi)
    # Vectorised bisection on the monotone coordinate, in rounds, until every edge is within
    # 1% of a panel of its target (at most the full float64 precision of the interval).
    for _ in range(MAX_EDGE_BISECTION_ROUNDS):
        for _ in range(EDGE_BISECTIONS_PER_ROUND):
            middle = 0.5 * (below + above)
            too_low = coordinate(middle) < targets
            below = np.where(too_low, middle, below)
            above = np.where(too_low, above, middle)
        if targets.size == 0 or np.max(coordinate(above) - coordinate(below)) <= 0.01 * panel_width:
            break
    return np.concatenate(([lo], 0.5 * (below + above), [hi]))


@functools.cache
def gauss_legendre() -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the NODES_PER_PANEL-point Gauss-Legendre rule on [-1, 1]."""
    return np.polynomial.legendre.leggauss(NODES_PER_PANEL)


def panel_rule(
    lo: float,
    hi: float,
    breakpoints: list[float],
    coordinate: Callable[[np.ndarray], np.ndarray],
    panel_width: float,
    max_nodes: int,
) -> QuadratureRule:
    """Return a composite Gauss-Legendre rule on [lo, hi] with panel edges at every breakpoint.

    Parameters
    ----------
    lo, hi : float
    breakpoints : list of float
        Points inside (lo, hi) where the integrand has a kink: panel edges.
    coordinate : callable
        A non-decreasing map u -> xi(u) counting the integrand's length scales; panels are
        ``panel_width`` units of xi wide.
    panel_width : float
    max_nodes : int
        Refuse (RuleTooLarge) a piece between breakpoints that would need more nodes.
    """
    cuts = [lo] + sorted(p for p in breakpoints if lo < p < hi) + [hi]
    pieces = [panel_edges(a, b, coordinate, panel_width, max_nodes) for a, b in zip(cuts[:-1], cuts[1:])]
    edges = np.unique(np.concatenate(pieces))
    gl_nodes, gl_weights = gauss_legendre()
    centres = 0.5 * (edges[1:] + edges[:-1])
    half_widths = 0.5 * (edges[1:] - edges[:-1])
    nodes = (centres[:, None] + half_widths[:, None] * gl_nodes).ravel()
    weights = (half_widths[:, None] * gl_weights).ravel()
    return QuadratureRule(nodes, weights)
