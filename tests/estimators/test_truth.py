"""Tests for infoflow.truth: exact I(X;T_l) against closed forms, derived bounds and independent quadrature.

Every reference number is computed here from a closed form or by an independent method (scipy's
adaptive quadrature, or brute-force trapezoid rules on fine uniform grids), never copied from a
previous run of the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scalar_nets import scalar_net
from scipy import integrate
from scipy.special import ndtr

from infoflow.data.distributions import DiscreteUniform, Gaussian, GaussianMixture, InputDistribution
from infoflow.estimators.truth import (
    UnsupportedForTruth,
    scalar_chain_information,
    scalar_layers,
    true_mutual_information,
    truth_is_computable,
)
from infoflow.models.mlp import NoisyMLP

BETA = 0.05
NOISE_ENTROPY = 0.5 * math.log(2 * math.pi * math.e * BETA**2)  # h(N(0, beta^2)), nats
# The quadrature is designed to ~1e-7 nats (the product needs 1e-4): its entropy integrals of
# multi-modal densities are the limiting part (measured worst case 1.2e-7 for two modes).
QUADRATURE_TOL = 2e-7


def by_quadrature(net: NoisyMLP, inputs: InputDistribution, resolution: float = 1.0) -> list[float]:
    """Force the numerical path (a), even where a closed form exists."""
    return scalar_chain_information(scalar_layers(net), inputs, net.beta, resolution)


def leaky(z: np.ndarray) -> np.ndarray:
    return np.where(z < 0, 0.1 * z, z)


def gaussian_pdf(t: np.ndarray, mean: np.ndarray | float, variance: np.ndarray | float) -> np.ndarray:
    return np.exp(-0.5 * (t - mean) ** 2 / variance) / np.sqrt(2 * np.pi * variance)


def entropy_by_scipy_quad(density, lo: float, hi: float, points: list[float]) -> float:
    """-integral p log p over [lo, hi] by scipy's adaptive Gauss-Kronrod quadrature, nats."""

    def integrand(t: float) -> float:
        p = float(density(np.array([t]))[0])
        return -p * math.log(p) if p > 0 else 0.0

    inside = sorted(p for p in points if lo < p < hi)
    value, _ = integrate.quad(integrand, lo, hi, points=inside or None, limit=1000, epsabs=1e-13, epsrel=1e-12)
    return value


def leaky_after_gaussian_density(t: np.ndarray, mean, sd, weight: float, bias: float, beta: float) -> np.ndarray:
    """Closed-form density of leaky(w U + b) + Z at t, U ~ N(mean, sd^2), Z ~ N(0, beta^2).

    Each linear piece g = alpha u + gamma on a half-line A contributes
    N(t; alpha m + gamma, alpha^2 s^2 + beta^2) * P(U in A | T = t), the posterior of U given T
    being Gaussian. ``mean`` may be an array broadcasting against ``t``.
    """
    kink = -bias / weight
    # (alpha, gamma, region sign): sign -1 is the half-line u < kink, +1 is u > kink.
    below_is_negative = weight > 0
    pieces = [
        (0.1 * weight, 0.1 * bias, -1 if below_is_negative else +1),
        (weight, bias, +1 if below_is_negative else -1),
    ]
    total = 0.0
    for alpha, gamma, side in pieces:
        variance = alpha**2 * sd**2 + beta**2
        centre = alpha * mean + gamma
        posterior_mean = mean + alpha * sd**2 * (t - centre) / variance
        posterior_sd = sd * beta / np.sqrt(variance)
        standardized = (kink - posterior_mean) / posterior_sd
        probability = ndtr(standardized) if side < 0 else ndtr(-standardized)
        total = total + gaussian_pdf(t, centre, variance) * probability
    return total


# ----------------------------------------------------------------------------------------------
# Linear networks: closed forms
# ----------------------------------------------------------------------------------------------


