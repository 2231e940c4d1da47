"""Unit-wide noisy chains with given weights, shared by the truth tests."""

from __future__ import annotations

import torch

from infoflow.models.mlp import NoisyMLP

BETA = 0.05


def scalar_net(activations: list[str], parameters: list[tuple[float, float]], beta: float = BETA) -> NoisyMLP:
    """A unit-wide chain with the given (weight, bias) per layer."""
    net = NoisyMLP([1] * (len(activations) + 1), activations, beta)
    with torch.no_grad():
        for linear, (weight, bias) in zip(net.linears, parameters):
            linear.weight.fill_(weight)
            linear.bias.fill_(bias)
    return net
