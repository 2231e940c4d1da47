"""Cluster analysis of a recorded density of T_l on its grid."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.signal import find_peaks, peak_prominences

from infoflow.runs.reader import RunRecord

# ----------------------------------------------------------------------------------------------
# Thresholds
# ----------------------------------------------------------------------------------------------

# Cluster counter. A local maximum of a density is a mode when the valley separating it from any
# higher mode dips to at most (1 - MIN_VALLEY_DEPTH) of its own height (topographic prominence
# >= MIN_VALLEY_DEPTH x height). Two equal bumps of s.d. beta then count as two once they are
# about 3.4 beta apart (at 3.3 beta the valley is 51 % of the peaks), while the ripples that a
# kernel density of n = 1000 samples carries (10-20 % of the local height) are ignored.

# Cluster counter. A local maximum of a density is a mode when the valley separating it from any
# higher mode dips to at most (1 - MIN_VALLEY_DEPTH) of its own height (topographic prominence
# >= MIN_VALLEY_DEPTH x height). Two equal bumps of s.d. beta then count as two once they are
# about 3.4 beta apart (at 3.3 beta the valley is 51 % of the peaks), while the ripples that a
# kernel density of n = 1000 samples carries (10-20 % of the local height) are ignored.
MIN_VALLEY_DEPTH = 0.5
# ... and when its basin (between the valleys on either side) holds at least this fraction of the
# probability mass: a bump made by a handful of outlying samples (< 30 of n = 1000) is not a
# cluster, while the smallest clusters of the seed's experiments (1/8 of the mass, Figure 3) are.
MIN_CLUSTER_MASS = 0.03
# ... and, when the number n of samples behind the density is known, when its prominence exceeds
# KDE_NOISE_Z standard deviations of the density's sampling noise at its height,
# sqrt(f / (n beta 2 sqrt(pi))) for a Gaussian kernel of s.d. beta. Without it a diffuse density
# (s.d. >> beta, continuous inputs) shows spurious shoulders: for N(0, 1.5^2), n = 1000, beta = 0.05,
# 69 % of 200 densities had a spurious extra "mode" by the depth rule alone, 0.5 % with this rule.
KDE_NOISE_Z = 4.0


# ----------------------------------------------------------------------------------------------
# Cluster counter
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    """One mode of a 1-D density and its basin (the stretch between the valleys either side).

    Attributes
    ----------
    location : float
        Where the density peaks (grid units, i.e. units of T).
    mean, sd : float
        Mean and standard deviation of the density restricted to the basin.
    mass : float
        Probability in the basin (fractions summing to 1 over the clusters).
    height : float
        Density at the peak.
    """

    location: float
    mean: float
    sd: float
    mass: float
    height: float


def _cumulative_integral(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Trapezoid integral of values from grid[0] to each grid point, shape (G,)."""
    pieces = 0.5 * (values[1:] + values[:-1]) * np.diff(grid)
    return np.concatenate([[0.0], np.cumsum(pieces)])


