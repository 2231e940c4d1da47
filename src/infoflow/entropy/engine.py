"""The entropy engine: h(P_hat * N(0, beta^2 I)) in nats, the entropy of an n-component Gaussian mixture.

Every mutual-information number infoflow prints is made of this quantity. Two evaluators:

* quadrature (d = 1, 2): the mixture density is evaluated on a grid of step beta/4 by a
  Hermite fast Gauss transform (samples binned to the grid with their first moments, then one
  FFT convolution per axis), and -integral p log p is taken by the trapezoid rule, which is spectrally
  accurate for these smooth, rapidly decaying integrands. Deterministic, error ~1e-10 nats.
* Monte Carlo (any d): h = -(1/(n m)) sum_i sum_j log g(s_i + beta z_ij) (Goldfeld et al. 2018),
  unbiased given the samples, with its standard error; float64 log-sum-exp, tiled so that memory
  stays bounded whatever n is.

The engine knows nothing of networks: it sees point clouds and a noise level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

METHODS = ("auto", "quadrature", "monte_carlo")

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

DEFAULT_TARGET_STD_ERROR = 0.01
# Samples farther than this many beta from their mean are refused: float64 keeps ~16 digits, so
# adding noise of size beta to such values would lose more than ~1e-7 of it.
MAX_SPREAD = 1e9


@dataclass(frozen=True)
class EntropyEstimate:
    """A Monte-Carlo entropy estimate.

    Attributes
    ----------
    nats : Tensor of the batch shape, float64
        The estimate h, in nats.
    std_error : Tensor of the batch shape, float64
        Its standard error (nats), conditional on the samples.
    n_noise : int
        Noise draws per sample point (m).
    """

    nats: torch.Tensor
    std_error: torch.Tensor
    n_noise: int


def gaussian_entropy(dim: int, beta: float) -> float:
    """Return h(N(0, beta^2 I_dim)) = (dim/2) log(2 pi e beta^2), in nats."""
    return 0.5 * dim * math.log(2 * math.pi * math.e * beta**2)


# ----------------------------------------------------------------------------------------------
# Input handling
# ----------------------------------------------------------------------------------------------


def _as_point_sets(samples: Any) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Return samples as a float64 tensor of shape (B, n, d) and the batch shape."""
    if isinstance(samples, torch.Tensor):
        points = samples.detach()
    else:
        try:
            array = np.asarray(samples, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("samples must be a numeric array or tensor") from None
        points = torch.from_numpy(array)
    if not (
        points.is_floating_point() or points.dtype in (torch.int32, torch.int64, torch.int16, torch.int8, torch.uint8)
    ):
        raise ValueError(f"samples must be real numbers; got dtype {points.dtype}")
    points = points.to(torch.float64)
    if points.ndim == 0:
        raise ValueError("samples must have shape (n,), (n, d) or (..., n, d); got a scalar")
    if points.ndim == 1:
        points = points.unsqueeze(-1)
    batch_shape = tuple(points.shape[:-2])
    n, d = points.shape[-2:]
    if n == 0 or d == 0:
        raise ValueError(
            f"samples must hold at least one point of dimension >= 1; got shape {tuple(samples.shape) if hasattr(samples, 'shape') else (n, d)}"
        )
    if math.prod(batch_shape) == 0:
        raise ValueError(f"samples batch is empty: shape {tuple(points.shape)}")
    if not torch.isfinite(points).all():
        raise ValueError("samples contain NaN or infinite values")
    return points.reshape(-1, n, d), batch_shape


def _check_beta(beta: float) -> float:
    try:
        beta = float(beta)
    except (TypeError, ValueError):
        raise ValueError(f"beta must be a positive number; got {beta!r}") from None
    if not (beta > 0 and math.isfinite(beta)):
        raise ValueError(f"beta must be a positive finite number; got {beta}")
    return beta


def _finish(values: torch.Tensor, batch_shape: tuple[int, ...]) -> float | torch.Tensor:
    """A float for one set of shape (n,) or (n, d); a tensor of the batch shape otherwise."""
    if batch_shape == ():
        return float(values.reshape(()))
    return values.reshape(batch_shape)


# ----------------------------------------------------------------------------------------------
# Public entry point
# ----------------------------------------------------------------------------------------------


def sp_entropy(
    samples: Any,
    beta: float,
    *,
    method: str = "auto",
    n_noise: int | None = None,
    target_std_error: float = DEFAULT_TARGET_STD_ERROR,
    seed: int | None = 0,
    generator: torch.Generator | None = None,
    return_std_error: bool = False,
) -> Any:
    """Return h(P_hat * N(0, beta^2 I)) in nats: the entropy of the Gaussian-smoothed samples.

    Parameters
    ----------
    samples : array or Tensor of shape (n,), (n, d) or (..., n, d)
        The points of the empirical measure P_hat; a leading batch of sets is evaluated at once.
    beta : float
        Standard deviation of the Gaussian smoothing (the network's noise level), > 0.
    method : {"auto", "quadrature", "monte_carlo"}
        "quadrature" (d <= 2) is deterministic with error ~1e-10 nats; "monte_carlo" works in any
        d; "auto" takes quadrature for d <= 2 (when its grid is of a workable size) and Monte
        Carlo otherwise.
    n_noise : int, optional
        Monte Carlo only: noise draws per point (m). By default chosen so that the standard error
        is at most ``target_std_error``.
    target_std_error : float
        Monte Carlo only: the standard error (nats) the default m aims for.
    seed, generator :
        Monte Carlo only: the noise comes from ``generator`` if given, else from a generator
        seeded with ``seed`` (same seed, same number).
    return_std_error : bool
        If True return ``(entropy, std_error)``; the standard error is 0 for quadrature.

    Returns
    -------
    float or Tensor
        Nats: a float for one set, a float64 tensor of the batch shape for a batch (on the
        samples' device).
    """
    points, batch_shape = _as_point_sets(samples)
    beta = _check_beta(beta)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    dim = points.shape[-1]
    spread = float((points - points.mean(dim=1, keepdim=True)).abs().amax()) / beta
    if spread > MAX_SPREAD:
        raise ValueError(
            f"samples lie up to {spread:.3g} beta from their mean; beyond {MAX_SPREAD:.0e} beta float64 "
            "cannot resolve noise of size beta: rescale the samples or raise beta"
        )
    if method == "quadrature" and dim > 2:
        raise ValueError(f"method='quadrature' supports dimension 1 or 2; got d={dim} (use 'monte_carlo')")
    use_quadrature = method == "quadrature" or (method == "auto" and dim <= 2 and _grid_is_workable(points, beta))
    if use_quadrature:
        nats = quadrature_entropy(points, beta)
        std_error = torch.zeros_like(nats)
    else:
        estimate = monte_carlo_entropy(
            points, beta, n_noise=n_noise, target_std_error=target_std_error, seed=seed, generator=generator
        )
        nats, std_error = estimate.nats, estimate.std_error
    if return_std_error:
        return _finish(nats, batch_shape), _finish(std_error, batch_shape)
    return _finish(nats, batch_shape)


# ----------------------------------------------------------------------------------------------
# Quadrature (d = 1, 2): Hermite fast Gauss transform on a grid + trapezoid rule
# ----------------------------------------------------------------------------------------------


def _grid_points_per_axis(points: torch.Tensor, beta: float) -> torch.Tensor:
    """Return the grid size needed per set and axis, shape (B, d)."""
    span = points.amax(dim=1) - points.amin(dim=1)
    step = STEP_RATIO * beta
    # Clamp in floating point first: a span of 1e30 beta must read as "too large", not overflow.
    points_needed = torch.ceil((span + 2 * PADDING * beta) / step).clamp(max=2.0**40)
    return points_needed.to(torch.int64) + 1


def _quadrature_bytes(points: torch.Tensor, beta: float) -> torch.Tensor:
    """Return the quadrature's working memory per set in bytes, shape (B,), float64."""
    grid_points = _grid_points_per_axis(points, beta).to(torch.float64).prod(dim=-1)
    return grid_points * 48 * HERMITE_TERMS ** points.shape[-1]


def _grid_is_workable(points: torch.Tensor, beta: float) -> bool:
    return bool(_quadrature_bytes(points, beta).max() <= MAX_SET_BYTES)


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
    kernels = _hermite_kernels(moments.dtype, moments.device)
    radius = (kernels.shape[-1] - 1) // 2
    # The full linear convolution has n_grid + 2 radius points; a power-of-two length above it
    # avoids circular wrap-around.
    n_fft = 1 << (n_grid + 2 * radius - 1).bit_length()
    spectrum = torch.einsum("mnf,mf->nf", torch.fft.rfft(moments, n=n_fft), torch.fft.rfft(kernels, n=n_fft))
    return torch.fft.irfft(spectrum, n=n_fft)[:, radius : radius + n_grid]


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
    offset from the bin centre in units of beta.
    """
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
    n_grid = int(_grid_points_per_axis(x.unsqueeze(-1), beta).max())
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
    sizes = _grid_points_per_axis(x, beta).amax(dim=0)
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
    sizes = _grid_points_per_axis(points, beta).prod(dim=-1)
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
    while start < n_sets:
        stop = start + 1
        while (
            stop < n_sets
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
# Monte Carlo (any d)
# ----------------------------------------------------------------------------------------------

# Entries of one (rows x n) tile of kernel evaluations: 2**20 float64 = 8 MiB, the fastest size
# measured on the 2-core machine (~1e9 kernel evaluations/s); it bounds memory whatever n is.
TILE_ENTRIES = 2**20
# Largest |s - mean| / beta for which the Monte-Carlo exponent may use the dot-product expansion.
EXPANSION_LIMIT = 2.0e4


def _neg_log_density_at_noisy_points(centres: torch.Tensor, noise: torch.Tensor, beta: float) -> torch.Tensor:
    """Return -log g(s_i + beta z_ij) for a block of sets.

    Parameters
    ----------
    centres : Tensor of shape (B, n, d)
        The mixture's centres s_k (already centred per set for numerical range).
    noise : Tensor of shape (B, r, d)
        Standard normal z for r evaluation points t_r = s_{i(r)} + beta z_r, where the centre of
        row r is row r mod n of ``centres``.

    Returns
    -------
    Tensor of shape (B, r)
    """
    n_sets, n, dim = centres.shape
    rows = noise.shape[1]
    owner = torch.arange(rows, device=centres.device) % n
    points = centres[:, owner, :] + beta * noise
    # exponent_rk = -|t_r - s_k|^2 / (2 beta^2) + |z_r|^2 / 2, one matrix product on augmented
    # vectors. The k = owner term equals exp(0) = 1, so the row sum is >= 1: no max pass is needed
    # for stability and nothing overflows.
    scaled_points = points / beta
    scaled_centres = centres / beta
    shift = 0.5 * (noise**2).sum(-1) - 0.5 * (scaled_points**2).sum(-1)
    ones_rows = torch.ones(n_sets, rows, 1, dtype=points.dtype, device=points.device)
    left = torch.cat([scaled_points, ones_rows, shift.unsqueeze(-1)], dim=-1)
    ones_cols = torch.ones(n_sets, n, 1, dtype=points.dtype, device=points.device)
    right = torch.cat([scaled_centres, -0.5 * (scaled_centres**2).sum(-1, keepdim=True), ones_cols], dim=-1)
    log_norm = math.log(n) + 0.5 * dim * math.log(2 * math.pi * beta**2)
    row_sums = torch.empty(n_sets, rows, dtype=points.dtype, device=points.device)
    tile_rows = max(1, TILE_ENTRIES // (n * n_sets))
    right_t = right.transpose(1, 2).contiguous()
    # The expansion |t|^2 + |s|^2 - 2 t.s loses ~eps * max|s/beta|^2 to cancellation; beyond
    # EXPANSION_LIMIT beta from the set's mean that would exceed ~1e-7 in the exponent, so such
    # (rare, huge-range) sets take exact differences instead, at a few times the cost.
    exact_differences = float(scaled_points.abs().amax()) > EXPANSION_LIMIT
    exponent = torch.empty(n_sets, min(tile_rows, rows), n, dtype=points.dtype, device=points.device)
    for start in range(0, rows, tile_rows):
        stop = min(rows, start + tile_rows)
        tile = exponent[:, : stop - start]
        if exact_differences:
            difference = scaled_points[:, start:stop].unsqueeze(2) - scaled_centres.unsqueeze(1)
            torch.sum(difference.square_(), dim=-1, out=tile)
            tile.mul_(-0.5).add_(0.5 * (noise[:, start:stop] ** 2).sum(-1, keepdim=True))
        else:
            torch.bmm(left[:, start:stop], right_t, out=tile)
        torch.sum(tile.exp_(), dim=-1, out=row_sums[:, start:stop])
    return log_norm + 0.5 * (noise**2).sum(-1) - torch.log(row_sums)


def _draw_noise_values(centres: torch.Tensor, beta: float, n_noise: int, generator: torch.Generator) -> torch.Tensor:
    """Return -log g at n_noise noisy copies of every centre, shape (B, n_noise * n)."""
    n_sets, n, dim = centres.shape
    sets_per_block = max(1, TILE_ENTRIES // (n * n))
    values = []
    for start in range(0, n_sets, sets_per_block):
        block = centres[start : start + sets_per_block]
        noise = torch.randn(
            block.shape[0], n_noise * n, dim, generator=generator, dtype=centres.dtype, device=centres.device
        )
        values.append(_neg_log_density_at_noisy_points(block, noise, beta))
    return torch.cat(values)


def monte_carlo_entropy(
    points: torch.Tensor,
    beta: float,
    *,
    n_noise: int | None = None,
    target_std_error: float = DEFAULT_TARGET_STD_ERROR,
    seed: int | None = 0,
    generator: torch.Generator | None = None,
) -> EntropyEstimate:
    """Return the Monte-Carlo estimate of h for each set, with standard errors, in nats.

    Parameters
    ----------
    points : Tensor of shape (B, n, d), float64
    beta : float
    n_noise : int, optional
        Noise draws per point (m). If None, a pilot of ceil(1000 / n) draws per point sizes m so
        that every set's standard error is at most ``target_std_error``.
    target_std_error : float
        Nats; used when ``n_noise`` is None.
    seed, generator :
        The noise source: ``generator`` if given, else a new generator seeded with ``seed``.

    Returns
    -------
    EntropyEstimate with tensors of shape (B,)
    """
    if n_noise is not None and (int(n_noise) != n_noise or n_noise < 1):
        raise ValueError(f"n_noise must be a positive integer; got {n_noise}")
    if not (target_std_error > 0):
        raise ValueError(f"target_std_error must be > 0; got {target_std_error}")
    if generator is not None and generator.device.type != points.device.type:
        raise ValueError(
            f"generator is on {generator.device} but the samples are on {points.device}; use one on the samples' device"
        )
    if generator is None:
        generator = torch.Generator(device=points.device)
        generator.manual_seed(0 if seed is None else int(seed))
    n = points.shape[1]
    centres = points - points.mean(dim=1, keepdim=True)
    if n_noise is not None:
        values = _draw_noise_values(centres, beta, int(n_noise), generator)
    else:
        pilot = max(1, math.ceil(1000 / n))
        values = _draw_noise_values(centres, beta, pilot, generator)
        worst_std = float(values.std(dim=1, correction=1).max()) if values.shape[1] > 1 else 0.0
        needed = max(pilot, math.ceil((worst_std / target_std_error) ** 2 / n))
        if needed > pilot:
            extra = _draw_noise_values(centres, beta, needed - pilot, generator)
            values = torch.cat([values, extra], dim=1)
        n_noise = needed
    total = values.shape[1]
    std_error = (
        values.std(dim=1, correction=1) / math.sqrt(total)
        if total > 1
        else torch.zeros(values.shape[0], dtype=values.dtype, device=values.device)
    )
    return EntropyEstimate(nats=values.mean(dim=1), std_error=std_error, n_noise=int(n_noise))


# ----------------------------------------------------------------------------------------------
# Densities for plots
# ----------------------------------------------------------------------------------------------


def smoothed_density(samples: torch.Tensor, grid: torch.Tensor, beta: float) -> torch.Tensor:
    """Return the density of P_hat * N(0, beta^2) on a grid, per coordinate (marginals).

    Parameters
    ----------
    samples : Tensor of shape (n, d)
        Points of the empirical measure (e.g. S_l for n inputs).
    grid : Tensor of shape (G,)
        Evaluation points.
    beta : float

    Returns
    -------
    Tensor of shape (d, G), float64: the marginal density of each coordinate, per unit length.
    """
    points = samples.detach().to(torch.float64)
    if points.ndim == 1:
        points = points.unsqueeze(-1)
    grid = grid.to(dtype=torch.float64, device=points.device)
    n = points.shape[0]
    density = torch.zeros(points.shape[1], grid.numel(), dtype=torch.float64, device=points.device)
    rows = max(1, TILE_ENTRIES // max(1, grid.numel() * points.shape[1]))
    for chunk in torch.split(points, rows):
        # (d, chunk, G): every sample's Gaussian on the grid, summed over the chunk.
        z = (grid.view(1, 1, -1) - chunk.T.unsqueeze(-1)) / beta
        density += torch.exp(-0.5 * z**2).sum(dim=1)
    return density / (n * beta * math.sqrt(2 * math.pi))
