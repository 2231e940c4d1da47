"""SP on users' own models and multi-D data, against closed forms and exact mixtures.

Tolerances come from SP's known error (see ``measure_information``'s notes): with n samples,
h(P_hat * phi) is biased low by at most c/n nats, c = E chi^2 excess; for S ~ N(0, A) in d dims
c = prod_i (1 + a_i / beta^2) - 1 (a_i the eigenvalues of A), and for k equiprobable atoms
c <= k - 1. Its sampling s.d. is at most about sqrt(d / (2 n)) (the s.d. of -log p(T) over a
Gaussian, divided by sqrt n). A check passes within bias bound + 4 s.d.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from infoflow import (
    DiscreteUniform,
    FiniteDataset,
    Gaussian,
    GaussianNoise,
    NoisyMLP,
    measure_information,
    mutual_information,
    sp_entropy,
    true_mutual_information,
)
from infoflow.entropy import gaussian_entropy

BETA = 0.1


def linear_gaussian_information(weights: list[np.ndarray], covariance: np.ndarray, beta: float) -> list[float]:
    """Independent reference: I(X;T_l) = 1/2 log det Cov(T_l) - 1/2 log det Cov(T_l | X), by slogdet."""
    information = []
    cov_t = covariance
    cov_t_given_x = np.zeros_like(covariance)
    for weight in weights:
        eye = np.eye(weight.shape[0])
        cov_t = weight @ cov_t @ weight.T + beta**2 * eye
        cov_t_given_x = weight @ cov_t_given_x @ weight.T + beta**2 * eye
        information.append(0.5 * (np.linalg.slogdet(cov_t)[1] - np.linalg.slogdet(cov_t_given_x)[1]))
    return information


def sp_tolerance(eigenvalues: np.ndarray, beta: float, n: int) -> float:
    """Bias bound c/n plus 4 sampling s.d. for a Gaussian S with covariance eigenvalues ``eigenvalues``."""
    c = float(np.prod(1.0 + eigenvalues / beta**2) - 1.0)
    return c / n + 4.0 * math.sqrt(len(eigenvalues) / (2.0 * n))


COVARIANCE = np.array([[1.0, 0.3, 0.0], [0.3, 0.5, 0.1], [0.0, 0.1, 0.8]])
W1 = np.array([[0.15, -0.05, 0.1], [0.02, 0.2, -0.1]])
W2 = np.array([[1.2, 0.4], [-0.3, 0.9]])


def users_sequential() -> nn.Sequential:
    model = nn.Sequential(nn.Linear(3, 2), GaussianNoise(BETA), nn.Linear(2, 2), GaussianNoise(BETA)).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(W1))
        model[0].bias.fill_(0.3)
        model[2].weight.copy_(torch.from_numpy(W2))
        model[2].bias.fill_(-0.2)
    return model


def test_users_sequential_on_a_3d_gaussian_matches_the_closed_form():
    n = 3000
    inputs = Gaussian([0.5, -1.0, 0.0], COVARIANCE)
    measurement = measure_information(users_sequential(), inputs, n_samples=n, n_conditional=n, n_inputs=20, seed=0)
    exact = linear_gaussian_information([W1, W2], COVARIANCE, BETA)
    # Layer 1: h(T_1) from n samples of S_1 ~ N(., W1 Sigma W1^T); h(T_1|X) is closed-form.
    a1 = np.linalg.eigvalsh(W1 @ COVARIANCE @ W1.T)
    # Plus 4 s.e. of the Monte-Carlo integration, where the engine chose it over quadrature.
    assert abs(measurement.mi_input[0] - exact[0]) < sp_tolerance(a1, BETA, n) + 4 * measurement.mi_input_std_error[0]
    # Layer 2: the same for h(T_2) (S_2 ~ N(., W2 (W1 Sigma W1^T + beta^2 I) W2^T)), plus each
    # conditional's own bias (S_2 | x ~ N(., beta^2 W2 W2^T)), which raises I.
    a2 = np.linalg.eigvalsh(W2 @ (W1 @ COVARIANCE @ W1.T + BETA**2 * np.eye(2)) @ W2.T)
    a2_given_x = np.linalg.eigvalsh(BETA**2 * W2 @ W2.T)
    tolerance = sp_tolerance(a2, BETA, n) + sp_tolerance(a2_given_x, BETA, n)
    assert abs(measurement.mi_input[1] - exact[1]) < tolerance + 4 * measurement.mi_input_std_error[1]
    assert exact[1] < exact[0]  # data processing, so the check is not vacuous


def test_true_information_of_a_linear_noisy_mlp_on_a_3d_gaussian():
    net = NoisyMLP([3, 2, 2], "linear", BETA)
    with torch.no_grad():
        net.linears[0].weight.copy_(torch.from_numpy(W1))
        net.linears[1].weight.copy_(torch.from_numpy(W2))
    exact = linear_gaussian_information([W1, W2], COVARIANCE, BETA)
    assert true_mutual_information(net, Gaussian(np.zeros(3), COVARIANCE)) == pytest.approx(exact, abs=1e-12)


SUPPORT = np.array(
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.5, -1.0, 2.0], [-1.0, 0.5, 0.0]]
)


class UsersModule(nn.Module):
    """A user's own module: tanh features, noise, a linear read-out, noise."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(4)
        self.features = nn.Linear(3, 2).double()
        self.readout = nn.Linear(2, 3).double()
        with torch.no_grad():
            self.features.weight.copy_(torch.randn(2, 3, generator=generator, dtype=torch.float64))
            self.readout.weight.copy_(torch.randn(3, 2, generator=generator, dtype=torch.float64))
            # Biases too: nn.Linear draws them from the global generator (the test's numbers must not).
            self.features.bias.copy_(0.1 * torch.randn(2, generator=generator, dtype=torch.float64))
            self.readout.bias.copy_(0.1 * torch.randn(3, generator=generator, dtype=torch.float64))
        self.noise1 = GaussianNoise(BETA)
        self.noise2 = GaussianNoise(BETA)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.noise2(self.readout(self.noise1(torch.tanh(self.features(x)))))


