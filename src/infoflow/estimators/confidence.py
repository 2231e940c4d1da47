"""One-sided confidence bounds and their simultaneous level (Bonferroni).

Every stochastic bound in a measurement is a mean of independent terms (Monte-Carlo draws, fresh
draws of T, draws of X, or SP's own influence terms) whose expectation lies on the safe side of
the quantity bounded; it becomes a one-sided bound by moving z standard errors outward (normal
approximation). With K such bounds in one measurement and z = Phi^-1(1 - alpha / K), all of them
hold at once with probability >= 1 - alpha (Bonferroni), so every interval assembled from them by
differences, minima/maxima and the data-processing inequality holds jointly at >= 1 - alpha too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from scipy.stats import norm

# The miscoverage of one measurement's intervals, all layers together.
ALPHA = 0.05


@dataclass(frozen=True)
class Estimate:
    """A mean of independent terms: ``value`` (nats) and its standard error (nats)."""

    value: float
    std_error: float

    @staticmethod
    def of_terms(terms: torch.Tensor) -> Estimate:
        """Return the mean of a 1-D tensor of i.i.d. terms and its standard error."""
        terms = terms.reshape(-1).to(torch.float64)
        n = terms.numel()
        std_error = float(terms.std(correction=1)) / math.sqrt(n) if n > 1 else math.inf
        return Estimate(float(terms.mean()), std_error)

    @staticmethod
    def of_groups(values: torch.Tensor, variances: torch.Tensor, weights: torch.Tensor) -> Estimate:
        """Return sum_x w_x v_x with SE sqrt(sum_x w_x^2 var_x), for independent group estimates v_x."""
        weights = weights.to(values)
        return Estimate(float((weights * values).sum()), math.sqrt(float((weights**2 * variances).sum())))

    def lower(self, z: float) -> float:
        return self.value - z * self.std_error

    def upper(self, z: float) -> float:
        return self.value + z * self.std_error


def bonferroni_z(n_bounds: int, alpha: float = ALPHA) -> float:
    """Return z such that ``n_bounds`` one-sided normal bounds hold together with probability >= 1 - alpha."""
    return float(norm.isf(alpha / max(1, n_bounds)))
