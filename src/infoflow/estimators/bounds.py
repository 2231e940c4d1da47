"""Mixture-entropy bounds (Kolchinsky & Tracey 2017) and binned entropies (Shwartz-Ziv & Tishby 2017)."""

from __future__ import annotations

import math

import torch

from infoflow.entropy import gaussian_entropy

# Squared distance divisor per pairwise bound, in units of beta^2. Between N(a, beta^2 I) and
# N(b, beta^2 I): KL = |a-b|^2 / (2 beta^2), Bhattacharyya distance = |a-b|^2 / (8 beta^2).
PAIRWISE_SCALES = {"kl": 2.0, "bhattacharyya": 8.0}
PAIRWISE_OF_ESTIMATOR = {"kl_upper": "kl", "bhattacharyya_lower": "bhattacharyya"}

# Entries of one tile of pairwise kernel values (float64): 2**22 entries = 32 MiB, so the bounds'
# memory stays bounded whatever n_conditional and n_inputs are.
PAIRWISE_TILE_ENTRIES = 2**22


# ----------------------------------------------------------------------------------------------


def pairwise_distance_entropy(points: torch.Tensor, beta: float, distance: str) -> torch.Tensor:
    """Return the pairwise-distance bound on h(P_hat * N(0, beta^2 I)) of each set, in nats.

    Kolchinsky & Tracey (2017): for the equal-weight mixture of N(s_i, beta^2 I), i = 1..n,

        H_D = h(N(0, beta^2 I)) - (1/n) sum_i log (1/n) sum_j exp(-D(s_i, s_j)).

    With D the Kullback-Leibler divergence, |s_i - s_j|^2 / (2 beta^2), H_D is an upper bound on
    the mixture entropy; with the Bhattacharyya distance, |s_i - s_j|^2 / (8 beta^2), a lower
    bound. Both are exact for one point and for clusters far apart (>> beta).

    Parameters
    ----------
    points : Tensor of shape (B, n, d)
        B sets of n mixture centres.
    beta : float
        The components' standard deviation, > 0.
    distance : {"kl", "bhattacharyya"}

    Returns
    -------
    Tensor of shape (B,), float64, nats, on the points' device.
    """
    if distance not in PAIRWISE_SCALES:
        raise ValueError(f"distance must be one of {', '.join(PAIRWISE_SCALES)}; got {distance!r}")
    points = points.detach().to(torch.float64)
    n_sets, n, dim = points.shape
    # In units of sqrt(scale) * beta the kernel is exp(-|a - b|^2). Centring per set keeps the
    # matrix-product expansion |a|^2 + |b|^2 - 2 a.b (used in higher dimension) free of cancellation.
    scaled = (points - points.mean(dim=1, keepdim=True)) / (beta * math.sqrt(PAIRWISE_SCALES[distance]))
    sum_log_row = torch.zeros(n_sets, dtype=torch.float64, device=points.device)
    sets_per_tile = max(1, PAIRWISE_TILE_ENTRIES // (n * n))
    rows_per_tile = n if sets_per_tile > 1 else max(1, PAIRWISE_TILE_ENTRIES // n)
    for set_start in range(0, n_sets, sets_per_tile):
        sets = slice(set_start, min(n_sets, set_start + sets_per_tile))
        for row_start in range(0, n, rows_per_tile):
            rows = slice(row_start, min(n, row_start + rows_per_tile))
            squared = _squared_distances(scaled[sets, rows], scaled[sets])
            # The j = i term is exp(0) = 1, so every row sum lies in [1, n]: no max shift needed.
            # Capping at 700 changes nothing visible (exp(-700) ~ 1e-304 next to 1) and keeps exp
            # out of the slow subnormal range.
            sum_log_row[sets] += squared.clamp_(min=0.0, max=700.0).neg_().exp_().sum(dim=-1).log_().sum(dim=-1)
    return gaussian_entropy(dim, beta) + math.log(n) - sum_log_row / n


# Up to this dimension, summing per-coordinate squared differences is faster and exact; above it a
# matrix product does the work.
_DIRECT_DISTANCE_MAX_DIM = 8


def _squared_distances(rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """Return |rows_i - columns_j|^2, rows (b, r, d) and columns (b, n, d) -> (b, r, n)."""
    dim = rows.shape[-1]
    if dim <= _DIRECT_DISTANCE_MAX_DIM:
        squared = (rows[..., 0].unsqueeze(-1) - columns[..., 0].unsqueeze(-2)).square_()
        for axis in range(1, dim):
            squared += (rows[..., axis].unsqueeze(-1) - columns[..., axis].unsqueeze(-2)).square_()
        return squared
    return (
        (rows**2).sum(-1).unsqueeze(-1)
        + (columns**2).sum(-1).unsqueeze(-2)
        - 2.0 * torch.bmm(rows, columns.transpose(1, 2))
    )


def binned_entropy(points: torch.Tensor, bin_size: float) -> torch.Tensor:
    """Return the plug-in entropy of each set's samples binned per unit, in nats.

    Bins are the cells [k bin_size, (k+1) bin_size) of every coordinate (a d-dimensional grid of
    cubes anchored at 0); the entropy is -sum_c (n_c/n) log(n_c/n) over occupied cells c.

    Parameters
    ----------
    points : Tensor of shape (B, n, d)
    bin_size : float
        Bin width per unit, > 0.

    Returns
    -------
    Tensor of shape (B,), float64, nats (discrete entropy, in [0, log n]).
    """
    n_sets, n, dim = points.shape
    codes = torch.floor(points.detach().to(torch.float64) / bin_size).to(torch.int64)
    if dim == 1:
        keys = codes[..., 0]
    else:
        # One integer per occupied cube; unique rows keeps this exact whatever the spread.
        keys = torch.unique(codes.reshape(-1, dim), dim=0, return_inverse=True)[1].reshape(n_sets, n)
    sorted_keys = keys.sort(dim=1).values
    starts_new_cell = torch.ones_like(sorted_keys, dtype=torch.bool)
    starts_new_cell[:, 1:] = sorted_keys[:, 1:] != sorted_keys[:, :-1]
    cell_index = torch.cumsum(starts_new_cell, dim=1) - 1
    counts = torch.zeros(n_sets, n, dtype=torch.float64, device=points.device)
    counts.scatter_add_(1, cell_index, torch.ones_like(counts))
    counts_log_counts = torch.where(counts > 0, counts * torch.log(counts.clamp(min=1.0)), torch.zeros_like(counts))
    return math.log(n) - counts_log_counts.sum(dim=1) / n