def test_linear_single_layer_gaussian_matches_closed_form_both_paths():
    weight, variance = 1.7, 0.25
    net = scalar_net(["linear"], [(weight, 0.3)])
    inputs = Gaussian(0.4, variance)
    expected = 0.5 * math.log(1 + weight**2 * variance / BETA**2)
    assert true_mutual_information(net, inputs) == pytest.approx([expected], abs=1e-12)
    assert by_quadrature(net, inputs) == pytest.approx([expected], abs=QUADRATURE_TOL)


@pytest.mark.parametrize(
    ("w1", "w2", "variance"),
    [(1.3, -0.6, 0.25), (3.0, 2.0, 1.0)],  # the second spans ~2000 beta: the banded-kernel path
)
def test_linear_two_layer_scalar_matches_closed_form_both_paths(w1, w2, variance):
    net = scalar_net(["linear", "linear"], [(w1, 0.1), (w2, -0.2)])
    inputs = Gaussian(0.0, variance)
    expected = [
        0.5 * math.log(1 + w1**2 * variance / BETA**2),
        0.5 * math.log(1 + (w2 * w1) ** 2 * variance / (BETA**2 * (1 + w2**2))),
    ]
    assert true_mutual_information(net, inputs) == pytest.approx(expected, abs=1e-12)
    assert by_quadrature(net, inputs) == pytest.approx(expected, abs=QUADRATURE_TOL)


def test_one_component_mixture_is_treated_as_gaussian():
    net = scalar_net(["linear"], [(2.0, 0.0)])
    expected = 0.5 * math.log(1 + 4.0 * 0.3 / BETA**2)
    assert true_mutual_information(net, GaussianMixture([1.0], [0.3])) == pytest.approx([expected], abs=1e-12)


@pytest.mark.parametrize("widths", [[1, 3, 4, 2], [1, 3, 1, 2], [1, 5]])
def test_multi_width_linear_matches_numpy_log_determinants(widths):
    beta, variance = 0.1, 0.7
    torch.manual_seed(0)
    net = NoisyMLP(widths, "linear", beta)
    weights = [linear.weight.detach().numpy() for linear in net.linears]
    expected = []
    # Independent route: T_l = A_l X + sum_k B_lk Z_k with B_lk = W_l ... W_{k+1}, B_ll = I.
    for layer in range(len(weights)):
        gain = np.eye(widths[0])
        for weight in weights[: layer + 1]:
            gain = weight @ gain
        noise_covariance = np.zeros((widths[layer + 1], widths[layer + 1]))
        for source in range(layer + 1):
            transfer = np.eye(widths[source + 1])
            for weight in weights[source + 1 : layer + 1]:
                transfer = weight @ transfer
            noise_covariance += beta**2 * transfer @ transfer.T
        total_covariance = variance * gain @ gain.T + noise_covariance
        expected.append(0.5 * (np.linalg.slogdet(total_covariance)[1] - np.linalg.slogdet(noise_covariance)[1]))
    assert true_mutual_information(net, Gaussian(0.5, variance)) == pytest.approx(expected, abs=1e-10)


def test_linear_on_gaussian_mixture_matches_scipy_entropy():
    # T_1 = w X + b + Z is itself a Gaussian mixture with known density; path (a) integrates x.
    weight, bias = 3.0, 0.2
    inputs = GaussianMixture([-1.0, 1.0, 2.5], [0.25, 0.25, 0.01], [0.5, 0.3, 0.2])
    means = weight * np.array(inputs.means) + bias
    variances = weight**2 * np.array(inputs.variances) + BETA**2
    mixture_weights = np.array(inputs.weights)

    def density(t):
        return gaussian_pdf(t[:, None], means, variances) @ mixture_weights

    spread = 10 * math.sqrt(variances.max())
    expected = entropy_by_scipy_quad(density, means.min() - spread, means.max() + spread, list(means)) - NOISE_ENTROPY
    got = true_mutual_information(scalar_net(["linear"], [(weight, bias)]), inputs)
    assert got == pytest.approx([expected], abs=QUADRATURE_TOL)


