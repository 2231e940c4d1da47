"""The hand-written MSE gradients: the same bits as torch.autograd.grad, and whole runs unchanged."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import infoflow.training.trainer as trainer_module
from infoflow.data.distributions import DiscreteUniform, Gaussian
from infoflow.data.labels import ThresholdLabels
from infoflow.models.mlp import NoisyMLP
from infoflow.training.backprop import mse_gradient_plan
from infoflow.training.settings import RecordingSettings, TrainingSettings
from infoflow.training.trainer import train

NAMES = ["tanh", "leaky_relu", "relu", "sigmoid", "linear"]
# (widths, activations): every activation alone on three shapes, and mixed networks.
CASES = [(widths, name) for name in NAMES for widths in ((1, 1, 1), (3, 5, 4, 1), (2, 7, 2))] + [
    ((1, 1, 1), ["leaky_relu", "tanh"]),
    ((2, 4, 3, 1), ["tanh", "relu", "sigmoid"]),
    ((3, 6, 2), ["linear", "leaky_relu"]),
]


def autograd_step(net: NoisyMLP, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator):
    loss = torch.mean((net(x, generator) - y) ** 2)
    return loss, torch.autograd.grad(loss, list(net.parameters()))


@pytest.mark.parametrize(("widths", "activations"), CASES)
def test_gradients_are_autograds_bit_for_bit(widths, activations) -> None:
    widths = list(widths)
    torch.manual_seed(0)
    net = NoisyMLP(widths, activations, beta=0.05)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.normal_(0.0, 1.5)  # enough spread to reach both sides of every kink
    plan = mse_gradient_plan(net, list(net.parameters()))
    assert plan is not None
    data = torch.Generator().manual_seed(1)
    for step in range(25):
        batch = 1 + step % 13
        x = torch.randn(batch, widths[0], generator=data, dtype=torch.float64) * 2.0
        y = torch.randn(batch, widths[-1], generator=data, dtype=torch.float64)
        assert plan.applies_to(x, y)
        expected_loss, expected = autograd_step(net, x, y, torch.Generator().manual_seed(step))
        loss, gradients = plan(x, y, torch.Generator().manual_seed(step))
        assert bool(torch.isfinite(expected_loss))
        assert torch.equal(loss, expected_loss)
        assert len(gradients) == len(expected)
        for got, want in zip(gradients, expected):
            assert got.shape == want.shape
            assert torch.equal(got, want)
        with torch.no_grad():  # a new network state for the next step
            for parameter, gradient in zip(net.parameters(), expected):
                parameter.sub_(0.2 * gradient.clamp(-1.0, 1.0))


def test_inputs_of_other_shapes_are_left_to_autograd() -> None:
    net = NoisyMLP([2, 3, 1], "tanh")
    plan = mse_gradient_plan(net, list(net.parameters()))
    assert plan is not None
    x = torch.zeros(4, 2, dtype=torch.float64)
    assert plan.applies_to(x, torch.zeros(4, 1, dtype=torch.float64))
    assert not plan.applies_to(x, torch.zeros(4, dtype=torch.float64))  # broadcasting target
    assert not plan.applies_to(torch.zeros(2, 4, 2, dtype=torch.float64), torch.zeros(2, 4, 1, dtype=torch.float64))
    assert not plan.applies_to(x, torch.zeros(4, 1, dtype=torch.float32))  # a float32 target: promoted


def test_networks_the_plan_does_not_reproduce_get_none() -> None:
    net = NoisyMLP([1, 2, 1], "tanh")
    parameters = list(net.parameters())
    assert mse_gradient_plan(net, parameters) is not None
    assert mse_gradient_plan(net, parameters[::-1]) is None  # not the network's order
    assert mse_gradient_plan(nn.Sequential(nn.Linear(1, 1)), parameters) is None

    class Subclass(NoisyMLP):
        pass

    assert mse_gradient_plan(Subclass([1, 2, 1], "tanh"), list(Subclass([1, 2, 1], "tanh").parameters())) is None
    handle = net.noises[0].register_forward_hook(lambda module, inputs, output: output * 2)
    assert mse_gradient_plan(net, parameters) is None  # the hook would be skipped
    handle.remove()
    handle = parameters[0].register_hook(lambda grad: grad * 2)
    assert mse_gradient_plan(net, parameters) is None
    handle.remove()
    assert mse_gradient_plan(net, parameters) is not None
    parameters[1].requires_grad_(False)
    assert mse_gradient_plan(net, parameters) is None


@pytest.mark.parametrize(
    ("activations", "inputs", "labels", "momentum"),
    [
        ("leaky_relu", DiscreteUniform([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]), ThresholdLabels(4.5, 0.0, 0.25), 0.0),
        (["leaky_relu", "tanh"], Gaussian(0.0, 0.25), ThresholdLabels(0.0, -1.0, 1.0), 0.99),
    ],
)
def test_a_training_run_is_the_same_with_and_without_autograd(monkeypatch, activations, inputs, labels, momentum) -> None:
    settings = TrainingSettings(
        epochs=3, learning_rate=0.01, momentum=momentum, train_size=40, batch_size=7, test_size=50
    )
    recording = RecordingSettings(
        n_samples=64, n_conditional=16, n_inputs=8, density_limits=((-2.0, 12.0), (-1.3, 1.3)), density_points=16
    )

    def run():
        net = NoisyMLP([1, 1, 1], activations, beta=0.05)
        with torch.no_grad():
            net.linears[0].weight.fill_(0.7)
            net.linears[0].bias.fill_(-1.0)
            net.linears[1].weight.fill_(-1.0)
            net.linears[1].bias.fill_(0.1)
        result = train(net, inputs, labels, settings, recording, seed=3)
        return [parameter.detach().clone() for parameter in net.parameters()], result

    used = []
    real_plan = trainer_module.mse_gradient_plan
    monkeypatch.setattr(trainer_module, "mse_gradient_plan", lambda *a: used.append(1) or real_plan(*a))
    fast_parameters, fast = run()
    assert used  # the plan ran
    monkeypatch.setattr(trainer_module, "mse_gradient_plan", lambda *a: None)
    slow_parameters, slow = run()
    for a, b in zip(fast_parameters, slow_parameters):
        assert torch.equal(a, b)
    assert [r.loss for r in fast.records] == [r.loss for r in slow.records]
    assert [r.mi_input for r in fast.records] == [r.mi_input for r in slow.records]
