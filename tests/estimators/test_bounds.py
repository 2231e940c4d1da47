"""Bounds of measure_information: they hold truths computed independently, and have the stated width.

Truths: the scalar-chain quadrature (true_mutual_information), the linear-Gaussian closed form
(derived here), and for finite X the margin argument plus Fano (coverage.decoding_error_bound,
checked here against a direct simulation of the noiseless margins).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from torch import nn

from infoflow import GaussianNoise
from infoflow.data.distributions import DiscreteUniform, Gaussian
from infoflow.data.labels import ThresholdLabels
from infoflow.entropy import gaussian_entropy
from infoflow.entropy.cross_entropy import influence_values, mixture_log_density
from infoflow.estimators import coverage
from infoflow.estimators.chain_bounds import apply_chain, locate
from infoflow.estimators.confidence import bonferroni_z
from infoflow.estimators.sample_propagation import is_chain, measure_information
from infoflow.estimators.truth import true_mutual_information
from infoflow.models.mlp import NoisyMLP


def scalar_net(weights, biases, activation="tanh", beta=0.05):
    net = NoisyMLP([1] * (len(weights) + 1), activation, beta)
    with torch.no_grad():
        for linear, weight, bias in zip(net.linears, weights, biases):
            linear.weight.fill_(weight)
            linear.bias.fill_(bias)
    return net


def assert_consistent(m, entropy_x=None):
    for values, low, high in ((m.mi_input, m.mi_input_lower, m.mi_input_upper),):
        for value, lo, hi in zip(values, low, high):
            assert 0.0 <= lo <= value <= hi
            if entropy_x is not None:
                assert hi <= entropy_x + 1e-12


# -- the pieces -------------------------------------------------------------------------------


def test_mixture_log_density_matches_direct_sum():
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(2, 30, 3, generator=generator, dtype=torch.float64)
    points = 3 * torch.randn(2, 7, 3, generator=generator, dtype=torch.float64)
    beta = 0.4
    got = mixture_log_density(points, centres, beta).numpy()
    c, p = centres.numpy(), points.numpy()
    squared = ((p[:, :, None, :] - c[:, None, :, :]) ** 2).sum(-1)
    want = logsumexp(-squared / (2 * beta**2), axis=-1) - math.log(30) - 1.5 * math.log(2 * math.pi * beta**2)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def test_influence_values_one_point_is_the_gaussian_entropy():
    # One centre: -log q(s + beta z) = h(N(0, beta^2)) - 1/2 + z^2/2, whose mean is the entropy.
    generator = torch.Generator().manual_seed(0)
    for dim in (1, 3):
        psi = influence_values(torch.zeros(1, 1, dim, dtype=torch.float64), 0.3, 4, generator)
        assert float(psi[0, 0]) == pytest.approx(gaussian_entropy(dim, 0.3), abs=1e-9)


def test_bonferroni_z():
    assert bonferroni_z(1) == pytest.approx(1.6448536, abs=1e-6)
    assert bonferroni_z(10) == pytest.approx(2.5758293, abs=1e-6)


def test_chain_step_and_location():
    lower, upper, y_lower, y_upper = apply_chain([0.1, 0.5], [2.0, 3.0], [0.7, 0.2], [1.5, 2.5], chain=True)
    assert upper == [2.0, 2.0] and y_upper == [1.5, 1.5]
    assert lower == [0.7, 0.5] and y_lower == [0.7, 0.2]
    spot = locate(5.0, 1.0, 1.1, 0.1)
    assert (spot.value, spot.source, spot.resolved) == (pytest.approx(1.05), "midpoint", True)
    assert locate(1.02, 1.0, 1.1, 0.1).source == "sp"
    assert locate(5.0, 1.0, 3.0, 0.1) == locate(5.0, 1.0, 3.0, 0.1) and not locate(5.0, 1.0, 3.0, 0.1).resolved


def test_is_chain():
    assert is_chain(NoisyMLP([2, 3, 1], "tanh"))
    assert is_chain(nn.Sequential(nn.Linear(2, 3), GaussianNoise(0.1), nn.Sequential(nn.Linear(3, 1), GaussianNoise(0.1))))

    class Skip(nn.Module):
        def __init__(self):
            super().__init__()
            self.noise = GaussianNoise(0.1)

        def forward(self, x):
            return x + self.noise(x)

    assert not is_chain(nn.Sequential(nn.Linear(2, 2), Skip()))


# -- bounds hold the truth ----------------------------------------------------------------------


def test_scalar_chain_bounds_hold_quadrature_truth_and_are_narrow():
    net = scalar_net([3.0, 3.0], [0.0, 0.0])
    inputs = Gaussian(0.0, 0.25)
    truth = true_mutual_information(net, inputs)
    m = measure_information(net, inputs, ThresholdLabels(0.0, -1.0, 1.0), seed=2)
    assert_consistent(m)
    for layer in range(2):
        assert m.mi_input_lower[layer] <= truth[layer] <= m.mi_input_upper[layer]
        assert m.mi_input_upper[layer] - m.mi_input_lower[layer] <= 0.5
    # Data processing: I(T_l;Y) <= I(X;T_l) bound for bound, and H(Y) = log 2 lies in the label range.
    for layer in range(2):
        assert 0.0 <= m.mi_label_lower[layer] <= m.mi_label[layer] <= m.mi_label_upper[layer] <= m.mi_input_upper[layer]
    assert m.mi_input_upper[1] <= m.mi_input_upper[0] and m.mi_input_lower[0] >= m.mi_input_lower[1]
    # The total standard error of layer 1 counts P_hat's sampling: for the Gaussian-like T_1 it is
    # about sqrt(0.5 / n) (tests/estimators/test_sample_propagation.py's error model), not 0.
    assert 0.5 * math.sqrt(0.5 / 1000) <= m.mi_input_std_error[0] <= 2.0 * math.sqrt(0.5 / 1000)


def test_discrete_scalar_chain_bounds_hold_and_stay_below_log_k():
    net = scalar_net([0.4, -1.2], [-1.5, 0.5], "leaky_relu")
    inputs = DiscreteUniform(list(range(1, 9)))
    truth = true_mutual_information(net, inputs)
    m = measure_information(net, inputs, seed=1, n_samples=400, n_conditional=400)
    assert_consistent(m, math.log(8))
    for layer in range(2):
        assert m.mi_input_lower[layer] <= truth[layer] <= m.mi_input_upper[layer]
        assert m.mi_input_upper[layer] - m.mi_input_lower[layer] <= 0.5


def test_linear_net_with_truth_above_log_n_samples():
    # n_samples = 300: log n = 5.7, the truth is ~15 nats; SP alone cannot see it.
    case = coverage.CASES["linear-8-8-8"]()
    m = measure_information(case.net, case.inputs, seed=0, n_samples=300, n_conditional=300, n_inputs=100)
    for layer, truth in enumerate(case.truth_low):
        assert truth > math.log(300)
        assert m.mi_input_lower[layer] <= truth <= m.mi_input_upper[layer]
        assert m.mi_input_upper[layer] - m.mi_input_lower[layer] < truth / 2


def test_margin_argument_matches_simulated_decoding():
    # The certificate says the nearest-anchor decoder errs with probability <= ~1e-11; a direct
    # simulation of 2000 noisy passes must then decode every one.
    case = coverage.CASES["points-apart"]()
    points = torch.as_tensor(np.array(case.inputs.values))
    assert all(low > math.log(40) - 1e-6 for low in case.truth_low)
    generator = torch.Generator().manual_seed(0)
    rows = torch.randint(40, (2000,), generator=generator)
    outputs = case.net.propagate(points[rows], generator).noisy
    anchors = coverage._noiseless_outputs(case.net, points)
    for noisy, anchor in zip(outputs, anchors):
        assert bool((torch.cdist(noisy, anchor).argmin(1) == rows).all())


def test_separated_points_read_log_k_in_every_layer():
    # The case (layer 2 read 0.80): decodable in every layer, so I = log 40 there.
    case = coverage.CASES["points-apart"]()
    m = measure_information(case.net, case.inputs, seed=0, n_samples=200, n_conditional=50)
    for layer in range(3):
        assert m.mi_input_lower[layer] <= case.truth_high[layer] and m.mi_input_upper[layer] >= case.truth_low[layer]
        assert m.mi_input_upper[layer] - m.mi_input_lower[layer] <= 0.5
        assert m.mi_input_resolved[layer] and abs(m.mi_input[layer] - math.log(40)) <= 0.1


def test_target_error_grows_sizes_or_says_it_was_not_met():
    net = scalar_net([3.0, 3.0], [0.0, 0.0])
    inputs = Gaussian(0.0, 0.25)
    m = measure_information(net, inputs, seed=0, n_samples=200, n_conditional=200, n_inputs=100, target_error=0.3)
    assert m.target_met and all(m.mi_input_resolved)
    hard = measure_information(net, inputs, seed=0, n_samples=200, n_conditional=200, n_inputs=100,
                               target_error=1e-4, time_limit_s=1.0)
    assert hard.target_met is False and not all(hard.mi_input_resolved)


def test_bad_new_arguments_raise():
    net = scalar_net([1.0], [0.0])
    with pytest.raises(ValueError, match="target_error"):
        measure_information(net, Gaussian(0.0, 1.0), target_error=-1.0)
    with pytest.raises(ValueError, match="bounds=True"):
        measure_information(net, Gaussian(0.0, 1.0), target_error=0.1, bounds=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(coverage.CASES))
def test_coverage_study(name):
    # A reduced study (5 seeds; the 20-seed table is in docs/DESIGN.md): the bounds hold all layers
    # jointly with probability >= 95 %, so each layer fails 2+ of 5 seeds with probability <= 2.3 %.
    # Widths as the issue asks. The linear cases condition on 100 draws of X to stay fast.
    settings = {"n_inputs": 100} if name.startswith("linear") else {}
    rows = coverage.coverage_study([name], seeds=5, **settings)
    for row in rows:
        assert row.held >= 4, row
        if name.startswith("linear-8"):
            assert row.truth_low > math.log(1000) and row.max_width < row.truth_low / 2, row
        elif not name.startswith("linear"):
            assert row.max_width <= 0.5, row
