"""Tests of the estimators against closed forms and independent computations.

Error model used for every tolerance (derived here, not fitted). For n samples s_i of S with law P
and q = P * phi_beta, the SP estimate h(P_hat * phi_beta) satisfies, since E[P_hat * phi] = q,

    E h(P_hat * phi) = h(q) - E D(P_hat * phi || q),   0 <= E D <= E chi^2 = c / n,
    c = integral E_s[phi_beta(t - s)^2] / q(t) dt - 1,

(D <= log(1 + chi^2) <= chi^2), so its bias lies in [-c/n, 0]; for a Gaussian P of variance
sigma^2, c = sigma^2 / beta^2 exactly. Its fluctuation is, to first order, the mean of
-g(s_i) with g(s) = E_Z log q(s + beta Z), so its standard deviation is sqrt(Var g / n); for a
Gaussian P that is (sigma^2 / (sigma^2 + beta^2)) sqrt(0.5 / n). Tolerances are 5 such standard
deviations plus the bias window. Quadrature adds ~1e-10 nats.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import log_ndtr, logsumexp

from infoflow.data.distributions import DiscreteUniform, Gaussian, InputDistribution
from infoflow.data.labels import ThresholdLabels
from infoflow.entropy import gaussian_entropy, sp_entropy
from infoflow.estimators import sp_estimates
from infoflow.estimators.bounds import binned_entropy, pairwise_distance_entropy
from infoflow.estimators.sample_propagation import (
    ESTIMATORS,
    InformationMeasurement,
    measure_information,
    mutual_information,
)
from infoflow.models.mlp import NoisyMLP
from infoflow.models.noise import propagate
from infoflow.papers.kong2019.networks import seed_network

BETA = 0.05
SIGMAS = 5.0  # tolerance in standard deviations
QUADRATURE_ERROR = 1e-8


def linear_net(weights: list[float], biases: list[float] | None = None, beta: float = BETA) -> NoisyMLP:
    """A chain of scalar linear layers with the given weights and biases."""
    biases = biases or [0.0] * len(weights)
    net = NoisyMLP([1] * (len(weights) + 1), "linear", beta)
    with torch.no_grad():
        for linear, weight, bias in zip(net.linears, weights, biases):
            linear.weight.fill_(weight)
            linear.bias.fill_(bias)
    return net


def set_weights(net: NoisyMLP, weights: list[float], biases: list[float]) -> NoisyMLP:
    with torch.no_grad():
        for linear, weight, bias in zip(net.linears, weights, biases):
            linear.weight.fill_(weight)
            linear.bias.fill_(bias)
    return net


def plug_in_entropy(values: torch.Tensor) -> float:
    """Discrete entropy (nats) of the empirical distribution of the rows of ``values``."""
    _, counts = np.unique(values.reshape(values.shape[0], -1).cpu().numpy(), axis=0, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def multinomial_window(k: int, n: int) -> float:
    """log k - H(p_hat) for n uniform draws over k cells: ~ chi^2_{k-1} / (2n); mean + 5 sd."""
    return (k - 1) / (2 * n) + SIGMAS * math.sqrt(2 * (k - 1)) / (2 * n)


class SmoothedReference:
    """h(P * phi_beta), the chi^2 bias constant c and Var g for a 1-D law P given by quadrature nodes.

    ``nodes`` and ``weights`` discretise P finely enough (node spacing << beta) that the convolution
    is computed to well below the tolerances used. The grid ends 12 beta beyond the outermost
    node, which captures the chi^2 integrand only for a law of bounded support (the use here);
    a Gaussian law's chi^2 integrand reaches much further out.
    """

    def __init__(self, nodes: np.ndarray, weights: np.ndarray, beta: float) -> None:
        weights = weights / weights.sum()
        step = beta / 8
        grid = np.arange(nodes.min() - 12 * beta, nodes.max() + 12 * beta + step, step)

        def smoothed(width: float) -> np.ndarray:
            kernel = np.exp(-0.5 * ((grid[:, None] - nodes[None, :]) / width) ** 2) / (width * math.sqrt(2 * math.pi))
            return kernel @ weights

        density = smoothed(beta)
        log_density = np.log(density)
        self.entropy = float(-(density * log_density).sum() * step)
        # E_s phi_beta(t - s)^2 = (P * phi_{beta/sqrt 2})(t) / (2 beta sqrt(pi)).
        self.chi2_constant = float(
            (smoothed(beta / math.sqrt(2)) / density).sum() * step / (2 * beta * math.sqrt(math.pi)) - 1
        )
        kernel = np.exp(-0.5 * ((nodes[:, None] - grid[None, :]) / beta) ** 2) / (beta * math.sqrt(2 * math.pi))
        g = (kernel * log_density).sum(axis=1) * step
        self.var_g = float(weights @ g**2 - (weights @ g) ** 2)

    def window(self, n: int) -> tuple[float, float]:
        """(lowest, highest) plausible SP estimate from n samples: bias in [-c/n, 0] plus 5 sd."""
        sd = math.sqrt(self.var_g / n)
        return self.entropy - self.chi2_constant / n - SIGMAS * sd, self.entropy + SIGMAS * sd


# ----------------------------------------------------------------------------------------------
# I(X;T_l) by sample propagation
# ----------------------------------------------------------------------------------------------


def test_linear_gaussian_one_layer_matches_closed_form():
    # T_1 = w X + b + Z: I = 1/2 log(1 + w^2 var / beta^2). Layer 1's conditional is exact, so the
    # error is that of h(T_1) from n Gaussian samples of variance sigma^2 = w^2 var.
    weight, var, n = 1.5, 0.25, 20_000
    net = linear_net([weight], [0.3])
    estimate = mutual_information(net, Gaussian(0.2, var), n_samples=n, seed=1)[0]
    exact = 0.5 * math.log(1 + weight**2 * var / BETA**2)
    sigma2 = weight**2 * var
    sd = sigma2 / (sigma2 + BETA**2) * math.sqrt(0.5 / n)
    bias_floor = sigma2 / (n * BETA**2)
    assert exact - bias_floor - SIGMAS * sd <= estimate <= exact + SIGMAS * sd


def test_layer_one_conditional_is_the_closed_form():
    # For a 1-layer network, I(X;T_1) = SP h(T_1) of the returned samples - (d/2) log(2 pi e beta^2).
    net = set_weights(seed_network("tanh"), [2.0], [0.1])
    measurement = measure_information(net, Gaussian(0.0, 0.25), n_samples=500, n_inputs=7, seed=3, bounds=False)
    h_marginal = sp_entropy(measurement.clean_samples[0], BETA)
    assert measurement.conditional_entropy[0] == gaussian_entropy(1, BETA)
    assert measurement.mi_input[0] == pytest.approx(h_marginal - gaussian_entropy(1, BETA), abs=1e-12)
    assert measurement.mi_input_std_error[0] == 0.0


def test_constant_layer_carries_no_information():
    # w = 0: every S_1 is the same point, whose smoothed entropy is the Gaussian one exactly.
    net = linear_net([0.0], [0.7])
    for inputs in (Gaussian(0.0, 1.0), DiscreteUniform([1, 2, 3])):
        assert abs(mutual_information(net, inputs, n_samples=300, seed=0)[0]) < QUADRATURE_ERROR


def test_far_apart_discrete_inputs_give_log_k():
    # k inputs 20 beta apart: overlaps ~exp(-50), so the SP estimate is the entropy of the
    # empirical input frequencies exactly, and that is log k minus a multinomial deficit.
    k, n = 4, 1000
    net = linear_net([1.0])
    measurement = measure_information(net, DiscreteUniform(range(k)), n_samples=n, seed=5, bounds=False)
    estimate = measurement.mi_input[0]
    assert estimate == pytest.approx(plug_in_entropy(measurement.clean_samples[0]), abs=QUADRATURE_ERROR)
    assert 0 <= math.log(k) - estimate <= multinomial_window(k, n)
    # With bounds, the decoder proves I >= log k - (a few 1e-3): the multinomial deficit is gone.
    bounded = measure_information(net, DiscreteUniform(range(k)), n_samples=n, seed=5)
    assert bounded.mi_input_lower[0] <= math.log(k) <= bounded.mi_input_upper[0]
    assert abs(bounded.mi_input[0] - math.log(k)) <= 0.01 and bounded.mi_input_resolved[0]


def test_two_layer_linear_gaussian_matches_closed_form():
    # T_2 = w2 (w1 X + b1 + Z_1) + b2 + Z_2 = w2 w1 X + (w2 Z_1 + Z_2) + const, so
    # I(X;T_2) = 1/2 log(1 + (w2 w1)^2 var / (beta^2 (1 + w2^2))).
    # h(T_2): n samples of S_2 ~ Gaussian, sigma^2 = w2^2 (w1^2 var + beta^2), bias in [-sigma^2/(n beta^2), 0].
    # h(T_2|x): n_conditional samples of S_2|x ~ N(., w2^2 beta^2), bias in [-w2^2/n_conditional, 0],
    # averaged over n_x independent x (every conditional is a translate: no spread over x).
    w1, w2, var = 1.0, 1.2, 0.25
    n, n_conditional, n_x = 20_000, 2_000, 50
    net = linear_net([w1, w2], [0.1, -0.2])
    measurement = measure_information(
        net, Gaussian(0.0, var), n_samples=n, n_conditional=n_conditional, n_inputs=n_x, seed=2
    )
    exact = [
        0.5 * math.log(1 + w1**2 * var / BETA**2),
        0.5 * math.log(1 + (w1 * w2) ** 2 * var / (BETA**2 * (1 + w2**2))),
    ]
    sigma2 = [w1**2 * var, w2**2 * (w1**2 * var + BETA**2)]
    conditional_var = w2**2 * BETA**2
    sd_marginal = sigma2[1] / (sigma2[1] + BETA**2) * math.sqrt(0.5 / n)
    sd_conditional = conditional_var / (conditional_var + BETA**2) * math.sqrt(0.5 / n_conditional) / math.sqrt(n_x)
    sd = math.hypot(sd_marginal, sd_conditional)
    lower = exact[1] - sigma2[1] / (n * BETA**2) - SIGMAS * sd
    upper = exact[1] + w2**2 / n_conditional + SIGMAS * sd
    assert lower <= measurement.mi_input[1] <= upper
    sd1 = sigma2[0] / (sigma2[0] + BETA**2) * math.sqrt(0.5 / n)
    assert exact[0] - sigma2[0] / (n * BETA**2) - SIGMAS * sd1 <= measurement.mi_input[0] <= exact[0] + SIGMAS * sd1
    # The conditional entropy: each x's estimate has the bias above and the same shape.
    exact_conditional = gaussian_entropy(1, BETA) + 0.5 * math.log(1 + w2**2)
    assert (
        exact_conditional - w2**2 / n_conditional - SIGMAS * sd_conditional
        <= measurement.conditional_entropy[1]
        <= exact_conditional + SIGMAS * sd_conditional
    )


class WeightedDiscrete(InputDistribution):
    """A discrete X with unequal probabilities (to check the exact weighting over the support)."""

    def __init__(self, values: list[float], probabilities: list[float]) -> None:
        self.values = torch.tensor(values, dtype=torch.float64).unsqueeze(-1)
        self.probabilities = torch.tensor(probabilities, dtype=torch.float64)

    @property
    def is_discrete(self) -> bool:  # type: ignore[override]
        return True

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.values[torch.multinomial(self.probabilities, n, replacement=True, generator=generator)]

    def support(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.values, self.probabilities


def test_deep_conditional_and_exact_support_weights_against_quadrature():
    # Layer 1 linear (w=1), layer 2 tanh(10 t). Given x = 0, S_2 = tanh(0.5 Z_1): its smoothed
    # entropy is computed independently by quadrature over Z_1. Given x = 3, S_2 = tanh(30 + 0.5 Z_1)
    # = 1.0 in float64, a single point: h = Gaussian entropy. E_X h(T_2|X) = 0.9 h_0 + 0.1 h_3.
    net = NoisyMLP([1, 1, 1], ["linear", "tanh"], BETA)
    set_weights(net, [1.0, 10.0], [0.0, 0.0])
    inputs = WeightedDiscrete([0.0, 3.0], [0.9, 0.1])
    n_conditional = 20_000
    measurement = measure_information(net, inputs, n_samples=200, n_conditional=n_conditional, seed=4, bounds=False)
    z_step = 0.01
    z = np.arange(-9.0, 9.0 + z_step / 2, z_step)
    reference = SmoothedReference(np.tanh(10 * BETA * z), np.exp(-0.5 * z**2), BETA)
    low, high = reference.window(n_conditional)
    h_single = gaussian_entropy(1, BETA)
    assert 0.9 * low + 0.1 * h_single - QUADRATURE_ERROR <= measurement.conditional_entropy[1]
    assert measurement.conditional_entropy[1] <= 0.9 * high + 0.1 * h_single + QUADRATURE_ERROR
    # Discrete X: the expectation is exact, so without bounds no Monte-Carlo standard error is reported.
    assert measurement.mi_input_std_error[1] == 0.0
    assert measurement.mi_input[1] == pytest.approx(
        measurement.entropy[1] - measurement.conditional_entropy[1], abs=1e-12
    )


def test_one_batched_forward_pass_and_one_entropy_call_per_layer(monkeypatch):
    # No loop over inputs: each layer is applied once to the unconditional draws and once to the
    # whole batch of n_x * n_conditional repeated inputs.
    net = set_weights(seed_network("tanh-tanh"), [3.0, 3.0], [0.0, 0.0])
    layer_calls: list[tuple[int, tuple[int, ...]]] = []
    original_layer_clean = net.layer_clean

    def counting_layer_clean(index, previous):
        layer_calls.append((index, tuple(previous.shape)))
        return original_layer_clean(index, previous)

    entropy_batches: list[tuple[int, ...]] = []

    def counting_sp_entropy(samples, beta, **options):
        entropy_batches.append(tuple(samples.shape))
        return sp_entropy(samples, beta, **options)

    net.layer_clean = counting_layer_clean  # type: ignore[method-assign]
    monkeypatch.setattr(sp_estimates, "sp_entropy", counting_sp_entropy)
    measure_information(
        net, Gaussian(0.0, 0.25), n_samples=100, n_conditional=30, n_inputs=20, seed=0, bounds=False
    )
    assert sorted(layer_calls) == sorted([(0, (100, 1)), (1, (100, 1)), (0, (600, 1)), (1, (600, 1))])
    # h(T_1), h(T_2) on (1, 100, 1); E h(T_2|X) in one call on all 20 conditionals.
    assert sorted(entropy_batches) == sorted([(1, 100, 1), (1, 100, 1), (20, 30, 1)])


def test_conditional_pass_follows_the_network():
    # The batched conditional pass computes what the network does on repeated inputs: S_1(x)
    # (deterministic), then S_2 = tanh(w2 T_1 + b2) of its own T_1 draws, noise on top.
    net = set_weights(seed_network("leaky-tanh"), [2.0, 1.5], [0.3, -0.1])
    x = torch.tensor([[-1.0], [0.5]], dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    outputs = propagate(net, x.repeat_interleave(7, dim=0), generator)
    clean = [s.reshape(2, 7, 1) for s in outputs.clean]
    noisy = [t.reshape(2, 7, 1) for t in outputs.noisy]
    s1 = torch.nn.functional.leaky_relu(2.0 * x + 0.3, 0.1).unsqueeze(1).expand(2, 7, 1)
    assert torch.equal(clean[0], s1)
    assert torch.allclose(clean[1], torch.tanh(1.5 * noisy[0] - 0.1), rtol=0, atol=1e-15)
    assert not torch.equal(noisy[1], clean[1])
    # Stopped before the last layer's noise: S_2 only, and the generator has moved less.
    stopped = torch.Generator().manual_seed(0)
    partial = propagate(net, x.repeat_interleave(7, dim=0), stopped, n_layers=2, last_noise=False)
    assert torch.equal(partial.clean[1], outputs.clean[1]) and torch.equal(partial.noisy[1], partial.clean[1])
    assert not torch.equal(stopped.get_state(), generator.get_state())


def test_measurement_shapes_and_wrapper_agree():
    net = set_weights(seed_network("leaky-leaky"), [1.0, -1.0], [0.5, 0.0])
    inputs = DiscreteUniform(range(1, 9))
    measurement = measure_information(net, inputs, n_samples=64, n_conditional=16, seed=9)
    assert isinstance(measurement, InformationMeasurement)
    assert [tuple(s.shape) for s in measurement.clean_samples] == [(64, 1), (64, 1)]
    assert measurement.mi_label is None and measurement.mi_label_by_estimator is None
    # The wrapper returns the bare estimates (no bounds), the measurement's SP values.
    assert mutual_information(net, inputs, n_samples=64, n_conditional=16, seed=9) == (
        measurement.mi_input_by_estimator["sp"]
    )


# ----------------------------------------------------------------------------------------------
# I(T_l;Y)
# ----------------------------------------------------------------------------------------------


def test_label_information_of_far_apart_inputs_is_label_entropy():
    # Clusters >= 28 sd apart in both layers: the split-sample estimate is exactly the entropy of
    # the empirical label frequencies (chain rule of the empirical measure, Y a function of X).
    n = 2000
    net = linear_net([1.0, 1.0])
    labels = ThresholdLabels(2.0, -1.0, 1.0)
    measurement = measure_information(
        net, DiscreteUniform([-3, -1, 1, 3]), labels, n_samples=n, n_conditional=50, seed=6, bounds=False
    )
    share = float((measurement.clean_samples[0] > 2.0).double().mean())
    label_entropy = -share * math.log(share) - (1 - share) * math.log(1 - share)
    assert measurement.mi_label == pytest.approx([label_entropy, label_entropy], abs=QUADRATURE_ERROR)
    # And that is H(1/4, 3/4) up to the binomial error: sd = sqrt(p(1-p)/n) |log((1-p)/p)|.
    exact = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    sd = math.sqrt(0.25 * 0.75 / n) * math.log(3)
    assert abs(label_entropy - exact) <= SIGMAS * sd + 1 / n


def test_label_information_gaussian_input_against_skew_normal():
    # T = X + Z, X ~ N(0, s^2), Y = sign X. T|Y=+ is skew-normal: q_+(t) = 2 N(t; 0, r^2) Phi(a t / r),
    # r^2 = s^2 + beta^2, a = s / beta; by symmetry I(T;Y) = h(T) - h(T|Y=+).
    # First-order fluctuation of the split estimate: (1/n) sum_i E_Z log(q_{y_i} / q)(s_i + beta Z),
    # with (q_+/q)(t) = 2 Phi(a t / r). Bias: h(T) in [-s^2/(n beta^2), 0], each class in [-c_+/n_y, 0].
    var, n = 0.25, 40_000
    s, r = math.sqrt(var), math.sqrt(var + BETA**2)
    a = s / BETA
    net = linear_net([1.0])
    measured = measure_information(
        net, Gaussian(0.0, var), ThresholdLabels(0.0, -1.0, 1.0), n_samples=n, seed=7
    ).mi_label[0]

    # The chi^2 integrand's Gaussian-like tail has scale ~ s^2 / beta = 5 here: integrate to |t| = 60,
    # in logs so nothing underflows.
    step = BETA / 10
    t = np.arange(-60.0, 60.0 + step, step)
    log_q_plus = math.log(2) - 0.5 * (t / r) ** 2 - math.log(r * math.sqrt(2 * math.pi)) + log_ndtr(a * t / r)
    h_plus = float(-(np.exp(log_q_plus) * log_q_plus).sum() * step)
    h_marginal = 0.5 * math.log(2 * math.pi * math.e * r**2)
    exact = h_marginal - h_plus
    # chi^2 constant of the half-normal class: (P_+ * phi_{beta/sqrt2}) is skew-normal too.
    r_half = math.sqrt(var + BETA**2 / 2)
    log_q_half = (
        math.log(2)
        - 0.5 * (t / r_half) ** 2
        - math.log(r_half * math.sqrt(2 * math.pi))
        + log_ndtr(s * t / (BETA / math.sqrt(2) * r_half))
    )
    c_plus = float(np.exp(log_q_half - log_q_plus).sum() * step / (2 * BETA * math.sqrt(math.pi)) - 1)
    # Var of E_Z log 2 Phi(a (x + beta Z) / r) over x ~ N(0, s^2) with y = sign x (sign-symmetric).
    x_nodes, x_weights = np.polynomial.hermite_e.hermegauss(200)
    z_nodes, z_weights = np.polynomial.hermite_e.hermegauss(60)
    x_nodes, x_weights = s * x_nodes, x_weights / x_weights.sum()
    z_weights = z_weights / z_weights.sum()
    sign = np.sign(x_nodes)[:, None]
    log_ratio = math.log(2) + log_ndtr(sign * a * (x_nodes[:, None] + BETA * z_nodes[None, :]) / r)
    g = log_ratio @ z_weights
    sd = math.sqrt((x_weights @ g**2 - (x_weights @ g) ** 2) / n)
    n_class_min = n / 2 - SIGMAS * math.sqrt(n) / 2
    assert exact - var / (n * BETA**2) - SIGMAS * sd <= measured <= exact + c_plus / n_class_min + SIGMAS * sd


# ----------------------------------------------------------------------------------------------
# Reproducibility
# ----------------------------------------------------------------------------------------------


def test_same_seed_same_numbers_other_seed_other_numbers():
    net = set_weights(seed_network("tanh-tanh"), [3.0, 3.0], [0.0, 0.0])
    options = dict(n_samples=200, n_conditional=50, n_inputs=20)
    first = measure_information(net, Gaussian(0.0, 0.25), ThresholdLabels(), seed=11, **options)
    again = measure_information(net, Gaussian(0.0, 0.25), ThresholdLabels(), seed=11, **options)
    other = measure_information(net, Gaussian(0.0, 0.25), ThresholdLabels(), seed=12, **options)
    assert first.mi_input == again.mi_input and first.mi_label == again.mi_label
    assert all(torch.equal(a, b) for a, b in zip(first.clean_samples, again.clean_samples))
    assert first.mi_input[0] != other.mi_input[0] and first.mi_input[1] != other.mi_input[1]
    generator = torch.Generator().manual_seed(11)
    from_generator = measure_information(net, Gaussian(0.0, 0.25), ThresholdLabels(), generator=generator, **options)
    assert from_generator.mi_input == first.mi_input


# ----------------------------------------------------------------------------------------------
# Pairwise-distance bounds and binning
# ----------------------------------------------------------------------------------------------


def pairwise_reference(points: np.ndarray, beta: float, divisor: float) -> float:
    """Kolchinsky-Tracey estimate written out directly: h(N) - mean_i log mean_j exp(-|s_i-s_j|^2/(divisor beta^2))."""
    n, dim = points.shape
    squared = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    log_means = logsumexp(-squared / (divisor * beta**2), axis=1) - math.log(n)
    return gaussian_entropy(dim, beta) - float(log_means.mean())


def random_point_sets() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)

    # Spreads from far below beta (one blurred point) to far above it (separated points); the widest
    # only in 1-D, where the quadrature grid stays small.
    def normal(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    sets = [normal(150, dim) * scale * BETA for scale in (0.1, 1.0, 4.0) for dim in (1, 2)]
    sets.append(normal(150, 1) * 30 * BETA)
    centres = torch.tensor([[0.0], [0.1], [1.0]], dtype=torch.float64)
    sets.append(centres[torch.randint(3, (150,), generator=generator)] + 0.3 * BETA * normal(150, 1))
    return sets


def test_pairwise_bounds_match_direct_formula():
    for points in random_point_sets():
        for distance, divisor in (("kl", 2.0), ("bhattacharyya", 8.0)):
            ours = float(pairwise_distance_entropy(points.unsqueeze(0), BETA, distance)[0])
            assert ours == pytest.approx(pairwise_reference(points.numpy(), BETA, divisor), abs=1e-10)


def test_pairwise_bounds_bracket_the_mixture_entropy():
    # Kolchinsky & Tracey (2017): H_Bhattacharyya <= h(mixture) <= H_KL; quadrature is exact to ~1e-10.
    for points in random_point_sets():
        exact = sp_entropy(points, BETA, method="quadrature")
        lower = float(pairwise_distance_entropy(points.unsqueeze(0), BETA, "bhattacharyya")[0])
        upper = float(pairwise_distance_entropy(points.unsqueeze(0), BETA, "kl")[0])
        assert lower <= exact + QUADRATURE_ERROR and exact <= upper + QUADRATURE_ERROR


def test_pairwise_bounds_exact_for_one_point_and_far_clusters():
    one_point = torch.full((1, 30, 2), 0.4, dtype=torch.float64)
    clusters = (
        torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
        .repeat_interleave(torch.tensor([10, 20, 30]))
        .reshape(1, 60, 1)
    )
    weights = np.array([10, 20, 30]) / 60
    for distance in ("kl", "bhattacharyya"):
        assert float(pairwise_distance_entropy(one_point, BETA, distance)[0]) == pytest.approx(
            gaussian_entropy(2, BETA), abs=1e-12
        )
        expected = gaussian_entropy(1, BETA) - float((weights * np.log(weights)).sum())
        assert float(pairwise_distance_entropy(clusters, BETA, distance)[0]) == pytest.approx(expected, abs=1e-12)


def test_all_estimators_give_log_k_for_far_apart_clusters():
    # Far-apart clusters: every mixture evaluator gives H(p_hat) + h(N), so all three MI
    # estimates equal the empirical input entropy, on the same samples.
    k, n = 4, 1000
    names = ("sp", "kl_upper", "bhattacharyya_lower")
    measurement = measure_information(
        linear_net([1.0]), DiscreteUniform(range(k)), n_samples=n, seed=8, estimator=names
    )
    empirical = plug_in_entropy(measurement.clean_samples[0])
    for name in names:
        assert measurement.mi_input_by_estimator[name][0] == pytest.approx(empirical, abs=QUADRATURE_ERROR)
    assert 0 <= math.log(k) - empirical <= multinomial_window(k, n)


def test_layer_one_bounds_bracket_sp_on_the_same_samples():
    # Layer 1's conditional is exact for all three, so kl_upper >= sp >= bhattacharyya_lower there.
    net = set_weights(seed_network("tanh-tanh"), [3.0, 2.0], [0.2, 0.0])
    names = ("sp", "kl_upper", "bhattacharyya_lower")
    measurement = measure_information(
        net, Gaussian(0.0, 0.25), n_samples=400, n_conditional=40, n_inputs=10, seed=1, estimator=names
    )
    values = measurement.mi_input_by_estimator
    assert (
        values["bhattacharyya_lower"][0]
        <= values["sp"][0] + QUADRATURE_ERROR
        <= values["kl_upper"][0] + 2 * QUADRATURE_ERROR
    )
    # Same samples whichever estimator is asked for first.
    for name in names:
        alone = measure_information(
            net, Gaussian(0.0, 0.25), n_samples=400, n_conditional=40, n_inputs=10, seed=1, estimator=name,
            bounds=False,
        )
        assert alone.mi_input == pytest.approx(values[name], abs=1e-12)


def test_binned_entropy_matches_numpy_counts():
    generator = torch.Generator().manual_seed(3)
    for dim in (1, 2):
        points = torch.randn(3, 400, dim, generator=generator, dtype=torch.float64) * 0.2
        ours = binned_entropy(points, 0.05)
        for index in range(3):
            assert float(ours[index]) == pytest.approx(plug_in_entropy(torch.floor(points[index] / 0.05)), abs=1e-12)


def test_binning_far_apart_clusters_give_log_k():
    # Inputs at bin centres 10 apart, bins of width 1: T_l stays inside its input's bin except with
    # probability ~1e-11 (7 sd in layer 2), so H(bin T|X) = 0 and H(bin T) = H(p_hat) exactly.
    k, n = 4, 1000
    net = linear_net([1.0, 1.0])
    inputs = DiscreteUniform([0.5 + 10 * i for i in range(k)])
    measurement = measure_information(
        net, inputs, n_samples=n, n_conditional=100, seed=10, estimator="binning", bin_size=1.0, bounds=False
    )
    empirical = plug_in_entropy(measurement.clean_samples[0])
    assert measurement.mi_input == pytest.approx([empirical, empirical], abs=1e-12)
    assert measurement.conditional_entropy == [0.0, 0.0]
    assert 0 <= math.log(k) - empirical <= multinomial_window(k, n)


# ----------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_samples": 2.5}, "n_samples"),
        ({"n_samples": True}, "n_samples"),
        ({"n_conditional": -3}, "n_conditional"),
        ({"n_conditional": "10"}, "n_conditional"),
        ({"n_inputs": 0}, "n_inputs"),
        ({"estimator": "ksg"}, "estimator"),
        ({"estimator": ()}, "estimator"),
        ({"labels": 3}, "labels"),
        ({"bin_size": 0.0}, "bin_size"),
        ({"bin_size": float("nan")}, "bin_size"),
        ({"seed": -1}, "seed"),
        ({"generator": 5}, "generator"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(options, name):
    with pytest.raises(ValueError, match=name):
        measure_information(seed_network("tanh"), Gaussian(0.0, 0.25), **options)


def test_unknown_estimator_lists_the_allowed_ones():
    with pytest.raises(ValueError) as error:
        mutual_information(seed_network("tanh"), Gaussian(0.0, 0.25), estimator="ksg")
    assert all(name in str(error.value) for name in ESTIMATORS)


def test_bad_network_inputs_and_labels_raise():
    with pytest.raises(ValueError, match="net"):
        measure_information(object(), Gaussian(0.0, 0.25))
    with pytest.raises(ValueError, match="inputs"):
        measure_information(seed_network("tanh"), [0.0, 1.0])
    with pytest.raises(ValueError, match="labels"):
        measure_information(seed_network("tanh"), Gaussian(0.0, 0.25), lambda x: x[:3], n_samples=10)
