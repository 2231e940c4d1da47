"""Shared pieces of the entropy engine: input checks, the result type, constants, closed forms.

All entropies are in nats. Point sets travel as float64 tensors of shape (B, n, d): B sets of n
points in d dimensions (the batch shape of the caller's input is flattened to B).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

DEFAULT_TARGET_STD_ERROR = 0.01
# Samples farther than this many beta from their mean are refused: float64 keeps ~16 digits, so
# adding noise of size beta to such values would lose more than ~1e-7 of it.
MAX_SPREAD = 1e9
# Entries of one tile of kernel evaluations: 2**20 float64 = 8 MiB, the fastest size measured on
# the 2-core machine; it bounds memory whatever n is.
TILE_ENTRIES = 2**20


@dataclass(frozen=True)
class EntropyEstimate:
    """A Monte-Carlo entropy estimate.

    Attributes
    ----------
    nats : Tensor of the batch shape, float64
        The estimate h, in nats.
    std_error : Tensor of the batch shape, float64
        Its standard error (nats), conditional on the samples, plus the bound on the neighbour
        cut-off's truncation error (``truncation_bound``; a bias of at most that size).
    n_noise : int
        Noise draws per sample point (m) when fixed by the caller; otherwise the largest number
        of evaluations any set used divided by n, rounded up.
    n_evaluations : Tensor of shape (B,), int64
        Evaluation points used per set.
    truncation_bound : Tensor of shape (B,), float64
        Upper bound (nats) on |estimate - the same estimate with every kernel term kept|, from
        the neighbour cut-off and the exponent clamp; ~1e-13 or less at the default cut-off.
    algorithm : tuple of str
        Per set, the kernel-sum algorithm used: "dense" or "cutoff".
    target_met : Tensor of shape (B,), bool, or None
        Per set, whether ``std_error`` is at most the target it was given (None when the
        number of draws was fixed by the caller, ``n_noise``).
    """

    nats: torch.Tensor
    std_error: torch.Tensor
    n_noise: int
    n_evaluations: torch.Tensor | None = None
    truncation_bound: torch.Tensor | None = None
    algorithm: tuple[str, ...] = ()
    target_met: torch.Tensor | None = None


def gaussian_entropy(dim: int, beta: float) -> float:
    """Return h(N(0, beta^2 I_dim)) = (dim/2) log(2 pi e beta^2), in nats."""
    return 0.5 * dim * math.log(2 * math.pi * math.e * beta**2)


BETA_RANGE = (1e-150, 1e150)


def as_point_sets(samples: Any) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Return samples as a float64 tensor of shape (B, n, d) and the batch shape."""
    if isinstance(samples, torch.Tensor):
        points = samples.detach()
    else:
        try:
            raw = np.asarray(samples)
        except (TypeError, ValueError):
            raise ValueError("samples must be a numeric array or tensor") from None
        if raw.dtype.kind not in "biuf":
            kind = "complex numbers" if raw.dtype.kind == "c" else f"dtype {raw.dtype}"
            raise ValueError(f"samples must be real numbers; got {kind}")
        array = raw.astype(np.float64)
        points = torch.from_numpy(array)
    if not (
        points.is_floating_point() or points.dtype in (torch.int32, torch.int64, torch.int16, torch.int8, torch.uint8)
    ):
        raise ValueError(f"samples must be real numbers; got dtype {points.dtype}")
    points = points.to(torch.float64)
    if points.ndim == 0:
        raise ValueError("samples must have shape (n,), (n, d) or (..., n, d); got a scalar")
    if points.ndim == 1:
        points = points.unsqueeze(-1)
    batch_shape = tuple(points.shape[:-2])
    n, d = points.shape[-2:]
    if n == 0 or d == 0:
        raise ValueError(
            f"samples must hold at least one point of dimension >= 1; got shape {tuple(samples.shape) if hasattr(samples, 'shape') else (n, d)}"
        )
    if math.prod(batch_shape) == 0:
        raise ValueError(f"samples batch is empty: shape {tuple(points.shape)}")
    if not torch.isfinite(points).all():
        raise ValueError("samples contain NaN or infinite values")
    return points.reshape(-1, n, d), batch_shape


def check_beta(beta: float) -> float:
    try:
        beta = float(beta)
    except (TypeError, ValueError):
        raise ValueError(f"beta must be a positive number; got {beta!r}") from None
    if not (beta > 0 and math.isfinite(beta)):
        raise ValueError(f"beta must be a positive finite number; got {beta}")
    if not (BETA_RANGE[0] <= beta <= BETA_RANGE[1]):
        # beta^2 (and the Gaussian normalisation) must stay a normal float64: outside this range
        # densities and entropies would silently underflow or overflow.
        raise ValueError(f"beta must lie in [{BETA_RANGE[0]:g}, {BETA_RANGE[1]:g}]; got {beta:g} (rescale the samples)")
    return beta


def shaped_result(values: torch.Tensor, batch_shape: tuple[int, ...]) -> float | torch.Tensor:
    """A float for one set of shape (n,) or (n, d); a tensor of the batch shape otherwise."""
    if batch_shape == ():
        return float(values.reshape(()))
    return values.reshape(batch_shape)
