"""Kong 2019's scalar networks 1-4 (section 2.3) with the paper's initialisations."""

from __future__ import annotations

import torch

from infoflow.models.mlp import NoisyMLP

# Kong 2019's networks (section 2.3) with their initialisations: (activations, (weight, bias) per layer).
KONG2019_NETWORKS: dict[str, tuple[list[str], list[tuple[float, float]]]] = {
    "tanh": (["tanh"], [(0.0, 0.0)]),
    "leaky-leaky": (["leaky_relu", "leaky_relu"], [(0.0, 4.5), (-1.0, 0.0)]),
    "tanh-tanh": (["tanh", "tanh"], [(0.0, 0.0), (0.0, 0.0)]),
    "leaky-tanh": (["leaky_relu", "tanh"], [(0.0, 0.0), (0.0, 0.0)]),
}


def kong2019_network(name: str, beta: float = 0.05, *, dtype: torch.dtype = torch.float64) -> NoisyMLP:
    """Return one of Kong 2019's scalar networks 1-4 with the paper's initialisation.

    Parameters
    ----------
    name : {"tanh", "leaky-leaky", "tanh-tanh", "leaky-tanh"}
    beta : float
        Noise standard deviation (the paper: 0.05).
    """
    if name not in KONG2019_NETWORKS:
        allowed = ", ".join(KONG2019_NETWORKS)
        raise ValueError(f"unknown seed network {name!r}; allowed: {allowed}")
    activations, init = KONG2019_NETWORKS[name]
    net = NoisyMLP([1] * (len(activations) + 1), activations, beta, dtype=dtype)
    with torch.no_grad():
        for linear, (weight, bias) in zip(net.linears, init):
            linear.weight.fill_(weight)
            linear.bias.fill_(bias)
    return net


# The names MISSION §4 publishes (the reproduced paper was called "the seed").
seed_network = kong2019_network
SEED_NETWORKS = KONG2019_NETWORKS


def preset_architectures() -> dict[str, tuple[tuple[str, ...], tuple[int, ...]]]:
    """Return {name: (activations, widths)} of the networks, as the registry takes them."""
    return {
        name: (tuple(activations), (1,) * (len(activations) + 1))
        for name, (activations, _) in KONG2019_NETWORKS.items()
    }


def build_preset(name: str, beta: float) -> NoisyMLP:
    """Return network ``name`` with the paper's initialisation (float64), for the registry."""
    return kong2019_network(name, beta)