def find_clusters(
    density: np.ndarray, grid: np.ndarray, *, n_samples: int | None = None, beta: float | None = None
) -> list[Cluster]:
    """Return the well-separated modes of a 1-D density on a grid, left to right.

    Rule: a local maximum (grid ends included) is a mode when the valley separating it from any
    higher mode dips by at least ``MIN_VALLEY_DEPTH`` x its height below it (topographic
    prominence; with MIN_VALLEY_DEPTH = 0.5: to half the peak or lower) and, given ``n_samples``
    and ``beta``, by at least ``KDE_NOISE_Z`` s.d. of the sampling noise of a kernel density at
    that height. Neighbouring modes failing this are merged pairwise (the lower peak goes), most
    shallow valley first; then modes whose basin holds less than ``MIN_CLUSTER_MASS`` of the
    probability are merged, smallest first, into the neighbour across their shallower valley.

    Parameters
    ----------
    density : array of shape (G,)
        Density values per unit length (negative or non-finite values count as 0).
    grid : array of shape (G,)
        Strictly increasing grid points.
    n_samples : int, optional
        Number of samples of S_l behind the density (P_hat * N(0, beta^2)).
    beta : float, optional
        The noise s.d., i.e. the kernel width.

    Returns
    -------
    list of Cluster; empty when the density is zero everywhere.
    """
    values = np.asarray(density, dtype=np.float64)
    points = np.asarray(grid, dtype=np.float64)
    if values.ndim != 1 or points.shape != values.shape or values.size < 3:
        raise ValueError(f"density and grid must be 1-D of the same length >= 3, got {values.shape} and {points.shape}")
    if not np.all(np.diff(points) > 0):
        raise ValueError("grid must be strictly increasing")
    values = np.where(np.isfinite(values) & (values > 0), values, 0.0)
    mass_to = _cumulative_integral(values, points)
    total = mass_to[-1]
    if total <= 0:
        return []
    first_moment_to = _cumulative_integral(values * points, points)
    second_moment_to = _cumulative_integral(values * points**2, points)

    def required_prominence(heights: np.ndarray) -> np.ndarray:
        required = MIN_VALLEY_DEPTH * heights
        if n_samples is not None and beta is not None:
            # The kernel-density noise formula is for a density integrating to 1.
            noise = np.sqrt((heights / total) / (n_samples * beta * 2 * math.sqrt(math.pi))) * total
            required = np.maximum(required, KDE_NOISE_Z * noise)
        return required

    # Candidates: local maxima whose topographic prominence passes (cheaply removes ripples).
    # Zero padding makes a density still rising at a grid end a candidate peak there.
    padded = np.concatenate([[0.0], values, [0.0]])
    candidates, _ = find_peaks(padded)
    prominences = peak_prominences(padded, candidates)[0]
    peaks = list(candidates[prominences >= required_prominence(padded[candidates])] - 1)

    # Then merge, one pair at a time: first neighbours whose valley is too shallow for the lower
    # of the two (this also settles peaks of exactly equal height, which prominence cannot
    # separate), then clusters holding too little mass. The lower peak of a merged pair goes.
    while len(peaks) > 1:
        valleys = [int(a + np.argmin(values[a : b + 1])) for a, b in itertools.pairwise(peaks)]
        lower = np.minimum(values[peaks[:-1]], values[peaks[1:]])
        shortfall = (values[valleys] + required_prominence(lower)) / lower  # > 1: too shallow
        if shortfall.max() > 1:
            pair = int(np.argmax(shortfall))
        else:
            bounds = np.array([0, *valleys, values.size - 1])
            masses = (mass_to[bounds[1:]] - mass_to[bounds[:-1]]) / total
            smallest = int(np.argmin(masses))
            if masses[smallest] >= MIN_CLUSTER_MASS:
                break
            adjacent = [v for v in (smallest - 1, smallest) if 0 <= v < len(valleys)]
            pair = max(adjacent, key=lambda v: values[valleys[v]])  # across the shallower valley
        del peaks[pair if values[peaks[pair]] < values[peaks[pair + 1]] else pair + 1]
    valleys = [int(a + np.argmin(values[a : b + 1])) for a, b in itertools.pairwise(peaks)]

    bounds = [0, *valleys, values.size - 1]
    clusters = []
    for peak, start, stop in zip(peaks, bounds[:-1], bounds[1:]):
        mass = mass_to[stop] - mass_to[start]
        if mass <= 0:
            continue
        mean = (first_moment_to[stop] - first_moment_to[start]) / mass
        variance = (second_moment_to[stop] - second_moment_to[start]) / mass - mean**2
        clusters.append(
            Cluster(
                location=float(points[peak]),
                mean=float(mean),
                sd=float(math.sqrt(max(variance, 0.0))),
                mass=float(mass / total),
                height=float(values[peak]),
            )
        )
    return clusters


def count_clusters(
    density: np.ndarray, grid: np.ndarray, *, n_samples: int | None = None, beta: float | None = None
) -> int:
    """Return the number of well-separated modes of a 1-D density (see :func:`find_clusters`)."""
    return len(find_clusters(density, grid, n_samples=n_samples, beta=beta))


