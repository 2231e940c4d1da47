"""Exact I(X;T_l) in nats where it is computable: ground truth for the estimators.

Two cases are computable to high accuracy:

* **Scalar chains** (input and every layer one unit wide, any depth, any activation): the
  density of T_l given X = x is propagated layer by layer by deterministic quadrature,

      p_1(t|x) = phi_beta(t - a_1(w_1 x + b_1)),
      p_l(t|x) = integral phi_beta(t - a_l(w_l u + b_l)) p_{l-1}(u|x) du,

  and I(X;T_l) = h(T_l) - E_X h(T_l|X), with h(T_1|X) = (1/2) log(2 pi e beta^2) exactly. X is
  discrete (an exact sum over its support), a Gaussian mixture, or uniform on an interval
  [low, high] (both integrated in x; the uniform density 1/(high - low) is constant inside its
  interval, whose ends are panel edges, so its jumps never fall inside a panel).
* **Linear networks on Gaussian input** (any widths): T_l = A_l X + c_l + N_l with Gaussian N_l,
  so I(X;T_l) = (1/2) log det(Cov T_l) - (1/2) log det(Cov(T_l|X)) in closed form.

Quadrature scheme (scalar chains). Every integral runs over composite Gauss-Legendre panels.
Panels never straddle the kink of a LeakyReLU/ReLU, so each panel's integrand is analytic and
the rule converges spectrally (a uniform trapezoid rule across a kink only converges as h^2).
Panel edges are equally spaced in a "resolution coordinate" xi(u) that grows by one unit per
length scale of the integrand: one per beta (or per standard deviation of an input component),
one per beta of change of the next layer's output a(w u + b) (so large weights get finer
panels exactly where the activation is steep, not everywhere), and one per e-fold of a
saturating activation's exponential approach to its asymptote. The table of conditional
densities p_l(t|x) (input nodes x layer nodes) is banded; it is carried from layer to layer by
blockwise matrix products, so the cost grows with the width of a layer's range, not its square.

Accuracy: halving every step changes the MI by < 1e-7 nats (measured over 150 random chains;
typically 1e-12); the limit is -p log p of densities with modes ~5 beta apart.
"""

from __future__ import annotations

import math

import torch

from infoflow.data.distributions import InputDistribution
from infoflow.estimators.truth.chain import plan_chain, scalar_chain_information
from infoflow.estimators.truth.layers import scalar_layers
from infoflow.estimators.truth.linear import linear_gaussian_information
from infoflow.estimators.truth.support import SUPPORTED_CASES, UnsupportedForTruth, check_supported
from infoflow.models.mlp import NoisyMLP

__all__ = [
    "SUPPORTED_CASES",
    "UnsupportedForTruth",
    "scalar_chain_information",
    "scalar_layers",
    "true_mutual_information",
    "truth_is_computable",
]


def true_mutual_information(net: NoisyMLP, inputs: InputDistribution, *, resolution: float = 1.0) -> list[float]:
    """Return the exact I(X;T_l) in nats for every layer l = 1..L (error <= 1e-4 nats).

    Parameters
    ----------
    net : NoisyMLP
        Scalar chain (widths all 1, any activations), or all-linear of any widths.
    inputs : DiscreteUniform, Gaussian, GaussianMixture or Uniform
        The input distribution; all-linear networks of width > 1 need a single Gaussian.
    resolution : float
        Quadrature refinement for scalar chains: 2.0 halves every integration step. The
        default is converged far below 1e-4 nats; it exists to check that.

    Returns
    -------
    list of float, length L
        I(X;T_l) in nats.

    Raises
    ------
    UnsupportedForTruth
        For any other network / input pair (the message says what is supported), or when the
        weights are so large relative to beta that the grid would be unworkably large.
    """
    if not (resolution > 0 and math.isfinite(resolution)):
        raise ValueError(f"resolution must be a positive finite number; got {resolution}")
    path = check_supported(net, inputs)
    with torch.no_grad():
        if path == "linear":
            weights = [linear.weight.detach().to("cpu", torch.float64) for linear in net.linears]
            component = next(i for i, p in enumerate(inputs.weights) if p > 0)
            covariance = inputs.covariances[component]
            return linear_gaussian_information(weights, covariance, net.beta)
        return scalar_chain_information(scalar_layers(net), inputs, net.beta, resolution)


def truth_is_computable(net: NoisyMLP, inputs: InputDistribution) -> bool:
    """Return True if :func:`true_mutual_information` supports this network and input."""
    try:
        path = check_supported(net, inputs)
        if path == "scalar":
            plan_chain(scalar_layers(net), inputs, net.beta, resolution=1.0)
    except UnsupportedForTruth:
        return False
    return True
