"""Unit-wide layers u -> a(w u + b) described by their shape, so the planner knows kinks and steepness."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from infoflow.models.mlp import LEAKY_SLOPE, NoisyMLP

# Saturating activations: resolution units per e-fold of the approach to saturation (a 12-point
# rule integrates exp(-k x) over 6 e-folds to 3e-19 relative error), resolved while the
# deviation from saturation exceeds this fraction of beta.
SATURATION_UNITS_PER_EFOLD = 1.0
SATURATION_NEGLIGIBLE = 1e-8


@dataclass(frozen=True)
class Saturating:
    """a(z) = offset + amplitude * tanh(rate * z): tanh and the logistic sigmoid."""

    offset: float
    amplitude: float
    rate: float

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.offset + self.amplitude * np.tanh(self.rate * z)

    def breakpoint(self) -> float:
        """Pre-activation where panels must end: the centre of the step."""
        return 0.0


@dataclass(frozen=True)
class PiecewiseLinear:
    """a(z) = slope_below * z for z < 0, slope_above * z for z >= 0: linear, ReLU, LeakyReLU."""

    slope_below: float
    slope_above: float

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return np.where(z < 0, self.slope_below * z, self.slope_above * z)

    def breakpoint(self) -> float | None:
        """Pre-activation where panels must end: the kink, or None for a straight line."""
        return None if self.slope_below == self.slope_above else 0.0


SHAPES: dict[str, Saturating | PiecewiseLinear] = {
    "tanh": Saturating(0.0, 1.0, 1.0),
    "sigmoid": Saturating(0.5, 0.5, 0.5),  # sigmoid(z) = 1/2 + tanh(z/2)/2
    "leaky_relu": PiecewiseLinear(LEAKY_SLOPE, 1.0),
    "relu": PiecewiseLinear(0.0, 1.0),
    "linear": PiecewiseLinear(1.0, 1.0),
}


@dataclass(frozen=True)
class ScalarLayer:
    """u -> a(w u + b) for one unit-wide layer."""

    weight: float
    bias: float
    shape: Saturating | PiecewiseLinear

    def __call__(self, u: np.ndarray) -> np.ndarray:
        return self.shape(self.weight * u + self.bias)

    def breakpoints(self) -> list[float]:
        """Inputs u where panels must end: the kink of a piecewise-linear map, the centre of a saturating one.

        A panel across a kink converges only algebraically. The centre of tanh(w u + b) is
        resolved by the steepness coordinate anyway; making it an edge keeps the rule right even
        when w is so large that the step is thinner than the bisection can resolve.
        """
        pre_activation = self.shape.breakpoint()
        if pre_activation is None or self.weight == 0:
            return []
        return [(pre_activation - self.bias) / self.weight]

    def steepness_coordinate(self, u: np.ndarray, beta: float) -> np.ndarray:
        """Return a non-decreasing function of u counting the length scales of phi_beta(t - a(wu+b)).

        Two terms. (1) |change of a(wu+b)| / beta: where the map is steep, phi_beta(t - a(wu+b))
        changes on the scale beta / |slope|. (2) For a saturating map a = c + A tanh(y),
        y = r (w u + b): near saturation a deviates from c +- A by 2A exp(-2|y|), a feature too thin
        for term (1) (it moves a by < beta) yet not a polynomial over a wide panel; it is resolved
        at SATURATION_UNITS_PER_EFOLD units per e-fold while the deviation exceeds
        SATURATION_NEGLIGIBLE * beta.
        """
        direction = math.copysign(1.0, self.weight)
        coordinate = direction * self(u) / beta
        if isinstance(self.shape, Saturating) and self.weight != 0:
            amplitude = self.shape.amplitude
            y_cut = 0.5 * math.log(2 * amplitude / (SATURATION_NEGLIGIBLE * beta))
            if y_cut > 0:
                y = self.shape.rate * (self.weight * u + self.bias)
                efolds = 2.0 * np.clip(y, -y_cut, y_cut)
                coordinate = coordinate + direction * SATURATION_UNITS_PER_EFOLD * efolds
        return coordinate


def scalar_layers(net: NoisyMLP) -> list[ScalarLayer]:
    """Return the unit-wide layers of a scalar NoisyMLP (weights and biases as float64 numbers)."""
    with torch.no_grad():
        return [
            ScalarLayer(
                float(linear.weight.detach().to("cpu", torch.float64).reshape(())),
                float(linear.bias.detach().to("cpu", torch.float64).reshape(())) if linear.bias is not None else 0.0,
                SHAPES[name],
            )
            for linear, name in zip(net.linears, net.activations)
        ]
