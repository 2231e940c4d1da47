"""The density of every T_l on a grid per record, from the very samples sample propagation drew.

A grid given as limits stays fixed. A grid chosen from the data ("auto") follows the layer: it
is chosen from the first record's samples and widened (:func:`widened_grid`) at any later record
where more than ``DENSITY_REGRID_OUTSIDE`` of a unit's mass would fall outside it, so every
record keeps at least 1 - DENSITY_REGRID_OUTSIDE of the mass; the grid each record used is
recorded with it (densities.npz, ``runs/format.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from infoflow.entropy import smoothed_density

# A density grid chosen from the data spans the first measured samples plus this many times their
# range on each side (and at least DENSITY_MARGIN_BETAS noise s.d.): representations usually
# spread during training. The mass that still falls outside is recorded (density_outside).
DENSITY_SPAN_MARGIN = 1.0
DENSITY_MARGIN_BETAS = 6.0
# A grid that follows its layer is widened when more than this fraction of a unit's mass is outside.
DENSITY_REGRID_OUTSIDE = 1e-3
# A warning is given once per layer when more than this fraction of a unit's mass is off the grid.
DENSITY_OUTSIDE_WARNING = 0.01
# The densities are stored as float32, whose least (subnormal) value is 2^-149 ~ 1.4e-45: samples
# whose terms add less than 2^-200 to a grid point are left out of its sum (entropy.density,
# ``negligible``). That changes a stored value only if its float64 sum lay within 2^-200 of a
# float32 rounding boundary (spacing >= 2^-149): a chance below 2^-51 per value. fig5's grids:
# 4000 samples, 600 points, 25 -> 10 ms per record (a saturated tanh layer's windows now see one cluster).
FLOAT32_NEGLIGIBLE = 2.0**-200


def fixed_grid(limits: Sequence[float], points: int, index: int) -> np.ndarray:
    """Return ``points`` evenly spaced values on [low, high] = ``limits`` (layer ``index``, for messages)."""
    try:
        low, high = (float(value) for value in limits)
    except (TypeError, ValueError):
        raise ValueError(f"density_limits[{index}] must be a pair [low, high]; got {limits!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"density_limits[{index}] must be finite with low < high; got {limits!r}")
    return torch.linspace(low, high, points, dtype=torch.float64).numpy()


def grid_from_samples(samples: torch.Tensor, beta: float, points: int) -> np.ndarray:
    """Return a grid spanning ``samples`` (n, d) with the margins above (DENSITY_SPAN_MARGIN, DENSITY_MARGIN_BETAS)."""
    values = samples.detach().to("cpu", torch.float64)
    low, high = float(values.min()), float(values.max())
    margin = max(DENSITY_SPAN_MARGIN * (high - low), DENSITY_MARGIN_BETAS * beta)
    return torch.linspace(low - margin, high + margin, points, dtype=torch.float64).numpy()


def widened_grid(grid: np.ndarray, samples: torch.Tensor, beta: float) -> np.ndarray:
    """Return a grid of ``len(grid)`` points spanning both ``grid`` and :func:`grid_from_samples` of ``samples``.

    The union, so a grid only ever widens: a layer that grows is regridded a few times (each
    time at least its current range is added on each side), one that shrinks keeps its grid.
    """
    fresh = grid_from_samples(samples, beta, len(grid))
    low, high = min(float(grid[0]), float(fresh[0])), max(float(grid[-1]), float(fresh[-1]))
    return torch.linspace(low, high, len(grid), dtype=torch.float64).numpy()


def mass_outside(samples: torch.Tensor, low: float, high: float, beta: float) -> float:
    """Return the largest fraction, over units, of the mixture P_hat(S) * N(0, beta^2) outside [low, high].

    Exact (normal tails per sample), so a coarse grid does not misreport it. samples: (n, d).
    """
    values = samples.detach().to("cpu", torch.float64)
    below = torch.special.ndtr((low - values) / beta)
    above = torch.special.ndtr((values - high) / beta)
    return float((below + above).mean(dim=0).max())


def layer_density(samples: torch.Tensor, grid: np.ndarray, beta: float) -> tuple[np.ndarray, float]:
    """Return the density of each unit of T = S + N(0, beta^2) on ``grid``, float32 (d, G), and the mass outside it."""
    grid_tensor = torch.from_numpy(grid).to(samples.device)
    density = smoothed_density(samples.to(torch.float64), grid_tensor, beta, negligible=FLOAT32_NEGLIGIBLE)
    density = density.cpu().numpy()
    return density.astype(np.float32), mass_outside(samples, grid[0], grid[-1], beta)