# ----------------------------------------------------------------------------------------------
# Discrete inputs: exact limits and derived bounds
# ----------------------------------------------------------------------------------------------


def fano_gap(error_bound: float, k: int) -> float:
    """Upper bound on log k - I(X;T) from Fano, given any decoder's error probability bound."""
    p = min(error_bound, 0.5)
    binary_entropy = 0.0 if p == 0 else -p * math.log(p) - (1 - p) * math.log1p(-p)
    return binary_entropy + p * math.log(k - 1)


def test_far_apart_outputs_give_log_k():
    values = [-2.0, -1.0, 0.0, 1.0, 2.0]
    k = len(values)
    net = scalar_net(["leaky_relu", "leaky_relu"], [(1.0, 3.0), (2.0, -1.0)])
    # Layer 1: outputs 1 apart = 20 beta; nearest-output decoding fails only if |Z_1| > 0.5.
    layer1_error = 2 * (1 - ndtr(0.5 / BETA))
    # Layer 2: outputs 2 apart (slope 2 on a positive range); |2 Z_1 + Z_2| > 1 needs
    # |Z_1| > 1/4 or |Z_2| > 1/2.
    layer2_error = 2 * (1 - ndtr(0.25 / BETA)) + 2 * (1 - ndtr(0.5 / BETA))
    got = true_mutual_information(net, DiscreteUniform(values))
    for information, error in zip(got, [layer1_error, layer2_error]):
        assert math.log(k) - fano_gap(error, k) - QUADRATURE_TOL <= information <= math.log(k) + QUADRATURE_TOL


def test_saturated_tanh_on_symmetric_inputs_gives_log_2():
    # tanh(50 x) = +-1 in float64 for |x| >= 1: T_1 is +-1 + Z, two points 40 beta apart.
    net = scalar_net(["tanh"], [(50.0, 0.0)])
    got = true_mutual_information(net, DiscreteUniform([-2.0, -1.0, 1.0, 2.0]))[0]
    gap = fano_gap(1 - ndtr(1.0 / BETA), 2)
    assert math.log(2) - gap - QUADRATURE_TOL <= got <= math.log(2) + QUADRATURE_TOL


def test_extremely_steep_tanh_on_gaussian_input_is_near_log_2():
    """X ~ N(0, 1), T = tanh(w X) + Z with w = 1e6.

    Lower bound: B = sign X is a function of X, so I(X;T) >= I(B;T) >= log 2 - Fano gap, with a
    decoder sign(T) that errs only if |X| < delta (prob. <= 2 delta phi(0)) or |Z| > tanh(w delta).
    Upper bound: I(X;T) <= H(B) + I(X;T|B) <= log 2 + (1/2) log(1 + Var(S|B)/beta^2), and
    Var(S|B) <= E[(1 - tanh(w|X|))^2] <= 2 phi(0) (2 log 2 - 1) / w.
    """
    weight = 1e6
    net = scalar_net(["tanh"], [(weight, 0.0)])
    got = true_mutual_information(net, Gaussian(0.0, 1.0))[0]
    delta = 1e-5
    density_at_zero = 1 / math.sqrt(2 * math.pi)
    decode_error = 2 * delta * density_at_zero + 2 * (1 - ndtr(math.tanh(weight * delta) / BETA))
    lower = math.log(2) - fano_gap(decode_error, 2)
    variance_bound = 2 * density_at_zero * (2 * math.log(2) - 1) / weight
    upper = math.log(2) + 0.5 * math.log1p(variance_bound / BETA**2)
    assert lower - QUADRATURE_TOL <= got <= upper + QUADRATURE_TOL


