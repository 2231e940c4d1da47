"""Monte-Carlo entropy of Gaussian mixtures in any dimension, with a control variate.

h = E[-log g(T)], T = s_I + beta Z, I uniform on the n centres, Z ~ N(0, I_d) (Goldfeld et al. 2018).
Writing -log g(t_r) = C + |z_r|^2 / 2 - L_r with C = log n + (d/2) log(2 pi beta^2) and L_r the
log kernel sum of :mod:`infoflow.entropy.dense` (L_r >= 0; L_r = 0 when no other centre is near),
and A_r = |z_r|^2 / 2 - d/2 (mean exactly 0, variance d/2):

    h = C + d/2 - E[L].

* Plain estimator: the mean of -log g(t_r), i.e. C + d/2 + mean(A) - mean(L). Its noise is
  dominated by A when clusters are separated (var A = d/2, while L ~ 0).
* Control variate (default): E[L] is estimated as the intercept of the least-squares line of L_r
  on A_r at A = 0 (its known mean): mean(L) - gamma mean(A), gamma = cov(L, A) / var(A). This is
  the standard regression estimator; its standard error is the intercept's,
  s^2 (1/N + mean(A)^2 / S_AA) with s^2 the residual variance on N - 2 degrees of freedom. For
  separated clusters L barely varies and the error nearly vanishes; in general it is never worse
  than the plain one but for O(1/N).

Evaluation points: with ``n_noise = m`` fixed, every centre gets m draws (the published scheme;
the i.i.d. standard error is then conservative). Otherwise a pilot of PILOT_EVALUATIONS points (2n for
a set of n < 256 centres, at least 32) with
uniformly drawn centres (with replacement: unbiased for h, and the i.i.d. standard error is
exact) measures the variance per evaluation, and each set then gets just enough further points for
its target standard error, which may be far fewer than n.

Kernel sums per set: "dense" (BLAS tiles, every centre) or "cutoff" (grid-hashed neighbours,
truncation bounded by n e^-40); "auto" compares their measured costs (see :func:`choose_algorithms`).
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import torch

from infoflow.entropy.common import DEFAULT_TARGET_STD_ERROR, TILE_ENTRIES, EntropyEstimate
from infoflow.entropy.dense import default_kernel_dtype, dense_log_kernel_sums, dense_peak_bytes, dense_tile_rows
from infoflow.entropy.neighbours import (
    GATHER_ENTRIES,
    QUERY_CHUNK,
    NeighbourGrid,
    cutoff_cell_side,
    cutoff_log_kernel_sums,
)

ALGORITHMS = ("auto", "dense", "cutoff")
# Pilot evaluation points per set when the number of evaluations is chosen from the target SE. 512
# draws estimate a variance to ~6 % (Gaussian case); SAFETY covers that so the target is met.
PILOT_EVALUATIONS = 512
SAFETY = 1.15
# A set of n < PILOT_EVALUATIONS / 2 centres gets a pilot of 2n points (at least MIN_PILOT): the
# conditionals of wide networks are hundreds of small sets with loose targets, whose full pilots
# cost more than their estimates need; a variance read from fewer points is caught by the top-ups.
MIN_PILOT = 32
# The pilot's variance can still be low by more than SAFETY covers (a heavy-tailed L): after the
# main pass, a set whose standard error misses its target gets more points, sized from the
# variance of all its points so far (at least TOP_UP_SHARE more), for up to MAX_TOP_UPS rounds.
# A set that still misses (or whose truncation bound alone exceeds the target) is reported in
# ``EntropyEstimate.target_met``.
MAX_TOP_UPS = 4
TOP_UP_SHARE = 0.1
# Further rounds give each set of a group the same number of points: needs are rounded up to the
# grid 2^(k/4) (<= 19 % more than needed) so that a few groups cover any batch without a loop over sets.
GROUPS_PER_OCTAVE = 4
# Measured costs on the 2-core CPU in units of one dense kernel term (~0.8 ns): a cut-off
# evaluation point costs ~2 us of range look-ups plus ~30 ns per gathered candidate.
CUTOFF_POINT_COST = 3000.0
CUTOFF_CANDIDATE_COST = 30.0
# Evaluation points drawn per (set-block x row-chunk): bounds the noise tensor (16 MiB at d = 8).
QUERY_ENTRIES = 2**21
# Rows per dense tile when several sets share one tile (see sets_per_block).
MIN_TILE_ROWS = 64
# Centres per block of sets handled by one neighbour grid.
GRID_POINTS = 2**17
# Show a progress bar once the projected remaining time of one call exceeds this (seconds).
PROGRESS_AFTER_S = 3.0


def choose_algorithms(centres: torch.Tensor, algorithm: str = "auto") -> torch.Tensor:
    """Return, per set, True where the cut-off kernel sum is cheaper than the dense one.

    The rule: cut-off iff CUTOFF_POINT_COST + CUTOFF_CANDIDATE_COST * k < n, where k is the mean
    number of centres gathered around a centre (measured on up to 256 centres per set with the
    real cell side, so it counts exactly what an evaluation point would gather).

    Parameters
    ----------
    centres : Tensor of shape (B, n, d), units of beta, centred
    algorithm : {"auto", "dense", "cutoff"}

    Returns
    -------
    Tensor of shape (B,), bool
    """
    n_sets, n, dim = centres.shape
    if algorithm != "auto":
        return torch.full((n_sets,), algorithm == "cutoff", dtype=torch.bool, device=centres.device)
    if CUTOFF_POINT_COST >= n:
        return torch.zeros(n_sets, dtype=torch.bool, device=centres.device)
    side = cutoff_cell_side(dim)
    probe = torch.linspace(0, n - 1, min(n, 256), device=centres.device).round().to(torch.int64)
    mean_counts = []
    sets_per_grid = max(1, GRID_POINTS // n)
    for start in range(0, n_sets, sets_per_grid):
        block = centres[start : start + sets_per_grid]
        grid = NeighbourGrid.build(block, side)
        set_index = torch.arange(block.shape[0], device=centres.device).repeat_interleave(len(probe))
        counts = grid.candidate_counts(set_index, block[:, probe].reshape(-1, dim))
        mean_counts.append(counts.view(block.shape[0], -1).to(torch.float64).mean(-1))
    return CUTOFF_POINT_COST + CUTOFF_CANDIDATE_COST * torch.cat(mean_counts) < n


def sets_per_block(n: int, *, cutoff: bool) -> int:
    """Sets of n points evaluated together: one neighbour grid, or dense tiles of >= MIN_TILE_ROWS rows."""
    if cutoff:
        return max(1, GRID_POINTS // n)
    # Many sets with a few rows each would make the batched GEMM a stack of slivers (measured
    # 30x slower); a few sets with tiles of >= 64 rows keep it efficient.
    return max(1, TILE_ENTRIES // (n * MIN_TILE_ROWS))


def chunk_rows(n_sets: int, n: int, dim: int, *, cutoff: bool) -> int:
    """Evaluation points per set drawn and summed at once for a block of ``n_sets`` sets of n points."""
    chunk = max(1, QUERY_ENTRIES // (n_sets * (dim + 2)))
    if cutoff:
        return chunk
    # Whole dense tiles per chunk, so the tile loop never runs a sliver.
    tile = dense_tile_rows(n_sets, n)
    return max(tile, chunk // tile * tile)


def peak_bytes(n_sets: int, n: int, dim: int, *, cutoff: bool) -> int:
    """Upper estimate of the working memory of one Monte-Carlo call (beyond its input), in bytes.

    Centres in units of beta (a copy of the input), the noise, owners and per-point values of one
    chunk, and the kernel-sum workspace: the dense tile, or the neighbour grid and its gathered
    block (GATHER_ENTRIES float64 entries, about four arrays of that size alive at once), plus the
    3^k range arrays of one QUERY_CHUNK of points.
    """
    per_block = min(n_sets, sets_per_block(n, cutoff=cutoff))
    rows = chunk_rows(per_block, n, dim, cutoff=cutoff)
    centres = 8 * n_sets * n * dim * 2
    chunk = 8 * per_block * rows * (2 * dim + 8)
    if cutoff:
        grid = 8 * per_block * n * (dim + 8)
        work = 4 * 8 * GATHER_ENTRIES + 8 * 27 * 6 * QUERY_CHUNK + 8 * QUERY_CHUNK * (dim + 8)
        return centres + chunk + grid + work
    return centres + chunk + dense_peak_bytes(per_block, n, rows, dim)


class _Moments:
    """Running per-set moments of (A, L) over evaluation points, merged exactly (Chan et al.)."""

    def __init__(self, n_sets: int, device: torch.device) -> None:
        zeros = torch.zeros(n_sets, dtype=torch.float64, device=device)
        self.count = zeros.clone()
        self.mean_a, self.mean_l = zeros.clone(), zeros.clone()
        self.m2_a, self.m2_l, self.c_al = zeros.clone(), zeros.clone(), zeros.clone()
        self.bound = zeros.clone()

    def add(self, sets: torch.Tensor, a: torch.Tensor, log_sums: torch.Tensor, bound: torch.Tensor) -> None:
        """Merge a (len(sets), r) block of draws into the moments of ``sets``."""
        r = a.shape[1]
        mean_a, mean_l = a.mean(1), log_sums.mean(1)
        da, dl = a - mean_a.unsqueeze(1), log_sums - mean_l.unsqueeze(1)
        m2_a, m2_l, c_al = (da * da).sum(1), (dl * dl).sum(1), (da * dl).sum(1)
        count = self.count[sets]
        total = count + r
        delta_a, delta_l = mean_a - self.mean_a[sets], mean_l - self.mean_l[sets]
        weight = count * r / total
        self.m2_a[sets] += m2_a + delta_a**2 * weight
        self.m2_l[sets] += m2_l + delta_l**2 * weight
        self.c_al[sets] += c_al + delta_a * delta_l * weight
        self.mean_a[sets] += delta_a * r / total
        self.mean_l[sets] += delta_l * r / total
        self.count[sets] = total
        self.bound[sets] = torch.maximum(self.bound[sets], bound.amax(1))

    def estimate(self, control_variate: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Return h - C - d/2 per set and its squared standard error (module docstring).

        Returns
        -------
        offset : Tensor of shape (B,), nats
            mean(A) - mean(L) (plain) or -(mean(L) - gamma mean(A)) (control variate).
        variance : Tensor of shape (B,), nats^2
            The squared standard error of ``offset``.
        """
        n = self.count
        plain_offset = self.mean_a - self.mean_l
        plain_var = (self.m2_a - 2 * self.c_al + self.m2_l).clamp(min=0) / (n * (n - 1)).clamp(min=1)
        plain_var = torch.where(n > 1, plain_var, torch.zeros_like(plain_var))
        if not control_variate:
            return plain_offset, plain_var
        usable = (n > 2) & (self.m2_a > 0)
        s_aa = torch.where(usable, self.m2_a, torch.ones_like(self.m2_a))
        gamma = self.c_al / s_aa
        offset = -(self.mean_l - gamma * self.mean_a)
        residual = (self.m2_l - self.c_al**2 / s_aa).clamp(min=0) / (n - 2).clamp(min=1)
        variance = residual * (1 / n.clamp(min=1) + self.mean_a**2 / s_aa)
        return torch.where(usable, offset, plain_offset), torch.where(usable, variance, plain_var)


