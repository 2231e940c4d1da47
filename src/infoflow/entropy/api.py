"""The public entry point: :func:`sp_entropy`, h(P_hat * N(0, beta^2 I)) in nats."""

from __future__ import annotations

from typing import Any

import torch

from infoflow.entropy.common import DEFAULT_TARGET_STD_ERROR, MAX_SPREAD, as_point_sets, check_beta, shaped_result
from infoflow.entropy.monte_carlo import monte_carlo_entropy
from infoflow.entropy.quadrature import grid_is_workable, grid_points_per_axis, quadrature_entropy

# "monte_carlo" picks dense or cut-off kernel sums per set; the two others force one of them.
MONTE_CARLO_METHODS = {"monte_carlo": "auto", "monte_carlo_dense": "dense", "monte_carlo_cutoff": "cutoff"}
METHODS = ("auto", "quadrature", *MONTE_CARLO_METHODS)


def _target_per_set(target_std_error: Any, batch_shape: tuple[int, ...]) -> Any:
    """A float stays a float; a tensor/array of the batch shape (or (B,)) is flattened to (B,)."""
    if isinstance(target_std_error, (int, float)):
        return float(target_std_error)
    try:
        target = torch.as_tensor(target_std_error, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"target_std_error must be a positive number or tensor; got {target_std_error!r}") from None
    if target.numel() > 1 and tuple(target.shape) == batch_shape:
        return target.reshape(-1)
    return target


# Costs measured on the 2-core CPU (one thread): the 2-D Hermite quadrature spends ~2.4 us per grid
# point (64 moment grids, FFT convolutions); dense Monte Carlo ~1.5 ns per kernel term plus
# ~0.5 us per evaluation point. A 2-D set goes to Monte Carlo only when that is estimated to cost
# less than half the quadrature (quadrature is deterministic, so it keeps the benefit of the doubt).
QUADRATURE_2D_SECONDS_PER_POINT = 2.4e-6
MC_SECONDS_PER_TERM = 1.5e-9
MC_SECONDS_PER_EVALUATION = 0.5e-6
MC_PILOT_EVALUATIONS = 512


def _quadrature_is_cheaper(points: torch.Tensor, beta: float, target_std_error: Any) -> bool:
    """Return True if 2-D quadrature of every set costs at most twice the projected Monte Carlo.

    Monte Carlo needs about 1.15 v / target^2 evaluation points per set, v the variance of
    -log g per point; v <= d/2 for a set that looks Gaussian (the control variate only lowers it).
    """
    n_sets, n, dim = points.shape
    target = torch.as_tensor(target_std_error, dtype=torch.float64).reshape(-1).min().clamp(min=1e-12)
    evaluations = max(MC_PILOT_EVALUATIONS, 1.15 * (dim / 2) / float(target) ** 2)
    monte_carlo_s = n_sets * evaluations * (n * MC_SECONDS_PER_TERM + MC_SECONDS_PER_EVALUATION)
    grid_points = float(grid_points_per_axis(points, beta).to(torch.float64).prod(dim=-1).sum())
    return QUADRATURE_2D_SECONDS_PER_POINT * grid_points <= 2.0 * monte_carlo_s


def sp_entropy(
    samples: Any,
    beta: float,
    *,
    method: str = "auto",
    n_noise: int | None = None,
    target_std_error: float | Any = DEFAULT_TARGET_STD_ERROR,
    seed: int | None = 0,
    generator: torch.Generator | None = None,
    return_std_error: bool = False,
    control_variate: bool = True,
) -> Any:
    """Return h(P_hat * N(0, beta^2 I)) in nats: the entropy of the Gaussian-smoothed samples.

    Parameters
    ----------
    samples : array or Tensor of shape (n,), (n, d) or (..., n, d)
        The points of the empirical measure P_hat; a leading batch of sets is evaluated at once.
    beta : float
        Standard deviation of the Gaussian smoothing (the network's noise level), > 0.
    method : {"auto", "quadrature", "monte_carlo", "monte_carlo_dense", "monte_carlo_cutoff"}
        "quadrature" (d <= 2) is deterministic with error ~1e-10 nats; "monte_carlo" works in any
        d, summing kernels densely or over grid-hashed neighbours, whichever is cheaper per set
        (the two last names force one); "auto" takes quadrature for d = 1 (when its grid is of a
        workable size), for d = 2 when it is also projected to cost at most twice Monte Carlo at
        ``target_std_error`` (wide sets at small beta, or loose targets, go to Monte Carlo), and
        Monte Carlo otherwise.
    n_noise : int, optional
        Monte Carlo only: noise draws per point (m). By default the number of evaluation points
        is chosen from a pilot so that the standard error is at most ``target_std_error``.
    target_std_error : float, or array/Tensor of the batch shape
        Monte Carlo only: the standard error (nats) to reach, for all sets or per set.
    seed, generator :
        Monte Carlo only: the noise comes from ``generator`` if given, else from a generator
        seeded with ``seed`` (same seed, same number).
    return_std_error : bool
        If True return ``(entropy, std_error)``; the standard error is 0 for quadrature.
    control_variate : bool
        Monte Carlo only: use the |z|^2/2 control variate (fewer draws for the same error).

    Returns
    -------
    float or Tensor
        Nats: a float for one set, a float64 tensor of the batch shape for a batch (on the
        samples' device).
    """
    points, batch_shape = as_point_sets(samples)
    beta = check_beta(beta)
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
    use_quadrature = method == "quadrature" or (
        method == "auto"
        and dim <= 2
        and grid_is_workable(points, beta)
        and (dim == 1 or n_noise is not None or _quadrature_is_cheaper(points, beta, target_std_error))
    )
    if use_quadrature:
        nats = quadrature_entropy(points, beta)
        std_error = torch.zeros_like(nats)
    else:
        estimate = monte_carlo_entropy(
            points,
            beta,
            n_noise=n_noise,
            target_std_error=_target_per_set(target_std_error, batch_shape),
            seed=seed,
            generator=generator,
            control_variate=control_variate,
            algorithm=MONTE_CARLO_METHODS.get(method, "auto"),
        )
        nats, std_error = estimate.nats, estimate.std_error
    if return_std_error:
        return shaped_result(nats, batch_shape), shaped_result(std_error, batch_shape)
    return shaped_result(nats, batch_shape)
