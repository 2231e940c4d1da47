"""The entropy engine: h(P_hat * N(0, beta^2 I)) in nats; knows nothing of networks."""

from infoflow.entropy.engine import (
    EntropyEstimate,
    dense_quadrature_entropy,
    gaussian_entropy,
    monte_carlo_entropy,
    quadrature_entropy,
    smoothed_density,
    sp_entropy,
)

__all__ = [
    "EntropyEstimate",
    "dense_quadrature_entropy",
    "gaussian_entropy",
    "monte_carlo_entropy",
    "quadrature_entropy",
    "smoothed_density",
    "sp_entropy",
]
