"""Cut-off kernel sums: each evaluation point sums only the centres near it, found by grid hashing.

When beta is small against the spacing of the centres, almost every term of
L_r = log sum_j exp(E_rj), E_rj = -|q_r - c_j|^2 / 2 + |z_r|^2 / 2 (units of beta; see
:mod:`infoflow.entropy.dense`) is below e^-40 and the dense sum wastes its work. Here:

* Each set is projected on its k = min(d, 3) principal axes (an orthonormal projection P, so
  |P x| <= |x|), and its centres are hashed to cubic cells of side ``h`` in that projection.
* An evaluation point gathers the centres of the 3^k cells around its own cell and sums their
  terms exactly (float64 differences, no expansion, so no cancellation whatever the range).
* Truncation bound: a centre outside those cells differs from the point by more than h in some
  projected coordinate, so |q - c_j| >= |P(q - c_j)| > h and E_rj < -(h^2 - |z_r|^2) / 2. The
  self term (j = owner, E = 0) is always gathered, so the kept sum is >= 1 and dropping the
  (n - kept) far terms lowers L_r by at most (n - kept) exp(-(h^2 - |z_r|^2) / 2). With
  h^2 = 2 T + Z^2 (T = CUTOFF_EXPONENT = 40, Z^2 a far-tail cap on |z|^2) this is <= n e^-40
  (4e-13 for n = 1e5) for every draw with |z| <= Z, and still computed exactly for any other.

Sets are batched by giving every cell a global key (set index * cells per set + cell index) and
sorting all centres by key once; an evaluation point's 3^k cells are then 3^k key ranges found by
binary search, gathered into a padded (points, width) block sorted by width so little is padded.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

# Terms below e^-CUTOFF_EXPONENT (relative to the self term, exp(0) = 1) may be dropped.
CUTOFF_EXPONENT = 40.0
# Gathered (point, candidate, coordinate) entries per block: 2**21 float64 = 16 MiB.
GATHER_ENTRIES = 2**21
# Evaluation points whose cell ranges are looked up at once (27 ranges each).
QUERY_CHUNK = 2**14
# Cells are made this much wider than h so that rounding in the projection (~1e-16 of the
# coordinates, < 1e-7 beta below MAX_SPREAD) can never put a kept-distance centre out of reach.
CELL_SLACK = 1e-6
MAX_KEY = 2**62


def noise_norm_cap(dim: int) -> float:
    """Z^2: a cap on |z|^2 for z ~ N(0, I_dim) exceeded with probability < e^-20 (chi-square tail)."""
    return dim + 10.0 * math.sqrt(2.0 * dim) + 40.0


def cutoff_cell_side(dim: int, cutoff_exponent: float = CUTOFF_EXPONENT) -> float:
    """Cell side h (units of beta) such that every dropped term is below e^-cutoff_exponent."""
    return math.sqrt(2.0 * cutoff_exponent + noise_norm_cap(dim))


@dataclass
class NeighbourGrid:
    """Centres of a block of sets hashed to cells of a k-dimensional principal projection.

    Attributes
    ----------
    centres : Tensor of shape (B, n, d), float64, units of beta
    directions : Tensor of shape (B, d, k): orthonormal projection axes per set
    low : Tensor of shape (B, k): lowest projected coordinate per set and axis
    cells_per_axis : Tensor of shape (k,), int64
    strides : Tensor of shape (k,), int64
    cells_per_set : int
    sorted_keys : Tensor of shape (B * n,), int64
    sorted_centres : Tensor of shape (B * n, d): the centres in key order (one gather saved per use)
    side : float: the cell side h used by the truncation bound
    """

    centres: torch.Tensor
    directions: torch.Tensor
    low: torch.Tensor
    cells_per_axis: torch.Tensor
    strides: torch.Tensor
    cells_per_set: int
    sorted_keys: torch.Tensor
    sorted_centres: torch.Tensor
    side: float

    @classmethod
    def build(cls, centres: torch.Tensor, side: float) -> NeighbourGrid:
        """Hash ``centres`` (B, n, d) to cells of side ``side`` (units of beta)."""
        n_sets, n, dim = centres.shape
        width = side * (1 + CELL_SLACK)
        # Principal axes: the projection keeps as much of the spread as k axes can, so cells split
        # the set as finely as possible. eigh sorts eigenvalues ascending: take the last k.
        covariance = centres.transpose(1, 2) @ centres
        _, vectors = torch.linalg.eigh(covariance)
        for k in range(min(dim, 3), 0, -1):
            directions = vectors[:, :, dim - k :].flip(-1)
            projected = centres @ directions
            low = projected.amin(dim=1)
            cells = torch.floor((projected - low.unsqueeze(1)) / width).to(torch.int64)
            per_axis = cells.reshape(-1, k).amax(dim=0) + 1
            # Keys must fit int64 with room for the neighbour offsets: fewer axes if they would not.
            if n_sets * math.prod(int(g) + 2 for g in per_axis) < MAX_KEY:
                break
        strides = torch.ones(k, dtype=torch.int64, device=centres.device)
        for axis in range(k - 2, -1, -1):
            strides[axis] = strides[axis + 1] * per_axis[axis + 1]
        cells_per_set = int(per_axis.prod())
        set_offset = torch.arange(n_sets, device=centres.device).view(-1, 1) * cells_per_set
        keys = (cells * strides).sum(-1) + set_offset
        sorted_keys, order = torch.sort(keys.reshape(-1), stable=True)
        sorted_centres = centres.reshape(-1, dim)[order]
        return cls(centres, directions, low, per_axis, strides, cells_per_set, sorted_keys, sorted_centres, side)

    def ranges(self, set_index: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the sorted-key ranges of the 3^k cells around each point.

        Parameters
        ----------
        set_index : Tensor of shape (N,), int64
        points : Tensor of shape (N, d), units of beta

        Returns
        -------
        starts, counts : Tensors of shape (N, 3^k), int64 (count 0 for cells outside the grid)
        """
        k = self.directions.shape[-1]
        width = self.side * (1 + CELL_SLACK)
        projected = torch.einsum("nd,ndk->nk", points, self.directions[set_index])
        cells = torch.floor((projected - self.low[set_index]) / width).to(torch.int64)
        offsets = torch.tensor(list(itertools.product((-1, 0, 1), repeat=k)), device=points.device)
        around = cells.unsqueeze(1) + offsets  # (N, 3^k, k)
        inside = ((around >= 0) & (around < self.cells_per_axis)).all(-1)
        keys = (around * self.strides).sum(-1) + (set_index * self.cells_per_set).unsqueeze(-1)
        starts = torch.searchsorted(self.sorted_keys, keys)
        stops = torch.searchsorted(self.sorted_keys, keys, right=True)
        return starts, torch.where(inside, stops - starts, torch.zeros_like(starts))

    def candidate_counts(self, set_index: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Return how many centres each point would gather, shape (N,), int64."""
        return self.ranges(set_index, points)[1].sum(-1)


def cutoff_log_kernel_sums(
    grid: NeighbourGrid, owners: torch.Tensor, noise: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return L_r summed over the centres near each evaluation point, and its truncation bound.

    Parameters
    ----------
    grid : NeighbourGrid
        Built on the block's centres (B, n, d), units of beta.
    owners : Tensor of shape (B, r), int64
    noise : Tensor of shape (B, r, d), float64

    Returns
    -------
    log_sums : Tensor of shape (B, r), float64
        L_r over the kept centres (nats); the exact L_r lies in [log_sums, log_sums + bound].
    bound : Tensor of shape (B, r), float64
        (n - kept) exp(-(h^2 - |z_r|^2) / 2), the truncation bound (module docstring).
    """
    centres = grid.centres
    n_sets, n, dim = centres.shape
    rows = owners.shape[1]
    device = centres.device
    flat_centres = centres.reshape(-1, dim)
    set_index = torch.arange(n_sets, device=device).repeat_interleave(rows)
    flat_owner = owners.reshape(-1) + set_index * n
    flat_noise = noise.reshape(-1, dim)
    log_sums = torch.empty(n_sets * rows, dtype=torch.float64, device=device)
    bound = torch.empty_like(log_sums)
    for chunk_start in range(0, n_sets * rows, QUERY_CHUNK):
        chunk = slice(chunk_start, min(n_sets * rows, chunk_start + QUERY_CHUNK))
        z = flat_noise[chunk]
        points = flat_centres[flat_owner[chunk]] + z
        starts, counts = grid.ranges(set_index[chunk], points)
        totals = counts.sum(-1)
        half_z2 = 0.5 * (z**2).sum(-1)
        bound[chunk] = (n - totals).to(torch.float64) * torch.exp(half_z2 - 0.5 * grid.side**2)
        # Widest first, so each block's padding width is its first row's total.
        by_width = torch.argsort(totals, descending=True, stable=True)
        widths = totals[by_width].tolist()
        position = 0
        while position < len(widths):
            width = max(1, widths[position])
            block_rows = max(1, GATHER_ENTRIES // (width * dim))
            rows_here = by_width[position : position + block_rows]
            position += block_rows
            block_counts = counts[rows_here]
            ends = block_counts.cumsum(-1)
            slot = torch.arange(width, device=device).expand(len(rows_here), width)
            # Which of the 3^k ranges slot p falls in, and its place in that range.
            cell = torch.searchsorted(ends, slot.contiguous(), right=True).clamp_(max=ends.shape[1] - 1)
            within = slot - (ends - block_counts).gather(1, cell)
            sorted_position = starts[rows_here].gather(1, cell) + within
            valid = slot < totals[rows_here].unsqueeze(-1)
            sorted_position = torch.where(valid, sorted_position, torch.zeros_like(sorted_position))
            neighbours = grid.sorted_centres[sorted_position]  # (rows, width, d)
            difference = points[rows_here].unsqueeze(1) - neighbours
            exponent = half_z2[rows_here].unsqueeze(-1) - 0.5 * difference.square_().sum(-1)
            exponent = torch.where(valid, exponent, torch.full_like(exponent, -math.inf))
            log_sums[chunk_start + rows_here] = torch.logsumexp(exponent, dim=-1)
    return log_sums.view(n_sets, rows), bound.view(n_sets, rows)