class _Evaluator:
    """Draws evaluation points for chosen sets and merges their kernel sums into the moments."""

    def __init__(self, centres: torch.Tensor, use_cutoff: torch.Tensor, generator: torch.Generator) -> None:
        self.centres = centres
        self.use_cutoff = use_cutoff
        self.generator = generator
        self.moments = _Moments(centres.shape[0], centres.device)
        self.kernel_dtype = default_kernel_dtype(centres.device)
        self.side = cutoff_cell_side(centres.shape[-1])
        self.work_done = 0.0
        self.work_total = 0.0
        self.started = time.perf_counter()
        self.bar: Any = None

    def run(self, sets: torch.Tensor, rows: int, *, stratified: bool) -> None:
        """Give each set in ``sets`` (int64 indices, ascending) ``rows`` more evaluation points.

        ``stratified``: point r belongs to centre r mod n (m draws per centre when rows = m n);
        otherwise the centre of each point is drawn uniformly.
        """
        n_sets_all, n, dim = self.centres.shape
        for cutoff in (False, True):
            chosen = sets[self.use_cutoff[sets] == cutoff]
            if len(chosen) == 0:
                continue
            per_block = sets_per_block(n, cutoff=cutoff)
            for block_start in range(0, len(chosen), per_block):
                block = chosen[block_start : block_start + per_block]
                block_centres = self.centres[block]
                grid = NeighbourGrid.build(block_centres, self.side) if cutoff else None
                chunk = chunk_rows(len(block), n, dim, cutoff=cutoff)
                for row_start in range(0, rows, chunk):
                    r = min(chunk, rows - row_start)
                    self._chunk(block, block_centres, grid, row_start, r, stratified)

    def _chunk(self, block, block_centres, grid, row_start: int, r: int, stratified: bool) -> None:
        n_sets, n, dim = block_centres.shape
        device = block_centres.device
        if stratified:
            owners = (torch.arange(row_start, row_start + r, device=device) % n).expand(n_sets, r)
        else:
            owners = torch.randint(n, (n_sets, r), generator=self.generator, device=device)
        noise = torch.randn(n_sets, r, dim, generator=self.generator, dtype=torch.float64, device=device)
        if grid is None:
            log_sums, bound = dense_log_kernel_sums(block_centres, owners, noise, kernel_dtype=self.kernel_dtype)
        else:
            log_sums, bound = cutoff_log_kernel_sums(grid, owners, noise)
        a = 0.5 * (noise**2).sum(-1) - 0.5 * dim
        self.moments.add(block, a, log_sums, bound)
        self._progress(n_sets * r)

    def plan(self, evaluations: float) -> None:
        """Announce ``evaluations`` more evaluation points (for the progress projection)."""
        self.work_total += evaluations
        if self.bar is not None:
            self.bar.total = int(self.work_total)
            self.bar.refresh()

    def _progress(self, evaluations: int) -> None:
        self.work_done += evaluations
        if self.bar is not None:
            self.bar.update(evaluations)
            return
        elapsed = time.perf_counter() - self.started
        remaining = max(0.0, self.work_total - self.work_done)
        if remaining > 0 and elapsed * remaining / self.work_done > PROGRESS_AFTER_S:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=int(self.work_total),
                initial=int(self.work_done),
                desc="entropy (Monte Carlo)",
                unit="pt",
                file=sys.stderr,
                disable=None,
                leave=False,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _check_target(target_std_error: Any, n_sets: int, device: torch.device) -> torch.Tensor:
    """Return the per-set target SE as a float64 tensor of shape (n_sets,)."""
    try:
        target = torch.as_tensor(target_std_error, dtype=torch.float64).to(device)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"target_std_error must be a positive number or tensor; got {target_std_error!r}") from None
    if target.numel() not in (1, n_sets):
        raise ValueError(
            f"target_std_error must be a number or hold one value per set ({n_sets}); got shape {tuple(target.shape)}"
        )
    if not bool((target > 0).all() & torch.isfinite(target).all()):
        raise ValueError(f"target_std_error must be > 0 and finite; got {target_std_error!r}")
    return target.reshape(-1).expand(n_sets).contiguous()


