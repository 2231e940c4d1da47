"""The seed's networks 1-4 (Kong 2019, section 2.3) with their initialisations."""

from __future__ import annotations

import torch

from infoflow.models.mlp import NoisyMLP

# The seed's networks (Kong 2019, section 2.3) with their initialisations: (weight, bias) per layer.
SEED_NETWORKS: dict[str, tuple[list[str], list[tuple[float, float]]]] = {
    "tanh": (["tanh"], [(0.0, 0.0)]),
    "leaky-leaky": (["leaky_relu", "leaky_relu"], [(0.0, 4.5), (-1.0, 0.0)]),
    "tanh-tanh": (["tanh", "tanh"], [(0.0, 0.0), (0.0, 0.0)]),
    "leaky-tanh": (["leaky_relu", "tanh"], [(0.0, 0.0), (0.0, 0.0)]),
}


def seed_network(name: str, beta: float = 0.05, *, dtype: torch.dtype = torch.float64) -> NoisyMLP:
    """Return one of the seed's scalar networks 1-4 with the seed's initialisation.

    Parameters
    ----------
    name : {"tanh", "leaky-leaky", "tanh-tanh", "leaky-tanh"}
    beta : float
        Noise standard deviation (the seed: 0.05).
    """
    if name not in SEED_NETWORKS:
        allowed = ", ".join(SEED_NETWORKS)
        raise ValueError(f"unknown seed network {name!r}; allowed: {allowed}")
    activations, init = SEED_NETWORKS[name]
    net = NoisyMLP([1] * (len(activations) + 1), activations, beta, dtype=dtype)
    with torch.no_grad():
        for linear, (weight, bias) in zip(net.linears, init):
            linear.weight.fill_(weight)
            linear.bias.fill_(bias)
    return net
