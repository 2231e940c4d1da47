"""The Gaussian-smoothed density of a point set on a grid (for the PDF-evolution plots)."""

from __future__ import annotations

import math

import torch

from infoflow.entropy.common import TILE_ENTRIES

# exp(x) is exactly 0.0 in float64 for every x below this (e^-750 ~ 7e-327 < half the least subnormal).
UNDERFLOW_EXPONENT = -750.0


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
        # In place, the same operations as exp(-0.5 * ((g - s) / beta)**2), bit for bit: one
        # working tensor instead of five (each a fresh allocation and page faults).
        kernel = grid.view(1, 1, -1) - chunk.T.unsqueeze(-1)
        kernel.div_(beta)
        kernel.mul_(kernel)
        kernel.mul_(-0.5)
        # exp underflows to exactly 0 below -745.2, but takes a slow path there (measured 2-5x
        # slower per entry): those entries are set to 0 directly, the same value.
        far = kernel < UNDERFLOW_EXPONENT
        density += kernel.masked_fill_(far, 0.0).exp_().masked_fill_(far, 0.0).sum(dim=1)
    return density / (n * beta * math.sqrt(2 * math.pi))
