"""Compiled loops (Numba) for the few steps that torch runs as slow element-wise passes.

Each loop makes the same floating-point operations, in the same order, as the torch code it
replaces, so its results equal torch's bit for bit (the tests compare both paths); only the
passes over memory and the waits between dependent additions go.

* :func:`bin_powers`, the quadrature's binning. torch builds a table of powers (terms x sets x
  points) and one ``scatter_add_``, whose additions to the same node follow each other and wait on
  each other: ~23 ms of each recorded epoch of the seed's fig4/fig5 networks (500 conditional
  sets of 1000 points). The loop rounds half to even, takes the offset by one subtraction and one
  multiplication and the powers by repeated multiplication, and sums each node point by point
  from 0.0 in the points' order, the eight powers of a point going to eight independent sums.
* :func:`linear_binning` and :func:`window_terms`, the binned mixture's grid weights (two
  ``scatter_add_`` passes, lower shares then upper shares) and each point's window of 2w + 1 node
  weights with the exponents of its kernel, in one pass where torch took eight. The exponential
  itself stays torch's (its vectorised exp rounds differently from libm's).

Numba compiles the loops the first time they are needed (~2.5 s, Numba's import included); they
are cached on disk beside this module (or in Numba's user cache where that is read-only), so a
later process loads them in ~0.4 s. Tensors that are not float64 on
the CPU, or a missing Numba, take torch's path.
"""

from __future__ import annotations

import functools
import types

import numpy as np
import torch


@functools.cache
def _compiled() -> types.SimpleNamespace | None:
    """Return the compiled loops, or None when Numba cannot be imported."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency; torch's path stays correct
        return None

    # Each loop returns the number of non-finite inputs it met (0, or 1: it stops at the first);
    # indices are clamped before they become integers, so no value can index outside an array.
    @numba.njit(cache=True, nogil=True)
    def bin_powers(
        coords: np.ndarray, n_bins: int, ratio: float, out: np.ndarray
    ) -> int:  # pragma: no cover - compiled
        n_sets, n = coords.shape
        terms = out.shape[0]
        for s in range(n_sets):
            for i in range(n):
                c = coords[s, i]
                if not np.isfinite(c):
                    return 1
                r = np.rint(c)
                y = (c - r) * ratio
                if r <= 0.0:
                    b = 0
                elif r >= n_bins - 1:
                    b = n_bins - 1
                else:
                    b = int(r)
                out[0, s, b] += 1.0
                if terms > 1:
                    p = y
                    out[1, s, b] += p
                    for m in range(2, terms):
                        p = p * y
                        out[m, s, b] += p
        return 0

    @numba.njit(cache=True, nogil=True)
    def linear_binning(
        centres: np.ndarray,
        origin: np.ndarray,
        delta: float,
        n_nodes: int,
        pad: int,
        weights: np.ndarray,
        near: np.ndarray,
        reach: int,
    ) -> int:  # pragma: no cover - compiled
        n_sets, n = centres.shape
        length = weights.shape[1]
        lower = np.empty(n, dtype=np.int64)
        share = np.empty(n, dtype=np.float64)
        count = np.zeros(length + 1, dtype=np.int64)
        for s in range(n_sets):
            o = origin[s]
            for i in range(n):
                position = (centres[s, i] - o) / delta
                if not np.isfinite(position):
                    return 1
                below = np.floor(position)
                if below < 0.0:
                    below = 0.0
                elif below > n_nodes - 2:
                    below = float(n_nodes - 2)
                share[i] = position - below
                lower[i] = int(below) + pad
            # torch: scatter_add_ of (1 - u) / n at the lower nodes, then of u / n at the upper ones
            for i in range(n):
                weights[s, lower[i]] += (1.0 - share[i]) / n
            for i in range(n):
                weights[s, lower[i] + 1] += share[i] / n
            # near[s, j]: a node within `reach` nodes of j carries weight
            for j in range(length):
                count[j + 1] = count[j] + (1 if weights[s, j] > 0 else 0)
            for j in range(length):
                hi = min(j + reach + 1, length)
                lo = max(j - reach, 0)
                near[s, j] = count[hi] - count[lo] > 0
        return 0

    @numba.njit(cache=True, nogil=True)
    def window_terms(
        points: np.ndarray,
        origin: np.ndarray,
        delta: float,
        width: int,
        n_nodes: int,
        pad: int,
        nodes_per_beta: float,
        weights: np.ndarray,
        near: np.ndarray,
        windows: np.ndarray,
        exponents: np.ndarray,
        far: np.ndarray,
    ) -> int:  # pragma: no cover - compiled
        n_sets, m = points.shape
        span = 2 * width + 1
        for s in range(n_sets):
            o = origin[s]
            for i in range(m):
                where = (points[s, i] - o) / delta
                if not np.isfinite(where):
                    return 1
                nearest = np.rint(where)
                if nearest < -width:
                    nearest = float(-width)
                elif nearest > n_nodes - 1 + width:
                    nearest = float(n_nodes - 1 + width)
                fraction = where - nearest
                index = int(nearest)
                first = index + pad - width
                for k in range(span):
                    windows[s, i, k] = weights[s, first + k]
                    z = (fraction - (k - width)) / nodes_per_beta
                    exponents[s, i, k] = (z * z) * -0.5
                far[s, i] = (not near[s, index + pad]) or abs(fraction) > 0.5
        return 0

    return types.SimpleNamespace(bin_powers=bin_powers, linear_binning=linear_binning, window_terms=window_terms)


def can_compile(*tensors: torch.Tensor) -> bool:
    """Whether the compiled loops serve these tensors (float64 on the CPU, Numba importable)."""
    return all(t.device.type == "cpu" and t.dtype == torch.float64 for t in tensors) and _compiled() is not None


def _loops(*tensors: torch.Tensor) -> types.SimpleNamespace:
    loops = _compiled()
    if loops is None or not can_compile(*tensors):
        raise ValueError("the compiled loops need float64 tensors on the CPU and Numba")
    return loops


def _array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().contiguous().numpy()


def _check_finite(found: int, name: str) -> None:
    if found:
        raise ValueError(f"{name} contain NaN or infinite values")


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
    loops = _loops(coords)
    if coords.dim() != 2 or n_bins < 1 or terms < 1:
        raise ValueError(
            f"bin_powers needs coords of shape (N, n), n_bins >= 1 and terms >= 1; "
            f"got {tuple(coords.shape)}, {n_bins}, {terms}"
        )
    values = _array(coords)
    out = torch.zeros(terms, values.shape[0], n_bins, dtype=torch.float64)
    _check_finite(loops.bin_powers(values, int(n_bins), float(ratio), out.numpy()), "coords")
    return out


def linear_binning(
    centres: torch.Tensor, origin: torch.Tensor, delta: float, n_nodes: int, pad: int, reach: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the linearly binned weights of each set's centres and which nodes have weight near.

    Parameters
    ----------
    centres : Tensor of shape (B, n), float64 on the CPU
    origin : Tensor of shape (B, 1), float64: node 0 of each set (before padding)
    delta : float
        Node spacing.
    n_nodes : int
        Nodes spanned by the centres (>= 2); a centre's lower node is clamped to 0 .. n_nodes - 2.
    pad : int
        Empty nodes added on each side.
    reach : int
        Nodes each side that ``near`` looks at.

    Returns
    -------
    weights : Tensor of shape (B, n_nodes + 2 pad), float64
        1/n of each centre split between its two nodes (shares 1 - a and a).
    near : Tensor of shape (B, n_nodes + 2 pad), bool
        Whether a node within ``reach`` nodes (inclusive) carries weight.
    """
    loops = _loops(centres, origin)
    if centres.dim() != 2 or origin.numel() != centres.shape[0] or n_nodes < 2 or pad < 0 or reach < 0:
        raise ValueError(
            f"linear_binning needs centres (B, n), origin (B, 1), n_nodes >= 2, pad >= 0 and reach >= 0; "
            f"got {tuple(centres.shape)}, {tuple(origin.shape)}, {n_nodes}, {pad}, {reach}"
        )
    values, starts = _array(centres), _array(origin).reshape(-1)
    weights = torch.zeros(values.shape[0], n_nodes + 2 * pad, dtype=torch.float64)
    near = torch.empty(weights.shape, dtype=torch.bool)
    found = loops.linear_binning(
        values, starts, float(delta), int(n_nodes), int(pad), weights.numpy(), near.numpy(), int(reach)
    )
    _check_finite(found, "centres")
    return weights, near