def test_users_module_on_discrete_3d_input_matches_the_exact_mixture_at_layer_1():
    features = UsersModule().features
    model = nn.Sequential(features, nn.Tanh(), GaussianNoise(BETA))
    n = 20_000
    measurement = measure_information(model, DiscreteUniform(SUPPORT), n_samples=n, seed=1)
    with torch.no_grad():
        centres = torch.tanh(features(torch.from_numpy(SUPPORT)))
    # The exact I(X;T_1): the 6-component mixture's entropy (deterministic quadrature) minus h(Z).
    exact = float(sp_entropy(centres, BETA, method="quadrature")) - gaussian_entropy(2, BETA)
    k = len(SUPPORT)
    # P_hat puts multinomial weights p_hat_i on the k atoms. Bias: at most c/n with c <= k - 1.
    # Fluctuation: to first order sum_i (p_hat_i - 1/k) g_i with g_i = H(phi_i, P * phi) in
    # [h(phi), h(phi) + log k], so its s.d. is at most log(k) / (2 sqrt(n)).
    tolerance = (k - 1) / n + 4 * math.log(k) / (2 * math.sqrt(n))
    assert abs(measurement.mi_input[0] - exact) < tolerance
    assert math.log(k) - exact > 3 * tolerance  # the clusters overlap: not the trivial log k case
    assert measurement.conditioning_is_exact and measurement.n_conditioning_inputs == k


def test_finite_dataset_of_the_same_rows_gives_the_same_numbers_and_label_information():
    model = UsersModule()
    labels = np.array([0, 1, 1, 0, 2, 2])
    by_support = measure_information(model, DiscreteUniform(SUPPORT), n_samples=500, n_conditional=50, seed=2)
    by_dataset = measure_information(model, FiniteDataset(SUPPORT, labels), n_samples=500, n_conditional=50, seed=2)
    # Layer 1 comes before any label entropy draws from the shared generator: the same number.
    # Layer 2 (3-D, Monte Carlo) follows the label entropies, so it agrees within the errors.
    # (The SP values; the reported ones are placed inside bounds drawn after them.)
    sp_dataset, sp_support = by_dataset.mi_input_by_estimator["sp"], by_support.mi_input_by_estimator["sp"]
    assert sp_dataset[0] == sp_support[0]
    combined = math.hypot(by_dataset.mi_input_std_error[1], by_support.mi_input_std_error[1])
    assert abs(sp_dataset[1] - sp_support[1]) < 4 * combined
    assert by_support.mi_label is None and by_dataset.mi_label is not None
    # 0 <= I(T;Y) <= H(Y_hat) <= log 3 by construction (see the estimator's notes).
    assert all(-1e-9 <= value <= math.log(3) + 1e-9 for value in by_dataset.mi_label)


def test_a_support_larger_than_n_inputs_is_subsampled_with_a_standard_error():
    model = UsersModule()
    rows = np.random.default_rng(0).normal(size=(120, 3))
    dataset = FiniteDataset(rows)
    full = measure_information(model, dataset, n_samples=400, n_conditional=100, n_inputs=120, seed=3)
    sampled = measure_information(model, dataset, n_samples=400, n_conditional=100, n_inputs=30, seed=3)
    assert full.conditioning_is_exact and not sampled.conditioning_is_exact
    assert full.mi_input_std_error[1] < sampled.mi_input_std_error[1]
    # Same unconditional draws (drawn first); the estimates differ by the subsample's and the
    # Monte-Carlo integration's errors only.
    for layer in range(2):
        combined = math.hypot(sampled.mi_input_std_error[layer], full.mi_input_std_error[layer])
        assert abs(sampled.mi_input[layer] - full.mi_input[layer]) < 4 * combined + 1e-12


def test_models_and_inputs_that_do_not_fit_are_clear_errors():
    with pytest.raises(ValueError, match="no infoflow.GaussianNoise"):
        mutual_information(nn.Sequential(nn.Linear(3, 1)).double(), DiscreteUniform(SUPPORT))
    with pytest.raises(ValueError, match="cannot take inputs"):
        mutual_information(UsersModule(), Gaussian([0.0, 0.0], np.eye(2)))
    with pytest.raises(ValueError, match="dimension 2 but the network takes inputs of dimension 3"):
        mutual_information(NoisyMLP([3, 1], "tanh", BETA), Gaussian([0.0, 0.0], np.eye(2)))
    with pytest.raises(ValueError, match="wrap an array as infoflow.FiniteDataset"):
        mutual_information(UsersModule(), SUPPORT)


def test_measurement_prints_briefly():
    measurement = measure_information(UsersModule(), DiscreteUniform(SUPPORT), n_samples=1000, n_conditional=10)
    text = repr(measurement)
    assert len(text) < 400 and "mi_input=[" in text and "tensor" not in text
