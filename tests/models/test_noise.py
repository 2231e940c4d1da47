"""The noise layer as the contract: GaussianNoise, the taps, NoisyMLP built from it."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from infoflow import GaussianNoise, NoisyMLP
from infoflow.models.noise import noise_source, propagate

BETA = 0.1


def test_noise_stays_on_in_eval_mode_and_has_the_right_scale():
    layer = GaussianNoise(BETA).eval()
    clean = torch.zeros(200_000, dtype=torch.float64)
    noisy = layer(clean)
    # The sample s.d. of 2e5 normal draws is within 4 x beta / sqrt(2 * 2e5) of beta.
    assert abs(float(noisy.std()) - BETA) < 4 * BETA / math.sqrt(2 * 200_000)
    assert abs(float(noisy.mean())) < 4 * BETA / math.sqrt(200_000)


def test_noise_source_fixes_the_draws_and_restores_the_generator():
    model = nn.Sequential(nn.Linear(2, 3), GaussianNoise(BETA), nn.Tanh(), GaussianNoise(BETA))
    x = torch.randn(5, 2)
    outputs = []
    for _ in range(2):
        with noise_source(model, torch.Generator().manual_seed(7)):
            outputs.append(model(x))
    assert torch.equal(outputs[0], outputs[1])
    assert all(module.generator is None for module in model if isinstance(module, GaussianNoise))


def test_taps_follow_execution_order_and_each_call_is_a_layer():
    class Recurrent(nn.Module):
        """One noise module applied at every step: one layer per call."""

        def __init__(self) -> None:
            super().__init__()
            self.cell = nn.Linear(3, 2)
            self.noise = GaussianNoise(0.2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            hidden = torch.zeros(x.shape[0], 2)
            for step in range(x.shape[1]):
                inputs = torch.cat([x[:, step : step + 1], hidden], dim=1)
                hidden = self.noise(torch.tanh(self.cell(inputs)))
            return hidden

    model = Recurrent()
    x = torch.randn(4, 5)
    with torch.no_grad():
        outputs = propagate(model, x, torch.Generator().manual_seed(0))
        assert outputs.n_layers == 5 and outputs.betas == [0.2] * 5
        for step in range(1, 5):
            # S_t = tanh(W [x_t, T_{t-1}] + b): layer t's input is computed from layer t-1's output.
            previous = outputs.noisy[step - 1]
            expected = torch.tanh(model.cell(torch.cat([x[:, step : step + 1], previous], dim=1)))
            assert torch.allclose(outputs.clean[step], expected, atol=1e-6, rtol=0)
            assert not torch.equal(outputs.noisy[step], outputs.clean[step])


def test_propagate_flattens_images_and_stops_early():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), GaussianNoise(BETA), nn.Flatten(), nn.Linear(8, 1), GaussianNoise(BETA))
    x = torch.randn(6, 1, 4, 4)
    full = propagate(model, x, torch.Generator().manual_seed(0))
    assert [tuple(s.shape) for s in full.clean] == [(6, 8), (6, 1)]
    stopped = propagate(model, x, torch.Generator().manual_seed(0), n_layers=1)
    assert stopped.n_layers == 1 and torch.equal(stopped.noisy[0], full.noisy[0])


def test_a_model_without_noise_or_with_wrong_inputs_is_a_clear_error():
    with pytest.raises(ValueError, match="no infoflow.GaussianNoise layer"):
        propagate(nn.Linear(2, 2), torch.zeros(3, 2))
    model = nn.Sequential(nn.Linear(3, 2), GaussianNoise(BETA))
    with pytest.raises(ValueError, match="cannot take inputs of shape"):
        propagate(model, torch.zeros(4, 5))


@pytest.mark.parametrize("beta", [0.0, -1.0, math.inf, math.nan, "0.1", True, 1e-300])
def test_bad_beta_is_refused(beta):
    with pytest.raises(ValueError, match="beta"):
        GaussianNoise(beta)


def test_noisy_mlp_is_built_from_noise_layers_and_keeps_its_state_dict():
    net = NoisyMLP([3, 4, 2], ["tanh", "linear"], BETA)
    assert [type(m).__name__ for m in net.noises] == ["GaussianNoise", "GaussianNoise"]
    assert sorted(net.state_dict()) == ["linears.0.bias", "linears.0.weight", "linears.1.bias", "linears.1.weight"]
    x = torch.randn(10, 3, dtype=torch.float64)
    outputs = net.propagate(x, torch.Generator().manual_seed(3))
    expected_s1 = torch.tanh(net.linears[0](x))
    assert torch.allclose(outputs.clean[0], expected_s1, atol=1e-15, rtol=0)
    assert torch.allclose(outputs.clean[1], net.linears[1](outputs.noisy[0]), atol=1e-15, rtol=0)
    with pytest.raises(ValueError, match="inputs of dimension 3"):
        net(torch.zeros(2, 2, dtype=torch.float64))


@pytest.mark.parametrize("widths", [[1, 3.5, 1], [1, "2"], [1, True], [1, 0]])
def test_noisy_mlp_refuses_non_integer_widths(widths):
    with pytest.raises(ValueError, match="widths"):
        NoisyMLP(widths, "tanh", BETA)
