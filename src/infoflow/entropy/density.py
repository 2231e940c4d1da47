"""The Gaussian-smoothed density of a point set on a grid (for the PDF-evolution plots)."""

from __future__ import annotations

import math

import torch

from infoflow.entropy.common import TILE_ENTRIES

# exp(x) is exactly 0.0 in float64 for every x below this (e^-750 ~ 7e-327 < half the least subnormal).
UNDERFLOW_EXPONENT = -750.0


# Grid points per window: the samples that reach a window are found once for all its points.
WINDOW_POINTS = 32
# Half-width of the reach of one sample, in beta: every kernel value beyond it is exactly 0.0.
REACH_BETAS = math.sqrt(-2.0 * UNDERFLOW_EXPONENT)
# Above this many coordinates the per-coordinate windows cost more in Python than they save
# (measured: 810 units, 1000 samples, 300 points: 1.46 s summing all, 1.64 s windowed) ...
MAX_WINDOWED_DIM = 64
# ... and below this many (sample, grid point) pairs per coordinate the plain sum is as fast
# (1000 samples on 300 points: 3.5 ms either way; a 1000-sample set on 150 points: 0.3 ms plain,
# 1 ms windowed); fig5's 4000 samples on 600 points: 20 ms plain, 6 ms windowed.
MIN_WINDOWED_PAIRS = 2**20


def smoothed_density(samples: torch.Tensor, grid: torch.Tensor, beta: float, *, negligible: float = 0.0) -> torch.Tensor:
    """Return the density of P_hat * N(0, beta^2) on a grid, per coordinate (marginals).

    Each coordinate's samples are sorted once; a window of WINDOW_POINTS grid points then sums
    only the samples within reach of it: by default REACH_BETAS beta, beyond which every kernel
    value is exactly 0.0 in float64, so the sum is the same as over all samples up to the order
    of the additions (measured: 6e-16 relative). Samples that are not all finite, layers wider
    than MAX_WINDOWED_DIM and small problems (fewer than MIN_WINDOWED_PAIRS sample-grid pairs)
    take the plain sum over every sample.

    Parameters
    ----------
    samples : Tensor of shape (n, d)
        Points of the empirical measure (e.g. S_l for n inputs).
    grid : Tensor of shape (G,)
        Evaluation points.
    beta : float
    negligible : float, >= 0
        An absolute error (density units, per unit length) allowed at each grid point: the reach
        shrinks to the distance beyond which all n samples together add less than this
        (:func:`reach_betas`). 0 (default) leaves out only terms that are exactly 0.0.

    Returns
    -------
    Tensor of shape (d, G), float64: the marginal density of each coordinate, per unit length.
    """
    points = samples.detach().to(torch.float64)
    if points.ndim == 1:
        points = points.unsqueeze(-1)
    grid = grid.to(dtype=torch.float64, device=points.device)
    n, dim = points.shape
    finite = bool(torch.isfinite(points).all()) and bool(torch.isfinite(grid).all())
    if n * grid.numel() < MIN_WINDOWED_PAIRS or dim > MAX_WINDOWED_DIM or not finite:
        return _density_over_all_samples(points, grid, beta)
    density = torch.zeros(dim, grid.numel(), dtype=torch.float64, device=points.device)
    columns = torch.sort(points, dim=0).values.T.contiguous()  # (d, n), each row ascending
    windows = torch.split(grid, WINDOW_POINTS)
    reach = reach_betas(beta, negligible) * beta
    # The samples within reach of each window, for every coordinate at once: rows lo..hi-1.
    lows = torch.stack([window.amin() for window in windows]) - reach
    highs = torch.stack([window.amax() for window in windows]) + reach
    first = torch.searchsorted(columns, lows.expand(dim, -1).contiguous()).tolist()
    last = torch.searchsorted(columns, highs.expand(dim, -1).contiguous(), right=True).tolist()
    max_rows = max(1, TILE_ENTRIES // WINDOW_POINTS)
    for coordinate in range(dim):
        start = 0
        for number, window in enumerate(windows):
            stop = start + window.numel()
            for top in range(first[coordinate][number], last[coordinate][number], max_rows):
                bottom = min(last[coordinate][number], top + max_rows)
                chunk = columns[coordinate, top:bottom]
                # (rows, window): the window's kernel values of these samples, summed over them.
                kernel = _gaussian_kernel_(window.view(1, -1) - chunk.unsqueeze(-1), beta)
                density[coordinate, start:stop] += kernel.sum(dim=0)
            start = stop
    return density / (n * beta * math.sqrt(2 * math.pi))


def reach_betas(beta: float, negligible: float) -> float:
    """Return the reach, in beta, beyond which n samples add less than ``negligible`` to the density.

    A sample r beta away adds exp(-r^2 / 2) / (n beta sqrt(2 pi)) to a grid point, so all n of
    them together less than exp(-r^2 / 2) / (beta sqrt(2 pi)); that is below ``negligible`` from
    r = sqrt(2 log(1 / (negligible beta sqrt(2 pi)))). Never more than REACH_BETAS (where
    every term is exactly 0.0), never less than 1.
    """
    if not negligible > 0:
        return REACH_BETAS
    exponent = -math.log(negligible) - math.log(beta * math.sqrt(2 * math.pi))
    return min(REACH_BETAS, max(1.0, math.sqrt(2.0 * max(exponent, 0.0))))


def _gaussian_kernel_(differences: torch.Tensor, beta: float) -> torch.Tensor:
    """Turn ``differences`` g - s, any shape, into exp(-0.5 ((g - s) / beta)^2) in place; return it."""
    # In place, the same operations as exp(-0.5 * ((g - s) / beta)**2), bit for bit: one
    # working tensor instead of five (each a fresh allocation and page faults).
    differences.div_(beta)
    differences.mul_(differences)
    differences.mul_(-0.5)
    # exp underflows to exactly 0 below -745.2, but takes a slow path there (measured 2-5x
    # slower per entry): those entries are set to 0 directly, the same value.
    far = differences < UNDERFLOW_EXPONENT
    return differences.masked_fill_(far, 0.0).exp_().masked_fill_(far, 0.0)


def _density_over_all_samples(points: torch.Tensor, grid: torch.Tensor, beta: float) -> torch.Tensor:
    """:func:`smoothed_density` summing every sample at every grid point, points (n, d) -> (d, G)."""
    n = points.shape[0]
    density = torch.zeros(points.shape[1], grid.numel(), dtype=torch.float64, device=points.device)
    rows = max(1, TILE_ENTRIES // max(1, grid.numel() * points.shape[1]))
    for chunk in torch.split(points, rows):
        # (d, chunk, G): every sample's Gaussian on the grid, summed over the chunk.
        density += _gaussian_kernel_(grid.view(1, 1, -1) - chunk.T.unsqueeze(-1), beta).sum(dim=1)
    return density / (n * beta * math.sqrt(2 * math.pi))