def test_zero_weight_layers_carry_exactly_zero_information():
    inputs = DiscreteUniform([-3.0, -1.0, 1.0, 3.0])
    assert true_mutual_information(scalar_net(["tanh", "tanh"], [(0.0, 0.5), (2.0, 0.0)]), inputs) == [0.0, 0.0]
    single = true_mutual_information(scalar_net(["tanh"], [(1.0, 0.0)]), inputs)[0]
    got = true_mutual_information(scalar_net(["tanh", "leaky_relu"], [(1.0, 0.0), (0.0, 1.0)]), inputs)
    assert got[1] == 0.0
    assert got[0] == pytest.approx(single, abs=1e-12)
    dead_first_layer = scalar_net(["leaky_relu", "tanh"], [(0.0, 0.0), (3.0, 0.0)])
    assert true_mutual_information(dead_first_layer, Gaussian(0, 0.25)) == [0.0, 0.0]


def test_sigmoid_on_discrete_input_matches_scipy_entropy():
    values = np.array([-3.0, -1.0, 1.0, 3.0])
    weight, bias = 0.7, -0.2
    centres = 1 / (1 + np.exp(-(weight * values + bias)))

    def density(t):
        return gaussian_pdf(t[:, None], centres, BETA**2).mean(axis=1)

    expected = entropy_by_scipy_quad(density, -1.0, 2.0, list(centres)) - NOISE_ENTROPY
    got = true_mutual_information(scalar_net(["sigmoid"], [(weight, bias)]), DiscreteUniform(values))
    assert got == pytest.approx([expected], abs=QUADRATURE_TOL)


# ----------------------------------------------------------------------------------------------
# Independent references for nonlinear two-layer chains
# ----------------------------------------------------------------------------------------------


def test_leaky_leaky_on_discrete_input_matches_closed_form_densities():
    values = np.arange(1.0, 9.0)
    (w1, b1), (w2, b2) = (1.0, 0.5), (-1.0, 0.0)
    layer1_means = leaky(w1 * values + b1)

    def layer1_density(t):
        return gaussian_pdf(t[:, None], layer1_means, BETA**2).mean(axis=1)

    def layer2_conditional(t, mean):
        return leaky_after_gaussian_density(t, mean, BETA, w2, b2, BETA)

    def layer2_density(t):
        return np.mean([layer2_conditional(t, m) for m in layer1_means], axis=0)

    centres2 = list(leaky(w2 * layer1_means + b2))
    h1 = entropy_by_scipy_quad(layer1_density, -1.0, 10.0, list(layer1_means))
    h2 = entropy_by_scipy_quad(layer2_density, -2.0, 1.0, centres2 + [0.0])
    h2_given_x = np.mean(
        [
            entropy_by_scipy_quad(lambda t, m=m: layer2_conditional(t, m), -2.0, 1.0, [0.0, leaky(w2 * m + b2)])
            for m in layer1_means
        ]
    )
    expected = [h1 - NOISE_ENTROPY, h2 - h2_given_x]
    net = scalar_net(["leaky_relu", "leaky_relu"], [(w1, b1), (w2, b2)])
    got = true_mutual_information(net, DiscreteUniform(values))
    assert got == pytest.approx(expected, abs=QUADRATURE_TOL)


def test_leaky_leaky_on_gaussian_input_matches_closed_form_densities():
    """Layer 1: p(t) in closed form (leaky of a Gaussian, smoothed). Layer 2: p(t|x) in closed
    form, averaged over x by scipy's adaptive quad_vec (split at the kink), entropies by a fine
    uniform trapezoid rule (the densities are smooth, so it converges spectrally)."""
    variance = 0.25
    sd = math.sqrt(variance)
    (w1, b1), (w2, b2) = (1.5, 0.2), (-1.2, 0.3)
    density1 = lambda t: leaky_after_gaussian_density(t, 0.0, sd, w1, b1, BETA)  # noqa: E731
    h1 = entropy_by_scipy_quad(density1, -2.0, 7.0, [0.0, 0.2])

    t_grid = np.linspace(-1.6, 2.4, 1601)  # step beta / 10
    step = t_grid[1] - t_grid[0]

    def weighted_layer2(x: float) -> np.ndarray:
        conditional = leaky_after_gaussian_density(t_grid, leaky(w1 * x + b1), BETA, w2, b2, BETA)
        logs = np.log(np.where(conditional > 0, conditional, 1.0))
        conditional_entropy = -np.sum(conditional * logs) * step
        density_x = gaussian_pdf(x, 0.0, variance)
        return density_x * np.append(conditional, conditional_entropy)

    averaged, _ = integrate.quad_vec(
        weighted_layer2, -8 * sd, 8 * sd, points=[-b1 / w1], epsabs=1e-12, epsrel=1e-11, limit=2000
    )
    marginal, h2_given_x = averaged[:-1], averaged[-1]
    h2 = -np.sum(marginal * np.log(np.where(marginal > 0, marginal, 1.0))) * step
    expected = [h1 - NOISE_ENTROPY, h2 - h2_given_x]
    net = scalar_net(["leaky_relu", "leaky_relu"], [(w1, b1), (w2, b2)])
    got = true_mutual_information(net, Gaussian(0.0, variance))
    assert got == pytest.approx(expected, abs=QUADRATURE_TOL)


