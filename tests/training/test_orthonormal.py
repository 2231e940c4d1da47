"""The orthonormality constraint: its closed form, its fixed point, alpha = 0, any model, the config."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from infoflow.config.errors import ConfigError
from infoflow.config.loading import parse_config
from infoflow.data.distributions import Gaussian
from infoflow.data.labels import ThresholdLabels
from infoflow.models.mlp import NoisyMLP
from infoflow.models.noise import GaussianNoise
from infoflow.training.build import training_settings
from infoflow.training.orthonormal import (
    constrained_weights,
    orthonormal_step,
    orthonormal_update,
    orthonormality_error,
)
from infoflow.training.settings import RecordingSettings, TrainingSettings
from infoflow.training.trainer import train
from tests.tiny_configs import TINY

SIGN = ThresholdLabels(0.0, -1.0, 1.0)


def _recording(n_layers: int) -> RecordingSettings:
    # Cheap: these tests check the weights; epoch 0 and the last are measured, without bounds.
    return RecordingSettings(
        n_samples=32,
        n_conditional=8,
        n_inputs=4,
        density_limits=((-1.3, 1.3),) * n_layers,
        density_points=8,
        bounds=False,
        true_information=False,
        schedule="interval",
        every=1000,
    )


def test_update_matches_hand_computed_values() -> None:
    # A = [1, 1]: A A^T = 2, A A^T A = [2, 2]; alpha = 1/4: [1, 1] - (1/4)([2, 2] - [1, 1]) = [3/4, 3/4].
    row = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    assert torch.equal(orthonormal_update(row, 0.25), torch.tensor([[0.75, 0.75]], dtype=torch.float64))
    # A = [[2, 0, 0], [0, 1/2, 0]]: each singular value s goes to s - alpha (s^3 - s); alpha = 1/10:
    # 2 - (8 - 2)/10 = 1.4 and 1/2 - (1/8 - 1/2)/10 = 0.5375.
    diagonal = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.5, 0.0]], dtype=torch.float64)
    expected = torch.tensor([[1.4, 0.0, 0.0], [0.0, 0.5375, 0.0]], dtype=torch.float64)
    assert torch.allclose(orthonormal_update(diagonal, 0.1), expected, rtol=0, atol=1e-15)


def test_update_moves_each_singular_value_by_the_cubic() -> None:
    # An independent reference by the SVD: U diag(s - alpha (s^3 - s)) V^T.
    generator = torch.Generator().manual_seed(3)
    matrix = torch.randn(5, 8, generator=generator, dtype=torch.float64)
    u, s, vh = torch.linalg.svd(matrix, full_matrices=False)
    alpha = 0.07
    reference = u @ torch.diag(s - alpha * (s**3 - s)) @ vh
    assert torch.allclose(orthonormal_update(matrix, alpha), reference, rtol=0, atol=1e-12)


def test_iterated_update_reaches_orthonormal_rows() -> None:
    generator = torch.Generator().manual_seed(0)
    matrix = 0.4 * torch.randn(6, 10, generator=generator, dtype=torch.float64)
    errors = [orthonormality_error(matrix)]
    for _ in range(300):
        matrix = orthonormal_update(matrix, 0.1)
        errors.append(orthonormality_error(matrix))
    # Every singular value is below 1 and rises to it monotonically: the error never grows.
    assert all(later <= earlier + 1e-12 for earlier, later in zip(errors, errors[1:]))
    assert errors[0] > 1.0
    assert errors[-1] < 1e-8
    assert torch.allclose(matrix @ matrix.T, torch.eye(6, dtype=torch.float64), atol=1e-8)


def test_every_linear_but_the_last_is_constrained_in_a_noisy_mlp() -> None:
    net = NoisyMLP([3, 5, 4, 2], "tanh", 0.1)
    weights = constrained_weights(net)
    assert [tuple(w.shape) for w in weights] == [(5, 3), (4, 5)]
    before = [linear.weight.detach().clone() for linear in net.linears]
    biases = [linear.bias.detach().clone() for linear in net.linears]
    orthonormal_step(net, 0.2)
    for index, linear in enumerate(net.linears):
        if index < 2:
            assert torch.allclose(linear.weight, orthonormal_update(before[index], 0.2), rtol=0, atol=1e-15)
        else:
            assert torch.equal(linear.weight, before[index])  # the read-out is free
        assert torch.equal(linear.bias, biases[index])


def test_a_cnn_constrains_its_convolutions_as_matrices() -> None:
    torch.manual_seed(0)
    cnn = nn.Sequential(
        nn.Conv2d(1, 4, kernel_size=3),
        nn.Tanh(),
        GaussianNoise(0.1),
        nn.Conv2d(4, 3, kernel_size=2),
        nn.Tanh(),
        GaussianNoise(0.1),
        nn.Flatten(),
        nn.Linear(3 * 3 * 3, 6),
        nn.Tanh(),
        GaussianNoise(0.1),
        nn.Linear(6, 2),
    ).double()
    assert [tuple(w.shape) for w in constrained_weights(cnn)] == [(4, 1, 3, 3), (3, 4, 2, 2), (6, 27)]
    first = cnn[0].weight.detach().clone()
    last = cnn[10].weight.detach().clone()
    errors = [orthonormality_error(w) for w in constrained_weights(cnn)]
    orthonormal_step(cnn, 0.1)
    # The (4, 1, 3, 3) kernel is the 4 x 9 matrix of its flattened filters.
    expected = orthonormal_update(first.reshape(4, 9), 0.1).reshape(4, 1, 3, 3)
    assert torch.allclose(cnn[0].weight, expected, rtol=0, atol=1e-15)
    assert torch.equal(cnn[10].weight, last)
    for _ in range(200):
        orthonormal_step(cnn, 0.1)
    after = [orthonormality_error(w) for w in constrained_weights(cnn)]
    assert all(a < 1e-6 < e for a, e in zip(after, errors))
    # The network still runs forward, with its noise.
    assert cnn(torch.randn(2, 1, 6, 6, dtype=torch.float64)).shape == (2, 2)


def test_alpha_zero_changes_nothing() -> None:
    net = NoisyMLP([2, 3, 1], "tanh", 0.1)
    before = {name: value.clone() for name, value in net.state_dict().items()}
    orthonormal_step(net, 0.0)
    assert all(torch.equal(before[name], value) for name, value in net.state_dict().items())


def _trained(orthonormal: float | None, epochs: int = 3, **changes: object):
    torch.manual_seed(1)
    net = NoisyMLP([1, 4, 3, 1], "tanh", 0.05)
    values = dict(epochs=epochs, learning_rate=0.05, train_size=40, batch_size=10, test_size=20)
    values["orthonormal"] = orthonormal
    settings = TrainingSettings(**{**values, **changes})
    result = train(net, Gaussian(0.0, 1.0), SIGN, settings, _recording(3), seed=4)
    return net, result


def test_alpha_zero_trains_exactly_as_the_default() -> None:
    plain_net, plain = _trained(None)
    zero_net, zero = _trained(0.0)
    for name, value in plain_net.state_dict().items():
        assert torch.equal(value, zero_net.state_dict()[name])
    assert [r.mi_input for r in plain.records] == [r.mi_input for r in zero.records]
    assert [r.loss for r in plain.records] == [r.loss for r in zero.records]


def test_the_trainer_applies_the_step_after_each_update() -> None:
    # One full-batch SGD step from the same weights with the same noise: the constrained run's
    # hidden weights are the plain run's after one orthonormality step; the read-out is the same.
    plain_net, _ = _trained(None, epochs=1, batch_size=40)
    ortho_net, _ = _trained(0.3, epochs=1, batch_size=40)
    for index, (plain, ortho) in enumerate(zip(plain_net.linears, ortho_net.linears)):
        if index < 2:
            expected = orthonormal_update(plain.weight.detach(), 0.3)
            assert torch.allclose(ortho.weight, expected, rtol=0, atol=1e-14)
            assert not torch.allclose(ortho.weight, plain.weight)
        else:
            assert torch.equal(ortho.weight, plain.weight)
        assert torch.equal(ortho.bias, plain.bias)


def test_training_with_the_constraint_keeps_hidden_weights_near_orthonormal() -> None:
    plain_net, _ = _trained(None, epochs=20)
    ortho_net, _ = _trained(0.2, epochs=20)
    for plain, ortho in zip(plain_net.linears[:2], ortho_net.linears[:2]):
        assert orthonormality_error(ortho.weight) < 0.5 * orthonormality_error(plain.weight)


@pytest.mark.parametrize("value", ["-0.1", "1.0", '"0.1"', "true", "nan"])
def test_config_refuses_a_bad_alpha_naming_the_field(value: str) -> None:
    text = TINY.replace("lr_drop_accuracy = 0.8", f"lr_drop_accuracy = 0.8\northonormal = {value}")
    with pytest.raises(ConfigError, match=r"training\.orthonormal must be a number in \[0, 1\)"):
        parse_config(text)


def test_config_carries_alpha_to_the_trainer() -> None:
    text = TINY.replace("lr_drop_accuracy = 0.8", "lr_drop_accuracy = 0.8\northonormal = 0.001")
    config = parse_config(text)
    assert training_settings(config).orthonormal == 0.001
    assert training_settings(parse_config(TINY)).orthonormal is None
    with pytest.raises(ValueError, match="orthonormal must be a number in"):
        dataclasses.replace(training_settings(config), orthonormal=2.0)
