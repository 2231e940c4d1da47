"""Which network / input pairs have an exact I(X;T_l): the check, and the error for the others."""

from __future__ import annotations

import torch

from infoflow.data.distributions import GaussianMixture, InputDistribution, Uniform
from infoflow.estimators.truth.layers import SHAPES
from infoflow.models.mlp import NoisyMLP


class UnsupportedForTruth(ValueError):
    """The network / input pair is outside the cases where exact mutual information is computed."""


SUPPORTED_CASES = (
    "exact MI is computed for (a) scalar networks (input and every layer 1 unit wide, any depth, "
    "activations tanh/sigmoid/leaky_relu/relu/linear) on DiscreteUniform (or any finite-support), "
    "Gaussian/GaussianMixture or scalar Uniform inputs, and (b) all-linear networks of any width on Gaussian input"
)



def is_gaussian(inputs: InputDistribution) -> bool:
    """True for a mixture with exactly one component of positive weight (a Gaussian)."""
    return isinstance(inputs, GaussianMixture) and sum(p > 0 for p in inputs.weights) == 1


def check_supported(net: NoisyMLP, inputs: InputDistribution) -> str:
    """Return "linear" or "scalar" (the path that computes the truth), else raise UnsupportedForTruth."""
    if not isinstance(net, NoisyMLP):
        raise UnsupportedForTruth(f"net must be an infoflow NoisyMLP; got {type(net).__name__}. {SUPPORTED_CASES}")
    if any(noise.beta != net.beta for noise in net.noises):
        raise UnsupportedForTruth("every noise layer of the network must have the network's beta")
    if not isinstance(inputs, InputDistribution):
        raise UnsupportedForTruth(
            f"inputs must be an infoflow input distribution; got {type(inputs).__name__}. {SUPPORTED_CASES}"
        )
    input_dim = getattr(inputs, "dim", 1)
    if net.widths[0] != input_dim:
        raise UnsupportedForTruth(
            f"the network takes {net.widths[0]}-dimensional input but the inputs are {input_dim}-dimensional"
        )
    if not all(bool(torch.isfinite(parameter).all()) for parameter in net.parameters()):
        raise UnsupportedForTruth("the network's weights or biases are not all finite (did training diverge?)")
    unknown = sorted(set(net.activations) - set(SHAPES))
    if unknown:
        raise UnsupportedForTruth(f"activation(s) {unknown} not supported for exact MI. {SUPPORTED_CASES}")
    all_linear = all(name == "linear" for name in net.activations)
    if all_linear and is_gaussian(inputs):
        return "linear"
    if any(width != 1 for width in net.widths):
        reason = (
            "a linear network of width > 1 needs Gaussian input"
            if all_linear
            else f"a nonlinear network must be 1 unit wide everywhere (widths {net.widths})"
        )
        raise UnsupportedForTruth(f"{reason}. {SUPPORTED_CASES}")
    if not (inputs.is_discrete or isinstance(inputs, (GaussianMixture, Uniform))):
        raise UnsupportedForTruth(f"input distribution {type(inputs).__name__} not supported. {SUPPORTED_CASES}")
    return "scalar"