def _spread(density: np.ndarray, grid: np.ndarray) -> float:
    """Standard deviation of a 1-D density on a grid (units of T)."""
    values = np.where(np.isfinite(density) & (density > 0), density, 0.0).astype(np.float64)
    mass = _cumulative_integral(values, grid)[-1]
    if mass <= 0:
        return float("nan")
    mean = _cumulative_integral(values * grid, grid)[-1] / mass
    second = _cumulative_integral(values * grid**2, grid)[-1] / mass
    return float(math.sqrt(max(second - mean**2, 0.0)))


@dataclass(frozen=True)
class ClusterSeries:
    """Cluster statistics of one layer of one seed over the recorded epochs.

    For a layer of several units each unit's marginal density is analysed: ``count`` and
    ``effective_count`` are the largest over units (a lower bound on the joint's clusters), the
    spreads are root-mean-square over units.

    Attributes
    ----------
    epochs : ndarray of shape (E_d,)
    count : ndarray of shape (E_d,), int64
        Number of clusters (:func:`find_clusters`).
    effective_count : ndarray of shape (E_d,)
        exp(entropy of the cluster masses): 4 for four equal clusters, 2.83 after two of them
        merge, 1.75 for masses (3/4, 1/4).
    within_sd : ndarray of shape (E_d,)
        sqrt(sum_c mass_c sd_c^2), units of T; ~beta for tight clusters.
    total_sd : ndarray of shape (E_d,)
        Standard deviation of T_l, units of T.
    clusters : tuple of tuple of Cluster
        The clusters of the first unit, per epoch (for locations).
    """

    epochs: np.ndarray
    count: np.ndarray
    effective_count: np.ndarray
    within_sd: np.ndarray
    total_sd: np.ndarray
    clusters: tuple[tuple[Cluster, ...], ...]


def _sampling(config: Mapping[str, Any]) -> tuple[int | None, float | None]:
    """Return (n_samples, beta) behind a run's densities, from its config (None when absent)."""
    n_samples = config.get("estimation", {}).get("n_samples")
    beta = config.get("network", {}).get("beta")
    if n_samples is None or beta is None:
        return None, None
    return int(n_samples), float(beta)


def cluster_series(run: RunRecord, seed: int, layer: int) -> ClusterSeries:
    """Return the cluster statistics of T_layer of one seed at every epoch it has a density for.

    Epochs whose density is all NaN (not reached by this seed: a run still going, or stopped)
    are left out.
    """
    densities = run.layer_densities(seed, layer)  # (E_d, d, G)
    recorded = np.isfinite(densities).any(axis=(1, 2))
    if not recorded.any():
        raise ValueError(f"{run.run_dir}: densities.npz has no density of T_{layer} for seed {seed}")
    densities = densities[recorded]
    grids = run.layer_grids(seed, layer)[recorded]  # (E, G): one grid, or the one each epoch used
    n_samples, beta = _sampling(run.config)
    n_epochs, n_units, _ = densities.shape
    count = np.zeros((n_epochs, n_units), dtype=np.int64)
    effective = np.ones((n_epochs, n_units))
    within = np.full((n_epochs, n_units), np.nan)
    total = np.full((n_epochs, n_units), np.nan)
    first_unit_clusters = []
    for epoch in range(n_epochs):
        for unit in range(n_units):
            clusters = find_clusters(densities[epoch, unit], grids[epoch], n_samples=n_samples, beta=beta)
            if unit == 0:
                first_unit_clusters.append(tuple(clusters))
            if not clusters:
                continue
            masses = np.array([c.mass for c in clusters])
            count[epoch, unit] = len(clusters)
            effective[epoch, unit] = math.exp(-float(np.sum(masses * np.log(masses))))
            within[epoch, unit] = math.sqrt(float(np.sum(masses * np.array([c.sd for c in clusters]) ** 2)))
            total[epoch, unit] = _spread(densities[epoch, unit], grids[epoch])
    return ClusterSeries(
        epochs=run.density_epochs[recorded],
        count=count.max(axis=1),
        effective_count=effective.max(axis=1),
        within_sd=np.sqrt(np.mean(within**2, axis=1)),
        total_sd=np.sqrt(np.mean(total**2, axis=1)),
        clusters=tuple(first_unit_clusters),
    )
