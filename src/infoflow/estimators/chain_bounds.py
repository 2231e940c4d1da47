"""Structural limits and the data-processing inequality along a chain; the point estimate inside its bounds.

For a chain X -> T_1 -> ... -> T_L (each T_l a function of T_{l-1} and fresh noise) with labels
Y a function of X:

* I(X;T_l) <= I(X;T_{l-1}): an upper bound of layer l-1 caps layer l;
* I(X;T_l) >= I(X;T_{l+1}): a lower bound of layer l+1 lifts layer l;
* I(T_l;Y) <= I(X;T_l) (Y - X - T_l is Markov), I(T_l;Y) <= I(T_{l-1};Y), I(T_l;Y) >= I(T_{l+1};Y);
* 0 <= I(X;T_l) <= H(X) for a finite X, 0 <= I(T_l;Y) <= H(Y).

Without a chain (skip connections, recurrent steps) only the per-layer limits and
I(T_l;Y) <= I(X;T_l) apply. Every step keeps each interval valid on the event that all the
stochastic bounds hold, so the joint level is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass


def apply_chain(
    input_lower: list[float],
    input_upper: list[float],
    label_lower: list[float] | None,
    label_upper: list[float] | None,
    *,
    chain: bool,
) -> tuple[list[float], list[float], list[float] | None, list[float] | None]:
    """Return the bounds tightened by data processing (new lists; nats)."""
    lower, upper = list(input_lower), list(input_upper)
    y_lower = None if label_lower is None else list(label_lower)
    y_upper = None if label_upper is None else list(label_upper)
    n_layers = len(lower)
    for _ in range(2):  # labels lift inputs and inputs cap labels: two rounds reach the fixed point
        if y_lower is not None:
            for layer in range(n_layers):
                y_upper[layer] = min(y_upper[layer], upper[layer])
                lower[layer] = max(lower[layer], y_lower[layer])
        if not chain:
            continue
        for layer in range(1, n_layers):
            upper[layer] = min(upper[layer], upper[layer - 1])
            if y_upper is not None:
                y_upper[layer] = min(y_upper[layer], y_upper[layer - 1])
        for layer in range(n_layers - 2, -1, -1):
            lower[layer] = max(lower[layer], lower[layer + 1])
            if y_lower is not None:
                y_lower[layer] = max(y_lower[layer], y_lower[layer + 1])
    return lower, upper, y_lower, y_upper


@dataclass(frozen=True)
class Located:
    """A point estimate placed in its bounds: nats, whether it meets the target, and how it was chosen."""

    value: float
    lower: float
    upper: float
    resolved: bool
    source: str


def locate(estimate: float, lower: float, upper: float, target_error: float) -> Located:
    """Return the point estimate for one layer, inside [lower, upper].

    The estimator's value is kept where the bounds hold it ("sp"): its error is then at most its
    larger distance to a bound. Where the bounds exclude it (an artefact, e.g. a layer whose
    samples are all apart at the beta scale), the midpoint replaces it when that is within
    ``target_error`` of both bounds ("midpoint"), else it is clipped onto the nearer bound
    ("sp-clipped"). ``resolved``: the reported value is within ``target_error`` of both bounds,
    hence of the truth wherever the bounds hold. Crossed bounds (some stochastic bound failed)
    are reported as the interval between them.
    """
    low, high = min(lower, upper), max(lower, upper)
    if low <= estimate <= high:
        value, source = estimate, "sp"
    elif (high - low) / 2 <= target_error:
        value, source = 0.5 * (low + high), "midpoint"
    else:
        value, source = min(max(estimate, low), high), "sp-clipped"
    return Located(value, low, high, max(value - low, high - value) <= target_error, source)