def window_terms(
    points: torch.Tensor,
    origin: torch.Tensor,
    delta: float,
    width: int,
    n_nodes: int,
    pad: int,
    nodes_per_beta: float,
    weights: torch.Tensor,
    near: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return each point's window of node weights, its kernel's exponents and whether it is far.

    Parameters
    ----------
    points : Tensor of shape (B, r), float64 on the CPU
    origin, delta, n_nodes, pad : as for :func:`linear_binning`
    width : int
        Nodes on each side of a point's nearest node (its window holds 2 width + 1).
    nodes_per_beta : float
        Nodes per component standard deviation.
    weights, near : the two tensors :func:`linear_binning` returned

    Returns
    -------
    windows : Tensor of shape (B, r, 2 width + 1), float64
        The weights of the nodes nearest - width .. nearest + width.
    exponents : Tensor of shape (B, r, 2 width + 1), float64
        -((fraction - k) / nodes_per_beta)^2 / 2 for k = -width .. width.
    far : Tensor of shape (B, r), bool
        No weighted node near the nearest node, or the point beyond the padded grid.
    """
    loops = _loops(points, origin, weights)
    grid = (points.shape[0], n_nodes + 2 * pad) if points.dim() == 2 else None
    if (
        grid is None
        or origin.numel() != grid[0]
        or tuple(weights.shape) != grid
        or tuple(near.shape) != grid
        or pad < 2 * width
    ):
        raise ValueError(
            f"window_terms needs points (B, r), origin (B, 1), weights and near (B, n_nodes + 2 pad) and "
            f"pad >= 2 width; got {tuple(points.shape)}, {tuple(origin.shape)}, {tuple(weights.shape)}, "
            f"{tuple(near.shape)}, pad {pad}, width {width}"
        )
    values, starts = _array(points), _array(origin).reshape(-1)
    shape = (values.shape[0], values.shape[1], 2 * width + 1)
    windows = torch.empty(shape, dtype=torch.float64)
    exponents = torch.empty(shape, dtype=torch.float64)
    far = torch.empty(values.shape, dtype=torch.bool)
    found = loops.window_terms(
        values,
        starts,
        float(delta),
        int(width),
        int(n_nodes),
        int(pad),
        float(nodes_per_beta),
        _array(weights),
        _array(near),
        windows.numpy(),
        exponents.numpy(),
        far.numpy(),
    )
    _check_finite(found, "points")
    return windows, exponents, far