def test_tanh_tanh_on_gaussian_input_matches_brute_force_trapezoid():
    """Every integrand is analytic here, so trapezoid rules on fine uniform grids (steps beta/(8|w|))
    are accurate far below the tolerance: an independent brute-force reference."""
    variance = 0.25
    sd = math.sqrt(variance)
    (w1, b1), (w2, b2) = (3.0, 0.1), (3.0, -0.2)
    x = np.arange(-8 * sd, 8 * sd, BETA / (8 * w1))
    x_weights = gaussian_pdf(x, 0.0, variance) * (x[1] - x[0])
    u = np.arange(-1 - 9 * BETA, 1 + 9 * BETA, BETA / (8 * w2))
    t = np.arange(-1 - 9 * BETA, 1 + 9 * BETA, BETA / 8)
    conditional1 = gaussian_pdf(u[None, :], np.tanh(w1 * x + b1)[:, None], BETA**2)
    kernel = gaussian_pdf(t[None, :], np.tanh(w2 * u + b2)[:, None], BETA**2) * (u[1] - u[0])
    conditional2 = conditional1 @ kernel

    def entropy(density, step):
        return -np.sum(density * np.log(np.where(density > 0, density, 1.0)), axis=-1) * step

    marginal1, marginal2 = x_weights @ conditional1, x_weights @ conditional2
    expected = [
        entropy(marginal1, u[1] - u[0]) - NOISE_ENTROPY,
        entropy(marginal2, t[1] - t[0]) - x_weights @ entropy(conditional2, t[1] - t[0]),
    ]
    got = true_mutual_information(scalar_net(["tanh", "tanh"], [(w1, b1), (w2, b2)]), Gaussian(0.0, variance))
    assert got == pytest.approx(expected, abs=QUADRATURE_TOL)


# ----------------------------------------------------------------------------------------------
# Convergence and consistency
# ----------------------------------------------------------------------------------------------

REFINEMENT_CASES = {
    "tanh on {-3,-1,1,3}": (["tanh"], [(2.0, 0.0)], DiscreteUniform([-3, -1, 1, 3])),
    "leaky-leaky on {1..8}": (["leaky_relu", "leaky_relu"], [(1.0, 0.5), (-1.0, 0.0)], DiscreteUniform(range(1, 9))),
    "tanh-tanh on N(0, 0.25)": (["tanh", "tanh"], [(3.0, 0.0), (3.0, 0.0)], Gaussian(0.0, 0.25)),
    "leaky-tanh on N(0, 0.25)": (["leaky_relu", "tanh"], [(2.0, 0.3), (-2.5, 0.4)], Gaussian(0.0, 0.25)),
    "tanh on the fig-6 mixture": (["tanh"], [(4.0, 0.1)], GaussianMixture([-1, 1], [0.25, 0.25], [0.5, 0.5])),
    "steep tanh-tanh": (["tanh", "tanh"], [(40.0, 0.1), (-25.0, 0.3)], Gaussian(0.0, 0.25)),
    "relu-sigmoid-leaky": (
        ["relu", "sigmoid", "leaky_relu"],
        [(2.0, -0.3), (6.0, -1.0), (3.0, -1.5)],
        Gaussian(0.5, 1.0),
    ),
}


