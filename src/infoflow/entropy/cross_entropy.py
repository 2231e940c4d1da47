"""Per-point log densities of Gaussian mixtures and Gaussians: the pieces of cross-entropy bounds.

For an equal-weight mixture q = P_hat * N(0, beta^2 I) of n centres c_j and a point t,

    -log q(t) = log n + (d/2) log(2 pi beta^2) - log sum_j exp(-|t - c_j|^2 / (2 beta^2)).

Two uses (all in nats, float64):

* **Cross-entropy** H(p, q) = E_p[-log q(T)] >= h(p) (Gibbs) for ANY density q: the mean of
  -log q over draws of T that are independent of q is an unbiased estimate of an upper bound on
  h(T). When the draw is t = s + beta z with z ~ N(0, I) known, subtracting |z|^2/2 - d/2 (mean
  exactly 0) removes the chi-square noise of the Gaussian factor (a control variate), which
  otherwise dominates in wide layers (variance d/2 per draw).
* **Influence values** of sample propagation: to first order h(P_hat * phi) - h(P * phi) is the
  mean over the samples of psi(s_i) - h, psi(s) = E_Z[-log q(s + beta Z)] (the influence function
  of the entropy functional), so SD_i(psi(s_i)) / sqrt(n) is SP's own sampling standard error over
  P_hat. psi is integrated by Gauss-Hermite in one dimension, by Monte Carlo (with the control
  variate) above.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from infoflow.entropy.binned_mixture import (
    MAX_GRID_ENTRIES,
    NODES_PER_BETA,
    REACH,
    binned_mixture_log_density,
    grid_nodes,
)

# Entries of one tile of kernel exponents (float64): 2**22 = 32 MiB, whatever n and m are.
TILE_ENTRIES = 2**22
# Gauss-Hermite nodes for psi in one dimension (exact for polynomials of degree < 24 in z).
HERMITE_NODES = 12


def _log_sum_exp_(exponent: torch.Tensor) -> torch.Tensor:
    """Return log sum exp over the last axis, overwriting ``exponent`` (faster than torch.logsumexp on CPU)."""
    top = exponent.amax(dim=-1, keepdim=True)
    return exponent.sub_(top).exp_().sum(dim=-1).log_() + top.squeeze(-1)


def mixture_log_density(points: torch.Tensor, centres: torch.Tensor, beta: float) -> torch.Tensor:
    """Return log q(t) for every point, q the equal-weight mixture of N(c_j, beta^2 I).

    Parameters
    ----------
    points : Tensor of shape (B, m, d)
        Evaluation points t, B sets.
    centres : Tensor of shape (B, n, d)
        Mixture centres c_j of each set.
    beta : float
        Component standard deviation, > 0.

    Returns
    -------
    Tensor of shape (B, m), float64, nats (log density).
    """
    centres = centres.detach().to(torch.float64)
    points = points.detach().to(torch.float64, copy=False)
    n_sets, n, dim = centres.shape
    m = points.shape[1]
    # Units of beta, centred per set, so that the dot-product expansion keeps its digits.
    shift = centres.mean(dim=1, keepdim=True)
    scaled_centres = (centres - shift) / beta
    scaled_points = (points - shift) / beta
    centre_norms = 0.5 * scaled_centres.square().sum(-1)
    out = torch.empty(n_sets, m, dtype=torch.float64, device=centres.device)
    sets_per_tile = max(1, TILE_ENTRIES // max(1, n * m))
    rows_per_tile = m if sets_per_tile > 1 else max(1, TILE_ENTRIES // max(1, n))
    for set_start in range(0, n_sets, sets_per_tile):
        sets = slice(set_start, min(n_sets, set_start + sets_per_tile))
        for row_start in range(0, m, rows_per_tile):
            rows = slice(row_start, min(m, row_start + rows_per_tile))
            block = scaled_points[sets, rows]
            exponent = torch.bmm(block, scaled_centres[sets].transpose(1, 2))
            exponent -= centre_norms[sets].unsqueeze(1)
            exponent -= 0.5 * block.square().sum(-1, keepdim=True)
            out[sets, rows] = _log_sum_exp_(exponent)
    return out - math.log(n) - 0.5 * dim * math.log(2 * math.pi * beta**2)


def bound_log_density(points: torch.Tensor, centres: torch.Tensor, beta: float) -> torch.Tensor:
    """Return log q(t) of the mixture used by the bounds: exact, or binned where that is cheaper.

    In one dimension with many centres, q is the linearly binned mixture of
    :mod:`infoflow.entropy.binned_mixture` (a density, so cross-entropies under it stay upper
    bounds; within 1e-4 nats of the exact mixture's on average); otherwise the exact
    :func:`mixture_log_density`.

    Parameters
    ----------
    points : Tensor of shape (B, m, d)
    centres : Tensor of shape (B, n, d)
    beta : float

    Returns
    -------
    Tensor of shape (B, m), float64, nats
    """
    n_sets, n, dim = centres.shape
    if dim == 1 and n > 2 * (2 * REACH * NODES_PER_BETA + 1):
        nodes = grid_nodes(centres, beta)
        if n_sets * nodes <= MAX_GRID_ENTRIES:
            return binned_mixture_log_density(points, centres, beta, n_nodes=nodes)
    return mixture_log_density(points, centres, beta)


def mixture_cross_entropy_terms(
    noisy: torch.Tensor, clean: torch.Tensor, centres: torch.Tensor, beta: float
) -> torch.Tensor:
    """Return per-draw terms whose mean estimates H(p, P_hat * phi_beta) without bias, in nats.

    Each term is -log q(t) - (|z|^2/2 - d/2) with z = (t - s) / beta the draw's own noise (a
    control variate of mean exactly 0). The draws must be independent of the centres.

    Parameters
    ----------
    noisy, clean : Tensor of shape (B, m, d)
        Fresh draws t = s + beta z and their noiseless parts s.
    centres : Tensor of shape (B, n, d)
    beta : float

    Returns
    -------
    Tensor of shape (B, m), float64
    """
    noise = (noisy.to(torch.float64) - clean.to(torch.float64)) / beta
    control = 0.5 * noise.square().sum(-1) - 0.5 * noise.shape[-1]
    return -bound_log_density(noisy, centres, beta) - control


def gaussian_cross_entropy_terms(noisy: torch.Tensor, fit_clean: torch.Tensor, beta: float) -> torch.Tensor:
    """Return -log N(t; mu, Cov(S) + beta^2 I) per draw, mu and Cov(S) fitted on ``fit_clean``, in nats.

    The mean of the terms over draws independent of ``fit_clean`` estimates the cross-entropy of
    T under a Gaussian, an upper bound on h(T) (the maximum-entropy bound made data-driven: valid
    whatever the law of T, no confidence allowance for the covariance needed).

    Parameters
    ----------
    noisy : Tensor of shape (m, d)
        Fresh draws of T.
    fit_clean : Tensor of shape (n, d)
        Independent draws of S used to fit the Gaussian.
    beta : float

    Returns
    -------
    Tensor of shape (m,), float64
    """
    fit = fit_clean.detach().to(torch.float64)
    points = noisy.detach().to(torch.float64)
    dim = fit.shape[-1]
    mean = fit.mean(0)
    centred = fit - mean
    covariance = centred.T @ centred / max(1, fit.shape[0] - 1)
    covariance += beta**2 * torch.eye(dim, dtype=torch.float64, device=fit.device)
    factor = torch.linalg.cholesky(covariance)
    solved = torch.linalg.solve_triangular(factor, (points - mean).T, upper=False)
    log_det = 2.0 * torch.log(torch.diagonal(factor)).sum()
    return 0.5 * solved.square().sum(0) + 0.5 * log_det + 0.5 * dim * math.log(2 * math.pi)


@functools.lru_cache(maxsize=8)
def _hermite_rule(n_nodes: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Return the Gauss-Hermite nodes and weights (normalised to sum 1) for E[f(Z)], Z ~ N(0, 1), n each.

    Cached (as immutable tuples): numpy solves an eigenproblem for them, several times per epoch.
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(n_nodes)
    return tuple(nodes.tolist()), tuple((weights / weights.sum()).tolist())


def influence_values(
    centres: torch.Tensor, beta: float, rows: int, generator: torch.Generator, n_noise: int = 2
) -> torch.Tensor:
    """Return psi(s_i) = E_Z[-log q(s_i + beta Z)] for ``rows`` random centres of each set, in nats.

    q is the set's own mixture P_hat * phi_beta. One dimension: Gauss-Hermite with HERMITE_NODES
    nodes (deterministic). Higher: ``n_noise`` draws of Z per centre with the |z|^2/2 control
    variate; their noise only inflates the spread of psi, so a standard error built from it errs
    on the large side.

    Parameters
    ----------
    centres : Tensor of shape (B, n, d)
    beta : float
    rows : int
        Centres per set at which psi is evaluated (all if rows >= n).
    generator : torch.Generator
        On the centres' device: picks the rows and draws Z.
    n_noise : int

    Returns
    -------
    Tensor of shape (B, r), float64, r = min(rows, n)
    """
    centres = centres.detach().to(torch.float64)
    n_sets, n, dim = centres.shape
    if rows >= n:
        chosen = centres
    else:
        index = torch.randint(n, (n_sets, rows), generator=generator, device=centres.device)
        chosen = torch.gather(centres, 1, index.unsqueeze(-1).expand(-1, -1, dim))
    r = chosen.shape[1]
    if dim == 1:
        nodes, weights = _hermite_rule(HERMITE_NODES)
        z = torch.as_tensor(nodes, dtype=torch.float64, device=centres.device)
        w = torch.as_tensor(weights, dtype=torch.float64, device=centres.device)
        points = (chosen + beta * z.view(1, 1, -1)).reshape(n_sets, r * HERMITE_NODES, 1)
        values = -bound_log_density(points, centres, beta).reshape(n_sets, r, HERMITE_NODES)
        return (values * w).sum(-1)
    noise = torch.randn(n_sets, r, n_noise, dim, generator=generator, dtype=torch.float64, device=centres.device)
    points = (chosen.unsqueeze(2) + beta * noise).reshape(n_sets, r * n_noise, dim)
    control = (0.5 * noise.square().sum(-1) - 0.5 * dim).reshape(n_sets, r * n_noise)
    values = -bound_log_density(points, centres, beta) - control
    return values.reshape(n_sets, r, n_noise).mean(-1)