def monte_carlo_entropy(
    points: torch.Tensor,
    beta: float,
    *,
    n_noise: int | None = None,
    target_std_error: float | torch.Tensor = DEFAULT_TARGET_STD_ERROR,
    seed: int | None = 0,
    generator: torch.Generator | None = None,
    control_variate: bool = True,
    algorithm: str = "auto",
) -> EntropyEstimate:
    """Return the Monte-Carlo estimate of h for each set, with standard errors, in nats.

    Parameters
    ----------
    points : Tensor of shape (B, n, d), float64
    beta : float
        Noise standard deviation (same units as the points), > 0.
    n_noise : int, optional
        Noise draws per point (m): every centre gets m evaluation points. If None, a pilot of
        PILOT_EVALUATIONS uniformly drawn points per set sizes the number of evaluations so that
        every set's standard error is at most its ``target_std_error``.
    target_std_error : float or Tensor of shape (B,)
        Nats; used when ``n_noise`` is None.
    seed, generator :
        The noise source: ``generator`` if given, else a new generator seeded with ``seed``.
    control_variate : bool
        Use the |z|^2/2 control variate (module docstring); False gives the plain mean.
    algorithm : {"auto", "dense", "cutoff"}
        Kernel sums over all centres ("dense") or over grid-hashed neighbours ("cutoff"); "auto"
        picks per set by measured cost (:func:`choose_algorithms`).

    Returns
    -------
    EntropyEstimate with tensors of shape (B,); ``std_error`` includes the truncation bound.
    """
    if n_noise is not None and (isinstance(n_noise, bool) or int(n_noise) != n_noise or n_noise < 1):
        raise ValueError(f"n_noise must be a positive integer; got {n_noise}")
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}; got {algorithm!r}")
    n_sets, n, dim = points.shape
    target = _check_target(target_std_error, n_sets, points.device)
    if generator is not None and generator.device.type != points.device.type:
        raise ValueError(
            f"generator is on {generator.device} but the samples are on {points.device}; use one on the samples' device"
        )
    if generator is None:
        generator = torch.Generator(device=points.device)
        generator.manual_seed(0 if seed is None else int(seed))
    # Units of beta, centred per set: the exponent's rounding grows with the distance from the mean.
    centres = (points - points.mean(dim=1, keepdim=True)) / beta
    use_cutoff = choose_algorithms(centres, algorithm)
    evaluator = _Evaluator(centres, use_cutoff, generator)
    all_sets = torch.arange(n_sets, device=points.device)
    try:
        if n_noise is not None:
            evaluator.plan(n_sets * int(n_noise) * n)
            evaluator.run(all_sets, int(n_noise) * n, stratified=True)
            reported_m = int(n_noise)
        else:
            pilot = pilot_evaluations(n)
            evaluator.plan(n_sets * pilot)
            evaluator.run(all_sets, pilot, stratified=False)
            _, variance = evaluator.moments.estimate(control_variate)
            per_point = variance * evaluator.moments.count
            needed = torch.ceil(SAFETY * per_point / target**2) - evaluator.moments.count
            _extend(evaluator, needed)
            _top_up(evaluator, target, control_variate)
            reported_m = math.ceil(float(evaluator.moments.count.max()) / n)
    finally:
        evaluator.close()
    offset, variance = evaluator.moments.estimate(control_variate)
    constant = math.log(n) + 0.5 * dim * math.log(2 * math.pi * beta**2) + 0.5 * dim
    bound = evaluator.moments.bound
    std_error = variance.sqrt() + bound
    return EntropyEstimate(
        nats=constant + offset,
        std_error=std_error,
        target_met=None if n_noise is not None else std_error <= target,
        n_noise=reported_m,
        n_evaluations=evaluator.moments.count.to(torch.int64),
        truncation_bound=bound,
        algorithm=tuple("cutoff" if flag else "dense" for flag in use_cutoff.tolist()),
    )


