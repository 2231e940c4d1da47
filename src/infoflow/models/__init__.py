"""Noisy networks: the GaussianNoise layer (the contract), layer taps, NoisyMLP, NoisyElman."""

from infoflow.models.mlp import NoisyMLP
from infoflow.models.noise import GaussianNoise
from infoflow.models.rnn import NoisyElman

__all__ = ["GaussianNoise", "NoisyElman", "NoisyMLP"]