@pytest.mark.parametrize("name", list(REFINEMENT_CASES))
def test_halving_every_step_changes_less_than_1e_6(name):
    activations, parameters, inputs = REFINEMENT_CASES[name]
    net = scalar_net(activations, parameters)
    default = true_mutual_information(net, inputs)
    refined = true_mutual_information(net, inputs, resolution=2.0)
    assert default == pytest.approx(refined, abs=1e-6)


def test_data_processing_inequality_on_random_chains():
    rng = np.random.default_rng(3)
    names = ["tanh", "leaky_relu", "relu", "linear", "sigmoid"]
    for trial in range(6):
        activations = list(rng.choice(names, size=3))
        parameters = [(float(rng.normal(0, 2)), float(rng.normal(0, 0.5))) for _ in range(3)]
        inputs = DiscreteUniform([-1.5, 0.0, 0.5, 2.0]) if trial % 2 else Gaussian(0.0, 0.5)
        got = true_mutual_information(scalar_net(activations, parameters), inputs)
        assert all(value >= 0 for value in got)
        assert got[0] >= got[1] - 1e-9 and got[1] >= got[2] - 1e-9, (activations, parameters, got)


def test_float32_network_is_read_in_float64():
    net64 = scalar_net(["tanh", "tanh"], [(1.5, 0.25), (2.0, -0.5)])
    net32 = NoisyMLP([1, 1, 1], ["tanh", "tanh"], BETA, dtype=torch.float32)
    net32.load_state_dict({key: value.float() for key, value in net64.state_dict().items()})
    inputs = Gaussian(0.0, 0.25)
    assert true_mutual_information(net32, inputs) == pytest.approx(true_mutual_information(net64, inputs), abs=1e-12)


# ----------------------------------------------------------------------------------------------
# What is not supported
# ----------------------------------------------------------------------------------------------


class CauchyInputs(InputDistribution):
    """A continuous input distribution truth.py does not know."""


@pytest.mark.parametrize(
    ("net", "inputs", "message"),
    [
        (NoisyMLP([1, 2, 1], "tanh", BETA), Gaussian(0, 1), "1 unit wide"),
        (NoisyMLP([1, 3, 1], "linear", BETA), DiscreteUniform([0, 1]), "needs Gaussian input"),
        (NoisyMLP([1, 2], "linear", BETA), GaussianMixture([0, 1], [1, 1]), "needs Gaussian input"),
        (NoisyMLP([2, 1], "tanh", BETA), Gaussian(0, 1), "2-dimensional input"),
        (NoisyMLP([1, 1], "tanh", BETA), CauchyInputs(), "CauchyInputs"),
        (scalar_net(["leaky_relu"], [(1e5, 0.0)]), Gaussian(0, 1), "too large relative to the noise"),
        (scalar_net(["tanh"], [(float("nan"), 0.0)]), Gaussian(0, 1), "not all finite"),
    ],
)
def test_unsupported_cases_raise_a_clear_error(net, inputs, message):
    with pytest.raises(UnsupportedForTruth, match=message):
        true_mutual_information(net, inputs)
    assert not truth_is_computable(net, inputs)
    assert issubclass(UnsupportedForTruth, ValueError)


def test_supported_cases_are_reported_computable():
    assert truth_is_computable(NoisyMLP([1, 4, 3], "linear", BETA), Gaussian(0, 1))
    assert truth_is_computable(scalar_net(["leaky_relu", "tanh"], [(1.0, 0.0), (1.0, 0.0)]), Gaussian(0, 0.25))
    assert truth_is_computable(scalar_net(["tanh"], [(0.0, 0.0)]), DiscreteUniform([-3, -1, 1, 3]))


def test_resolution_must_be_positive():
    with pytest.raises(ValueError, match="resolution"):
        true_mutual_information(scalar_net(["tanh"], [(1.0, 0.0)]), Gaussian(0, 1), resolution=0.0)