def pilot_evaluations(n: int) -> int:
    """Return the pilot's evaluation points per set of n centres: 2n within [MIN_PILOT, PILOT_EVALUATIONS]."""
    return min(PILOT_EVALUATIONS, max(MIN_PILOT, 2 * n))


def _extend(evaluator: _Evaluator, needed: torch.Tensor) -> None:
    """Give each set at least ``needed`` (shape (B,)) more points, in groups of equal size."""
    positive = needed > 0
    if not bool(positive.any()):
        return
    # Round each need up to the grid 2^(k / GROUPS_PER_OCTAVE); one run per distinct size.
    level = torch.ceil(GROUPS_PER_OCTAVE * torch.log2(needed.clamp(min=1))).to(torch.int64)
    sizes = torch.ceil(2.0 ** (level.to(torch.float64) / GROUPS_PER_OCTAVE)).to(torch.int64)
    sizes = torch.where(positive, sizes, torch.zeros_like(sizes))
    evaluator.plan(float(sizes.sum()))
    for size in torch.unique(sizes[positive]).tolist():
        sets = torch.nonzero(sizes == size).reshape(-1)
        evaluator.run(sets, int(size), stratified=False)


def _top_up(evaluator: _Evaluator, target: torch.Tensor, control_variate: bool) -> None:
    """Give every set whose standard error still exceeds ``target`` (shape (B,)) more points."""
    for _ in range(MAX_TOP_UPS):
        _, variance = evaluator.moments.estimate(control_variate)
        count = evaluator.moments.count
        # The truncation bound is a bias, not noise: the noise must fit in what it leaves.
        room = target - evaluator.moments.bound
        missing = (variance.sqrt() > room) & (room > 0)
        if not bool(missing.any()):
            return
        per_point = variance * count
        needed = torch.ceil(SAFETY * per_point / room.clamp(min=1e-300) ** 2) - count
        needed = torch.maximum(needed, torch.ceil(TOP_UP_SHARE * count))
        _extend(evaluator, torch.where(missing, needed, torch.zeros_like(needed)))
