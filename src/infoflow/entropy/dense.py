"""Dense kernel sums on BLAS tiles: every centre against every evaluation point.

For evaluation points t_r = s_{o(r)} + beta z_r (o(r) the owning centre, z_r ~ N(0, I)) the Monte
Carlo needs, per point,

    L_r = log sum_j exp(E_rj),   E_rj = -|t_r - s_j|^2 / (2 beta^2) + |z_r|^2 / 2,

so that -log g(t_r) = log n + (d/2) log(2 pi beta^2) + |z_r|^2 / 2 - L_r. The j = o(r) term is
exactly exp(0) = 1, so L_r >= 0, no max pass is needed for stability, and nothing overflows while
|z|^2 / 2 < 709 (d up to ~1300). Everything here works in units of beta: ``centres`` are s / beta.

Error analysis (why each precision is what it is)
-------------------------------------------------
* Exponents by a matrix product: E = q.c - |q|^2/2 - |c|^2/2 + |z|^2/2 with q = t/beta,
  c = s/beta, as one GEMM on augmented vectors. In precision u the sum of the K = d + 2 products
  errs by at most ~K u (|q| + |c|)^2. With M = max |c| (the set is centred first) and |z| <= Z:
  in float64 (u = 1.1e-16), K u (2M + Z)^2 <= 1e-6 for M up to ~2e4 (EXPANSION_LIMIT; beyond it
  exact differences are used). In float32 (u = 6e-8) the same bound is 1e-5 only for
  2M + Z < ~4, i.e. never for sets wider than a few beta: the GEMM stays float64.
* Clamp: exponents are clamped at -CLAMP_EXPONENT = -80 before exp, so exp never produces
  denormals (their slow path cost 10-30x on this CPU: 1.2e8 vs 3.5e9 exp/s, measured). A clamped
  term is e^-80 = 1.8e-35 instead of something smaller; as the sum is >= 1 the error in L_r is
  at most n e^-80 (4e-30 for n = 1e5), reported in the truncation bound.
* exp and sum in float32 (``kernel_dtype=torch.float32``): converting an exponent E in [-80, 0]
  rounds it by |E| u32, a relative error |E| u32 in exp(E); exp itself adds ~2 u32 and the
  pairwise (cascade) summation torch uses adds <= ceil(log2 n) u32 relative. Terms with E > 0
  (|E| <= |z|^2/2) are weighted like the rest. Since every term has |E| <= max(80, Z^2/2), the
  relative error of the sum, hence the absolute error of L_r, is at most
  (max(80, Z^2/2) + 2 + log2 n) u32 ~ 6e-6 nats: 0.06 % of a 0.01-nat standard error, a bias far
  below the noise. The log and all later sums are float64. On CPU the float32 path measured no
  faster (the float64 -> float32 conversion costs what the cheaper exp saves), so CPU uses float64
  and accelerators, where float32 exp/sum throughput is many times float64's, use float32.
"""

from __future__ import annotations

import math

import torch

from infoflow.entropy.common import TILE_ENTRIES

# Exponents below -CLAMP_EXPONENT are raised to it (no denormals; error <= n e^-80, see above).
CLAMP_EXPONENT = 80.0
# Largest |s - mean| / beta for which the exponent may use the dot-product expansion.
EXPANSION_LIMIT = 2.0e4
# Relative float32 error bound per unit of |exponent| etc., see the module docstring.
FLOAT32_EPS = float(torch.finfo(torch.float32).eps) / 2
FLOAT64_EPS = float(torch.finfo(torch.float64).eps) / 2


def default_kernel_dtype(device: torch.device) -> torch.dtype:
    """float64 on CPU (measured fastest there), float32 on accelerators (see the error analysis)."""
    return torch.float64 if torch.device(device).type == "cpu" else torch.float32


