"""Compiled loops (Numba) for the few steps that torch runs as one slow element-wise pass.

The quadrature bins every point of every set to its nearest grid node with its first
``HERMITE_TERMS`` powers of the offset. torch does this as a table of powers (terms x sets x
points) and one ``scatter_add_``, whose additions to the same node follow each other and wait on
each other: ~23 ms of each recorded epoch of the seed's fig4/fig5 networks (500 conditional sets
of 1000 points). The loop below makes the same operations in the same order (round half to even,
one subtraction and one multiplication for the offset, powers by repeated multiplication, each
node's sum taken point by point from 0.0, points in their order), so its moments equal torch's
bit for bit (the tests compare both paths on the seed's shapes and on half-way roundings), in a
sixth of the time: the eight powers of a point go to eight independent sums.

Numba compiles the loop the first time a process needs it (~0.4 s; then cached on disk beside
this module, or in Numba's user cache where that is read-only). Tensors that are not float64 on
the CPU, or a missing Numba, take torch's path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import torch


@functools.cache
def _moments_loop() -> Callable[..., None] | None:
    """Return the compiled binning loop, or None when Numba cannot be imported."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency; torch's path stays correct
        return None

    @numba.njit(cache=True, nogil=True)
    def bin_powers(coords: np.ndarray, n_bins: int, ratio: float, out: np.ndarray) -> None:  # pragma: no cover - compiled
        n_sets, n = coords.shape
        terms = out.shape[0]
        for s in range(n_sets):
            for i in range(n):
                c = coords[s, i]
                r = np.rint(c)
                y = (c - r) * ratio
                b = int(r)
                if b < 0:
                    b = 0
                elif b > n_bins - 1:
                    b = n_bins - 1
                out[0, s, b] += 1.0
                if terms > 1:
                    p = y
                    out[1, s, b] += p
                    for m in range(2, terms):
                        p = p * y
                        out[m, s, b] += p

    return bin_powers


def can_bin_powers(coords: torch.Tensor) -> bool:
    """Whether :func:`bin_powers` serves ``coords`` (float64 on the CPU, Numba importable)."""
    return coords.device.type == "cpu" and coords.dtype == torch.float64 and _moments_loop() is not None


def bin_powers(coords: torch.Tensor, n_bins: int, terms: int, ratio: float) -> torch.Tensor:
    """Return per-node sums of the powers of each point's offset from its nearest node.

    Parameters
    ----------
    coords : Tensor of shape (N, n), float64 on the CPU
        Positions in units of the grid step from node 0 (N sets of n points).
    n_bins : int
        Nodes per set; points beyond the last node (or before node 0) count at that end node.
    terms : int
        Powers 0 .. terms - 1.
    ratio : float
        Offsets are ``(coords - nearest) * ratio`` (the grid step in the unit of the powers).

    Returns
    -------
    Tensor of shape (terms, N, n_bins), float64: sum over a node's points of offset**m.
    """
    loop = _moments_loop()
    if loop is None or not can_bin_powers(coords):
        raise ValueError("bin_powers needs float64 coordinates on the CPU and Numba")
    values = coords.detach().contiguous().numpy()
    out = torch.zeros(terms, values.shape[0], n_bins, dtype=torch.float64)
    loop(values, int(n_bins), float(ratio), out.numpy())
    return out
