"""NoisyElman: one noise layer per step, S_t from the noisy T_{t-1}, and its information against closed forms."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from infoflow import DiscreteUniform, Gaussian, NoisyMLP, mutual_information, true_mutual_information
from infoflow.models import NoisyElman
from infoflow.models.noise import propagate
from infoflow.threads import torch_threads

BETA = 0.05


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # As runs do (RUN_THREADS): two torch threads on a busy two-core machine are ~10x slower.
    with torch_threads(1):
        yield


def _set(net: NoisyElman, w_x: float, b: float, w_h: float, w_o: float = 1.0, b_o: float = 0.0) -> NoisyElman:
    with torch.no_grad():
        net.input.weight.fill_(w_x)
        net.input.bias.fill_(b)
        net.recurrent.weight.fill_(w_h)
        net.readout.weight.fill_(w_o)
        net.readout.bias.fill_(b_o)
    return net


def test_taps_give_one_layer_per_step_and_match_a_hand_written_recurrence() -> None:
    torch.manual_seed(0)
    net = NoisyElman(steps=4, hidden=2, activation="tanh", beta=0.1, input_size=3)
    assert net.n_layers == 4 and net.widths == [12, 2, 2, 2, 2] and net.n_outputs == 1
    x = torch.randn(6, 12, dtype=torch.float64)
    with torch.no_grad():
        taps = propagate(net, x, torch.Generator().manual_seed(5))
        output = net(x, torch.Generator().manual_seed(5))
        assert taps.n_layers == 4 and taps.betas == [0.1] * 4
        assert all(s.shape == (6, 2) for s in taps.clean)
        # The recurrence written out, drawing the same noise stream in the same order.
        generator = torch.Generator().manual_seed(5)
        w_x, b, w_h = net.input.weight, net.input.bias, net.recurrent.weight
        state = torch.zeros(6, 2, dtype=torch.float64)
        for t in range(4):
            clean = torch.tanh(x[:, 3 * t : 3 * t + 3] @ w_x.T + b + state @ w_h.T)
            # S_t is computed from the *noisy* state of the step before (the tapped T_{t-1}).
            torch.testing.assert_close(taps.clean[t], clean, rtol=0, atol=1e-12)
            state = clean + 0.1 * torch.randn(clean.shape, generator=generator, dtype=torch.float64)
            torch.testing.assert_close(taps.noisy[t], state, rtol=0, atol=1e-12)
        torch.testing.assert_close(output, state @ net.readout.weight.T + net.readout.bias, rtol=0, atol=1e-12)
    # Noise is part of the model: eval() leaves it on.
    net.eval()
    with torch.no_grad():
        assert not torch.equal(net(x), net(x))


def test_bad_arguments_and_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="steps"):
        NoisyElman(0)
    with pytest.raises(ValueError, match="activation"):
        NoisyElman(3, activation="swish")
    with pytest.raises(ValueError, match="beta"):
        NoisyElman(3, beta=0.0)
    with pytest.raises(ValueError, match=r"\(batch, 3\)"):
        NoisyElman(3)(torch.zeros(2, 4))


def test_without_recurrence_every_step_has_the_scalar_chains_exact_information() -> None:
    # W_h = 0: T_t = tanh(w x_t + b) + Z_t depends on x_t alone, so I(X;T_t) = I(X_t;T_t), the exact
    # information of a one-unit NoisyMLP with the same w and b on X_t ~ N(0, 1).
    net = _set(NoisyElman(3, beta=BETA), w_x=1.5, b=0.2, w_h=0.0)
    mlp = NoisyMLP([1, 1], "tanh", BETA)
    with torch.no_grad():
        mlp.linears[0].weight.fill_(1.5)
        mlp.linears[0].bias.fill_(0.2)
    (exact,) = true_mutual_information(mlp, Gaussian(0.0, 1.0))
    measured = mutual_information(net, Gaussian([0.0] * 3, 1.0), n_samples=2000, n_conditional=50, n_inputs=50)
    assert len(measured) == 3
    # SP's error at n = 2000 draws is ~0.02 nats (see measure_information); the conditionals here are exact.
    assert measured == pytest.approx([exact] * 3, abs=0.05)


def test_a_linear_cell_has_the_same_information_at_every_step() -> None:
    # Linear activation, one unit: T_t = sum_k w_h^(t-k) (w x_k + b + Z_k). Signal and noise pile up
    # with the same weights, so I(X;T_t) = 1/2 log(1 + w^2 sigma^2 / beta^2) at every t: a closed
    # form for the conditional (deeper-step) path of the estimator too.
    w_x, sigma2 = 0.13, 1.0
    net = _set(NoisyElman(4, activation="linear", beta=BETA), w_x=w_x, b=0.1, w_h=0.8)
    exact = 0.5 * math.log(1.0 + w_x**2 * sigma2 / BETA**2)
    measured = mutual_information(net, Gaussian([0.0] * 4, sigma2), n_samples=2000, n_conditional=1000, n_inputs=100)
    assert measured == pytest.approx([exact] * 4, abs=0.06)


def test_data_processing_when_only_the_first_step_carries_information() -> None:
    # X = (x_1, 0, 0, 0) with x_1 uniform on 6 points: X -> T_1 -> T_2 -> T_3 -> T_4 is a Markov
    # chain, so I(X;T_t) cannot rise with t and I(X;T_1) <= H(X) = log 6; T_1 is a scalar chain
    # with an exact answer.
    points = np.linspace(-1.0, 1.0, 6)
    rows = np.zeros((6, 4))
    rows[:, 0] = points
    net = _set(NoisyElman(4, beta=BETA), w_x=1.2, b=0.0, w_h=1.1)
    measured = mutual_information(net, DiscreteUniform(rows), n_samples=3000, n_conditional=1000)
    mlp = NoisyMLP([1, 1], "tanh", BETA)
    with torch.no_grad():
        mlp.linears[0].weight.fill_(1.2)
        mlp.linears[0].bias.fill_(0.0)
    (exact,) = true_mutual_information(mlp, DiscreteUniform(points))
    assert measured[0] == pytest.approx(exact, abs=0.03)
    assert measured[0] <= math.log(6) + 0.01
    assert all(later <= earlier + 0.03 for earlier, later in zip(measured, measured[1:]))
    # The noise the recurrence piles up does lose information (not only "does not gain").
    assert measured[-1] < measured[0] - 0.1
