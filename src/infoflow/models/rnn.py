"""A noisy recurrent network: an Elman cell whose hidden state passes through GaussianNoise at every step.

    T_0 = 0;  S_t = act(W_x x_t + W_h T_{t-1} + b);  T_t = S_t + Z_t,  Z_t ~ N(0, beta^2 I)  (t = 1..steps)
    output  y = w_o . T_steps + b_o                                 (no noise on the read-out)

The input X = (x_1, ..., x_steps) is one vector of ``steps * input_size`` numbers (step by step),
so the network measures like any other: the cell's one :class:`GaussianNoise` module is called
once per step, and by the noise-layer contract (``models/noise.py``) the t-th call is layer t.
Layer t's S_t is computed from T_{t-1}, the *noisy* state of the step before, and T_t depends
on x_1..x_t only, so the probe's I(X;T_l) of layer l = t is I(X_1..X_t; T_t).

The read-out is noiseless: with a one-unit state it is an invertible affine map of T_steps, so
I(X; y) = I(X; T_steps) and a noisy read-out would only add a layer that repeats the last step.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from infoflow.models.mlp import ACTIVATIONS, check_activation
from infoflow.models.noise import GaussianNoise, LayerOutputs, check_beta, noise_source, propagate


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    return int(value)


class NoisyElman(nn.Module):
    """An Elman recurrent network with Gaussian noise on the hidden state at every step.

    Parameters
    ----------
    steps : int
        Sequence length T: the input holds ``steps`` consecutive steps.
    hidden : int
        Width of the hidden state (1 or 2 keeps every entropy a deterministic quadrature).
    activation : str
        The cell's activation (``tanh``, ``leaky_relu``, ``relu``, ``linear``, ``sigmoid``).
    beta : float
        Standard deviation of the noise added to the hidden state at every step.
    input_size : int
        Numbers per step; the network takes inputs of ``steps * input_size`` numbers.
    dtype : torch.dtype
        Parameter dtype (float64 by default, like NoisyMLP).

    Attributes
    ----------
    input : nn.Linear
        W_x and the cell's bias b.
    recurrent : nn.Linear
        W_h, without a bias (b is the input map's).
    readout : nn.Linear
        w_o and b_o: y = w_o . T_steps + b_o.
    noise : GaussianNoise
        The one noise module, called once per step.
    widths : list of int
        ``[steps * input_size, hidden, ..., hidden]``: the input size, then each layer's (step's)
        width, as ``NoisyMLP.widths``.
    activations : list of str
        One name per layer (step), all the cell's.
    n_outputs : int
        1: the read-out is scalar.
    """

    n_outputs = 1

    def __init__(
        self,
        steps: int,
        hidden: int = 1,
        activation: str = "tanh",
        beta: float = 0.05,
        *,
        input_size: int = 1,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        self.steps = _positive_int("steps", steps)
        self.hidden = _positive_int("hidden", hidden)
        self.input_size = _positive_int("input_size", input_size)
        self.activation = check_activation(activation)
        self.beta = check_beta(beta)
        self.widths = [self.steps * self.input_size] + [self.hidden] * self.steps
        self.activations = [self.activation] * self.steps
        self.input = nn.Linear(self.input_size, self.hidden, dtype=dtype)
        self.recurrent = nn.Linear(self.hidden, self.hidden, bias=False, dtype=dtype)
        self.readout = nn.Linear(self.hidden, 1, dtype=dtype)
        self.noise = GaussianNoise(self.beta)

    @property
    def n_layers(self) -> int:
        """Number of noisy layers: one per step."""
        return self.steps

    def step_clean(self, x_t: torch.Tensor, previous: torch.Tensor | None) -> torch.Tensor:
        """Return S_t = act(W_x x_t + W_h T_{t-1} + b); ``previous`` None is the zero initial state."""
        pre = self.input(x_t)
        if previous is not None:
            pre = pre + self.recurrent(previous)
        return ACTIVATIONS[self.activation](pre)

    def states(self, x: torch.Tensor, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """Return the noisy states [T_1, ..., T_steps], each of shape (batch, hidden)."""
        if x.ndim != 2 or x.shape[-1] != self.widths[0]:
            raise ValueError(
                f"the network takes inputs of shape (batch, {self.widths[0]}) ({self.steps} steps of "
                f"{self.input_size}); got shape {tuple(x.shape)}"
            )
        sequence = x.to(self.input.weight.dtype).reshape(x.shape[0], self.steps, self.input_size)
        state: torch.Tensor | None = None
        states = []
        with noise_source(self, generator, modules=(self.noise,)):
            for t in range(self.steps):
                state = self.noise(self.step_clean(sequence[:, t], state))
                states.append(state)
        return states

    def propagate(self, x: torch.Tensor, generator: torch.Generator | None = None) -> LayerOutputs:
        """Return every step's S_t and T_t (the noise-layer taps), each (batch, hidden)."""
        return propagate(self, x, generator)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return the read-out y = w_o . T_steps + b_o, shape (batch, 1); noise from ``generator``."""
        return self.readout(self.states(x, generator)[-1])

    def extra_repr(self) -> str:
        return (
            f"steps={self.steps}, hidden={self.hidden}, input_size={self.input_size}, "
            f"activation={self.activation!r}, beta={self.beta}"
        )
