"""MeasurementSettings.dropout: off by default (the network as evaluated), on as channel noise (issue 18)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import infoflow
from infoflow import DiscreteUniform, GaussianNoise, InformationProbe, MeasurementSettings
from infoflow.config import ConfigError, parse_config

BETA = 0.01
SIZES = dict(n_samples=2000, n_conditional=400, n_inputs=2, seed=3)


def _identity_line(dropout: nn.Module) -> nn.Sequential:
    """X -> T_1 = X + Z_1 -> dropout -> S_2 = T_1 (weight 1) -> T_2 = S_2 + Z_2, in float64."""
    first, second = nn.Linear(1, 1), nn.Linear(1, 1)
    with torch.no_grad():
        for linear in (first, second):
            linear.weight.fill_(1.0)
            linear.bias.zero_()
    return nn.Sequential(first, GaussianNoise(BETA), dropout, second, GaussianNoise(BETA)).double()


def _truth_with_dropout(p: float) -> float:
    """I(X;T_2) for X uniform on {-1, 1}, beta -> 0: a dropped T_1 (probability p) says nothing of X,
    a kept one (scaled by 1/(1-p)) all of it, so I = (1 - p) log 2 (components far apart at beta)."""
    return (1.0 - p) * math.log(2.0)


def test_off_by_default_the_network_is_measured_as_evaluated() -> None:
    inputs = DiscreteUniform([-1.0, 1.0])
    with_dropout = infoflow.measure_information(_identity_line(nn.Dropout(0.5)), inputs, **SIZES)
    without = infoflow.measure_information(_identity_line(nn.Identity()), inputs, **SIZES)
    # Dropout off (eval mode) is the identity: the same draws, the same numbers to the last bit.
    assert with_dropout.mi_input == without.mi_input
    assert without.mi_input[1] == pytest.approx(math.log(2.0), abs=0.01)
    assert MeasurementSettings().dropout is False


@pytest.mark.parametrize("p", [0.5, 0.25])
def test_on_the_masks_are_channel_noise(p: float) -> None:
    inputs = DiscreteUniform([-1.0, 1.0])
    model = _identity_line(nn.Dropout(p))
    on = infoflow.measure_information(model, inputs, dropout=True, **SIZES)
    off = infoflow.measure_information(model, inputs, **SIZES)
    # Layer 1 is before the dropout: the same draws either way (the masks do not touch the noise's stream).
    assert on.mi_input[0] == off.mi_input[0]
    truth = _truth_with_dropout(p)
    # Within 4 of its reported standard errors (the sampling of the mask shares is ~0.02 nats here).
    assert on.mi_input[1] == pytest.approx(truth, abs=4 * on.mi_input_std_error[1])
    assert on.mi_input_lower[1] - 1e-9 <= truth <= on.mi_input_upper[1] + 1e-9
    # And the information lost to the masks is what off does not see: p log 2.
    error = 4 * math.hypot(on.mi_input_std_error[1], off.mi_input_std_error[1])
    assert off.mi_input[1] - on.mi_input[1] == pytest.approx(p * math.log(2.0), abs=error)


def test_the_probe_restores_every_mode_and_the_global_random_state() -> None:
    inputs = DiscreteUniform([-1.0, 1.0])
    model = _identity_line(nn.Dropout(0.5))
    for training in (True, False):
        model.train(training)
        before = torch.random.get_rng_state()
        probe = InformationProbe(model, inputs, dropout=True, densities=False, n_samples=200, n_conditional=50)
        first = probe.measure(0)
        assert all(module.training is training for module in model.modules())
        # The masks come from the probe's stream: the global state is untouched ...
        assert torch.equal(torch.random.get_rng_state(), before)
        # ... and one seed fixes every number.
        again = InformationProbe(model, inputs, dropout=True, densities=False, n_samples=200, n_conditional=50)
        assert again.measure(0).mi_input == first.mi_input
        assert probe.settings.dropout is True


def test_a_dropout_before_the_first_noise_layer_is_refused() -> None:
    model = nn.Sequential(nn.Dropout(0.2), nn.Linear(1, 1), GaussianNoise(BETA)).double()
    refused = r"dropout=True needs every dropout module after the first GaussianNoise layer, and module '0' \(Dropout\)"
    with pytest.raises(ValueError, match=refused):
        infoflow.measure_information(model, DiscreteUniform([-1.0, 1.0]), dropout=True, n_samples=10, n_conditional=5)
    assert all(module.training for module in model.modules())  # its modes as they were (train, a new module's)
    # Off (the default), the same model is measured as evaluated.
    infoflow.measure_information(model, DiscreteUniform([-1.0, 1.0]), n_samples=10, n_conditional=5)


def test_the_config_and_settings_take_it_and_refuse_a_non_boolean() -> None:
    text = '[network]\npreset = "tanh"\n[inputs]\nkind = "discrete_uniform"\nvalues = [-1.0, 1.0]\n[estimation]\n'
    assert parse_config(text + "dropout = true\n").estimation.dropout is True
    assert parse_config(text).estimation.dropout is False
    with pytest.raises(ConfigError, match=r"estimation\.dropout must be true or false"):
        parse_config(text + 'dropout = "yes"\n')
    with pytest.raises(ValueError, match="dropout"):
        MeasurementSettings(dropout=1)
    with pytest.raises(ValueError, match="dropout must be true or false"):
        infoflow.measure_information(_identity_line(nn.Dropout(0.5)), DiscreteUniform([-1.0, 1.0]), dropout="yes")
