"""Noisy multilayer perceptrons: T_l = act_l(W_l T_{l-1} + b_l) + Z_l, Z_l ~ N(0, beta^2 I).

The noise is part of the model: it is drawn in training and in evaluation alike and no
``eval()`` switch turns it off.

"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from infoflow.models.noise import GaussianNoise, LayerOutputs, check_beta, noise_source, propagate
from infoflow.validation import check_memory

LEAKY_SLOPE = 0.1

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    # The seed's LeakyReLU(x) = max(x, x/10).
    "leaky_relu": lambda x: torch.nn.functional.leaky_relu(x, LEAKY_SLOPE),
    "relu": torch.relu,
    "linear": lambda x: x,
    "sigmoid": torch.sigmoid,
}


def check_activation(name: str) -> str:
    """Return ``name`` if it is a known activation, else raise ValueError listing the choices."""
    if name not in ACTIVATIONS:
        allowed = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"unknown activation {name!r}; allowed: {allowed}")
    return name


class NoisyMLP(nn.Module):
    """A fully connected network with Gaussian noise after every activation.

    Parameters
    ----------
    widths : sequence of int
        ``[d_0, d_1, ..., d_L]``: the input dimension then each layer's width.
    activations : str or sequence of str
        One name per layer (or one name for all) among ``tanh``, ``leaky_relu`` (slope 0.1),
        ``relu``, ``linear``, ``sigmoid``.
    beta : float
        Standard deviation of the noise added after each activation.
    dtype : torch.dtype
        Parameter dtype; float64 by default so entropy arithmetic stays in float64.
    """

    def __init__(
        self,
        widths: Sequence[int],
        activations: str | Sequence[str],
        beta: float = 0.05,
        *,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        if isinstance(widths, (str, bytes)) or not all(
            isinstance(w, (int, np.integer)) and not isinstance(w, bool) for w in widths
        ):
            raise ValueError(f"widths must be a list of integers; got {widths!r}")
        widths = [int(w) for w in widths]
        if len(widths) < 2 or any(w < 1 for w in widths):
            raise ValueError(f"widths must list the input size and at least one layer width, all >= 1; got {widths}")
        # Checked before nn.Linear allocates: parameters, gradients and optimiser state.
        n_parameters = sum(w_in * w_out + w_out for w_in, w_out in zip(widths[:-1], widths[1:]))
        check_memory("widths", widths, 4 * 8 * n_parameters, f"{n_parameters:.3g} parameters")
        n_layers = len(widths) - 1
        if isinstance(activations, str):
            activations = [activations] * n_layers
        activations = [check_activation(a) for a in activations]
        if len(activations) != n_layers:
            raise ValueError(f"activations must have one name per layer ({n_layers}); got {len(activations)}")
        self.widths = widths
        self.activations = activations
        self.beta = check_beta(beta)
        self.linears = nn.ModuleList(
            nn.Linear(w_in, w_out, dtype=dtype) for w_in, w_out in zip(widths[:-1], widths[1:])
        )
        # One GaussianNoise per layer: the contract every estimator reads (no parameters, so the
        # state_dict is the linears' alone).
        self.noises = nn.ModuleList(GaussianNoise(self.beta) for _ in range(n_layers))

    @property
    def n_layers(self) -> int:
        """Number of noisy layers L."""
        return len(self.linears)

    def layer_clean(self, index: int, previous: torch.Tensor) -> torch.Tensor:
        """Return S_l = act_l(W_l t + b_l) for layer ``index`` (0-based), shape (..., d_l)."""
        return ACTIVATIONS[self.activations[index]](self.linears[index](previous))

    def propagate(self, x: torch.Tensor, generator: torch.Generator | None = None) -> LayerOutputs:
        """Run the noisy network and return every layer's S_l and T_l, each (batch, d_l).

        Parameters
        ----------
        x : Tensor of shape (batch, d_0)
        generator : torch.Generator, optional
            Source of the layer noise (the layers' own, else the global generator, if None).
        """
        return propagate(self, x, generator)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return T_L, the noisy output, shape (..., d_L); noise from ``generator`` if given."""
        if x.shape[-1] != self.widths[0]:
            raise ValueError(
                f"the network takes inputs of dimension {self.widths[0]} (widths[0]); got shape {tuple(x.shape)}"
            )
        t = x.to(self.linears[0].weight.dtype)
        with noise_source(self, generator, modules=self.noises):
            for index, noise in enumerate(self.noises):
                t = noise(self.layer_clean(index, t))
        return t

    def extra_repr(self) -> str:
        return f"widths={self.widths}, activations={self.activations}, beta={self.beta}"
