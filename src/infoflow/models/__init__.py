"""Noisy networks: the GaussianNoise layer (the contract), layer taps, NoisyMLP."""
