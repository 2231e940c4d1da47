"""Exact I(X;T_l) of an all-linear network on Gaussian input, in closed form (case (b))."""

from __future__ import annotations

import torch


def linear_gaussian_information(
    weights: list[torch.Tensor], input_covariance: torch.Tensor, beta: float
) -> list[float]:
    """Return I(X;T_l) in nats for T_l = W_l T_{l-1} + b_l + Z_l, X ~ N(m, input_covariance).

    With A_l = W_l ... W_1 and C_l = Cov(T_l|X) = W_l C_{l-1} W_l^T + beta^2 I (C_1 = beta^2 I),
    I(X;T_l) = (1/2) log det(I + Sigma^{1/2} A_l^T C_l^{-1} A_l Sigma^{1/2}), evaluated through a
    Cholesky factor of C_l (C_l >= beta^2 I, so the factorisation cannot fail) and of Sigma.

    Parameters
    ----------
    weights : list of Tensor, each of shape (d_l, d_{l-1}), float64
    input_covariance : Tensor of shape (d_0, d_0), positive definite
    beta : float
    """
    input_factor = torch.linalg.cholesky(input_covariance)
    information = []
    gain = None  # A_l Sigma^{1/2}, shape (d_l, d_0)
    noise_covariance = None  # C_l, shape (d_l, d_l)
    for weight in weights:
        identity = torch.eye(weight.shape[0], dtype=torch.float64)
        if gain is None:
            gain = weight @ input_factor
            noise_covariance = beta**2 * identity
        else:
            gain = weight @ gain
            noise_covariance = weight @ noise_covariance @ weight.T + beta**2 * identity
        noise_factor = torch.linalg.cholesky(noise_covariance)
        whitened = torch.linalg.solve_triangular(noise_factor, gain, upper=False)
        signal = torch.eye(gain.shape[1], dtype=torch.float64) + whitened.T @ whitened
        information.append(0.5 * float(torch.linalg.slogdet(signal).logabsdet))
    return information