def dense_tile_rows(n_sets: int, n: int) -> int:
    """Rows of one (n_sets, rows, n) tile of exponents: at most TILE_ENTRIES entries (8 MiB float64)."""
    return max(1, TILE_ENTRIES // max(1, n * n_sets))


def dense_peak_bytes(n_sets: int, n: int, rows: int, dim: int) -> int:
    """Upper estimate of the working memory of :func:`dense_log_kernel_sums`, in bytes.

    The exponent tile (float64, plus its float32 copy), the augmented centres and evaluation points,
    and per-row outputs.
    """
    tile = n_sets * min(rows, dense_tile_rows(n_sets, n)) * n * (8 + 4)
    augmented = 8 * n_sets * (n + rows) * (dim + 2) * 2
    return tile + augmented + 8 * n_sets * rows * (dim + 4)


def dense_log_kernel_sums(
    centres: torch.Tensor,
    owners: torch.Tensor,
    noise: torch.Tensor,
    *,
    kernel_dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return L_r = log sum_j exp(E_rj) for every evaluation point, summing over all n centres.

    Parameters
    ----------
    centres : Tensor of shape (B, n, d), float64
        The centres in units of beta, centred per set.
    owners : Tensor of shape (B, r), int64
        Index of the centre each evaluation point belongs to.
    noise : Tensor of shape (B, r, d), float64
        Standard normal z_r; the evaluation point is centres[b, owners[b, r]] + noise[b, r].
    kernel_dtype : torch.dtype
        float64, or float32 for exp and the row sums (error <= ~6e-6 nats, module docstring).

    Returns
    -------
    log_sums : Tensor of shape (B, r), float64
        L_r (nats).
    bound : Tensor of shape (B, r), float64
        Upper bound on |L_r - exact L_r| from the exponent clamp (and float32, if used).
    """
    n_sets, n, dim = centres.shape
    rows = noise.shape[1]
    queries = torch.gather(centres, 1, owners.unsqueeze(-1).expand(-1, -1, dim)) + noise
    half_z2 = 0.5 * (noise**2).sum(-1)
    row_sums = torch.empty(n_sets, rows, dtype=torch.float64, device=centres.device)
    tile_rows = dense_tile_rows(n_sets, n)
    exponent = torch.empty(n_sets, min(tile_rows, rows), n, dtype=torch.float64, device=centres.device)
    narrow = None
    if kernel_dtype == torch.float32:
        narrow = torch.empty(exponent.shape, dtype=torch.float32, device=centres.device)
    exact_differences = float(queries.abs().amax()) > EXPANSION_LIMIT
    if not exact_differences:
        shift = half_z2 - 0.5 * (queries**2).sum(-1)
        ones_rows = torch.ones(n_sets, rows, 1, dtype=torch.float64, device=centres.device)
        left = torch.cat([queries, ones_rows, shift.unsqueeze(-1)], dim=-1)
        ones_cols = torch.ones(n_sets, n, 1, dtype=torch.float64, device=centres.device)
        right_t = torch.cat([centres, -0.5 * (centres**2).sum(-1, keepdim=True), ones_cols], dim=-1)
        right_t = right_t.transpose(1, 2).contiguous()
    for start in range(0, rows, tile_rows):
        stop = min(rows, start + tile_rows)
        tile = exponent[:, : stop - start]
        if exact_differences:
            difference = queries[:, start:stop].unsqueeze(2) - centres.unsqueeze(1)
            torch.sum(difference.square_(), dim=-1, out=tile)
            tile.mul_(-0.5).add_(half_z2[:, start:stop].unsqueeze(-1))
        else:
            torch.bmm(left[:, start:stop], right_t, out=tile)
        tile.clamp_(min=-CLAMP_EXPONENT)
        if narrow is None:
            torch.sum(tile.exp_(), dim=-1, out=row_sums[:, start:stop])
        else:
            small = narrow[:, : stop - start]
            small.copy_(tile)
            row_sums[:, start:stop] = small.exp_().sum(dim=-1).to(torch.float64)
    bound = torch.full_like(row_sums, n * math.exp(-CLAMP_EXPONENT))
    if not exact_differences:
        # The expansion's rounding, K u (|q| + max|c|)^2 (module docstring).
        reach = queries.norm(dim=-1) + float(centres.norm(dim=-1).amax())
        bound = bound + (dim + 2) * FLOAT64_EPS * reach**2
    if narrow is not None:
        largest_exponent = torch.clamp(half_z2, min=CLAMP_EXPONENT)
        bound = bound + (largest_exponent + 2 + math.ceil(math.log2(max(n, 2)))) * FLOAT32_EPS
    return torch.log(row_sums), bound
