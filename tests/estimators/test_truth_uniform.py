"""Exact I(X;T_l) for a continuous uniform X, against independent high-precision references.

The references never use truth.py's machinery: the density of T is written in closed form where
the layer map is piecewise linear (a uniform X through a LeakyReLU is piecewise uniform, so after
Gaussian noise its density is a sum of normal-CDF differences), or computed by scipy's adaptive
Gauss-Kronrod quadrature (``scipy.integrate.quad``) where it is not; the entropy -integral p log p is
then one more ``quad``. Whenever T_l given X is exactly Gaussian (layer 1, or a linear layer after
it), I(X;T_l) = h(T_l) - h(noise) in closed form.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scalar_nets import scalar_net
from scipy import integrate, special

from infoflow.data.distributions import Uniform
from infoflow.estimators.truth import UnsupportedForTruth, true_mutual_information, truth_is_computable
from infoflow.models.mlp import NoisyMLP

BETA = 0.05
# truth.py promises 1e-4 nats and is designed to ~1e-7; the scipy references below are converged to
# ~1e-10 (epsabs 1e-12 per integral over a range of a few units), so 1e-6 leaves a wide margin for
# the references and still tests the design accuracy, 100 times tighter than the promise.
TOLERANCE = 1e-6


def gaussian_entropy(sd: float) -> float:
    return 0.5 * math.log(2 * math.pi * math.e * sd**2)


def entropy_by_quad(density, lo: float, hi: float, points: list[float]) -> float:
    """-integral p log p over [lo, hi] (p negligible outside), by scipy quad with break points."""

    def integrand(t: float) -> float:
        p = density(t)
        return -p * math.log(p) if p > 0 else 0.0

    inner = sorted(p for p in points if lo < p < hi)
    value, _ = integrate.quad(integrand, lo, hi, points=inner or None, limit=1000, epsabs=1e-12, epsrel=1e-12)
    return value


def leaky_pieces(weight: float, bias: float, low: float, high: float) -> list[tuple[float, float, float]]:
    """S = leaky(w X + b) with X ~ U(low, high) is piecewise uniform: (s_lo, s_hi, density) per piece."""
    z_lo, z_hi = sorted((weight * low + bias, weight * high + bias))
    pieces = []
    for slope, a, b in ((0.1, z_lo, min(z_hi, 0.0)), (1.0, max(z_lo, 0.0), z_hi)):
        if b > a:
            # dz/dx = |w|, ds/dz = slope: density of S is 1 / ((high - low) |w| slope) on its image.
            pieces.append((slope * a, slope * b, 1.0 / ((high - low) * abs(weight) * slope)))
    return pieces


def piecewise_uniform_plus_gaussian_entropy(pieces: list[tuple[float, float, float]], sd: float) -> float:
    """h(S + N(0, sd^2)) for piecewise-uniform S: p(t) = sum c [Phi((t-a)/sd) - Phi((t-b)/sd)]."""

    def density(t: float) -> float:
        # ndtr differences lose relative precision far in the tails; there p log p is ~1e-30 anyway.
        return sum(c * (special.ndtr((t - a) / sd) - special.ndtr((t - b) / sd)) for a, b, c in pieces)

    ends = [end for a, b, _ in pieces for end in (a, b)]
    return entropy_by_quad(density, min(ends) - 12 * sd, max(ends) + 12 * sd, ends)


@pytest.mark.parametrize(
    ("weight", "bias", "low", "high"),
    [
        (3.0, 0.5, -1.0, 1.0),  # kink inside the interval
        (-2.0, 0.0, -1.0, 1.0),  # negative weight, kink at x = 0
        (1.0, 0.5, -0.5, 1.0),  # kink exactly at the interval's lower end
        (0.4, -1.0, 0.5, 2.0),  # wholly on the shallow side, off-centre interval
    ],
)
def test_one_leaky_layer_matches_the_closed_form_density(weight, bias, low, high):
    net = scalar_net(["leaky_relu"], [(weight, bias)])
    expected = piecewise_uniform_plus_gaussian_entropy(leaky_pieces(weight, bias, low, high), BETA) - gaussian_entropy(
        BETA
    )
    got = true_mutual_information(net, Uniform(low, high))[0]
    assert got == pytest.approx(expected, abs=TOLERANCE)


def test_leaky_then_linear_layer_matches_the_closed_form_density():
    # T_2 = w2 (S_1 + Z_1) + b2 + Z_2 = w2 S_1 + b2 + N(0, (w2^2 + 1) beta^2): given X it is Gaussian,
    # so I(X;T_2) = h(T_2) - h(N(0, (w2^2 + 1) beta^2)), with T_2's density again in closed form.
    (w1, b1), (w2, b2) = (2.5, 0.3), (-1.5, 0.2)
    net = scalar_net(["leaky_relu", "linear"], [(w1, b1), (w2, b2)])
    sd = BETA * math.sqrt(w2**2 + 1)
    pieces = [tuple(sorted((w2 * a + b2, w2 * b + b2))) + (c / abs(w2),) for a, b, c in leaky_pieces(w1, b1, -1, 1)]
    expected_2 = piecewise_uniform_plus_gaussian_entropy(pieces, sd) - gaussian_entropy(sd)
    expected_1 = piecewise_uniform_plus_gaussian_entropy(leaky_pieces(w1, b1, -1, 1), BETA) - gaussian_entropy(BETA)
    got = true_mutual_information(net, Uniform(-1.0, 1.0))
    assert got == pytest.approx([expected_1, expected_2], abs=TOLERANCE)


def tanh_output_entropy(weight: float, bias: float, low: float, high: float, scale: float, sd: float) -> float:
    """h(scale * tanh(w X + b) + N(0, sd^2)), X ~ U(low, high), by nested scipy quadrature.

    S = scale * tanh(w X + b) has density g(s) = 1 / ((high - low) |w| scale (1 - (s/scale)^2)) on its
    image (smooth there), and p(t) = integral g(s) phi_sd(t - s) ds, with t itself a break point.
    """
    s_lo, s_hi = sorted(scale * math.tanh(weight * x + bias) for x in (low, high))

    def g(s: float) -> float:
        return 1.0 / ((high - low) * abs(weight) * scale * (1.0 - (s / scale) ** 2))

    def density(t: float) -> float:
        a, b = max(s_lo, t - 12 * sd), min(s_hi, t + 12 * sd)
        if a >= b:
            return 0.0
        inner = [t] if a < t < b else None

        def integrand(s: float) -> float:
            return g(s) * math.exp(-0.5 * ((t - s) / sd) ** 2) / (math.sqrt(2 * math.pi) * sd)

        return integrate.quad(integrand, a, b, points=inner, limit=200, epsabs=1e-13, epsrel=1e-12)[0]

    return entropy_by_quad(density, s_lo - 12 * sd, s_hi + 12 * sd, [s_lo, s_hi])


@pytest.mark.parametrize(
    ("weight", "bias", "low", "high"),
    [
        (2.0, 0.3, -1.0, 1.0),  # the seed's tanh unit after some training
        (8.0, -1.0, -1.0, 1.0),  # steep and saturated on one side
        (-0.7, 0.0, 0.0, 3.0),  # negative weight, off-centre interval
    ],
)
def test_one_tanh_layer_matches_nested_scipy_quadrature(weight, bias, low, high):
    net = scalar_net(["tanh"], [(weight, bias)])
    expected = tanh_output_entropy(weight, bias, low, high, 1.0, BETA) - gaussian_entropy(BETA)
    got = true_mutual_information(net, Uniform(low, high))[0]
    assert got == pytest.approx(expected, abs=TOLERANCE)


def test_tanh_then_linear_layer_matches_nested_scipy_quadrature():
    # T_2 = w2 tanh(w1 X + b1) + b2 + N(0, (w2^2 + 1) beta^2): Gaussian given X (b2 only shifts T_2).
    (w1, b1), (w2, b2) = (3.0, -0.2), (0.8, 0.1)
    net = scalar_net(["tanh", "linear"], [(w1, b1), (w2, b2)])
    sd = BETA * math.sqrt(w2**2 + 1)
    expected = tanh_output_entropy(w1, b1, -1.0, 1.0, w2, sd) - gaussian_entropy(sd)
    got = true_mutual_information(net, Uniform(-1.0, 1.0))[1]
    assert got == pytest.approx(expected, abs=TOLERANCE)


def test_a_wide_flat_tanh_layer_tends_to_the_linear_gaussian_limit():
    # |w| tiny: T = w X + b + Z to first order, so I ~ Var(wX) / (2 beta^2) = w^2 (high-low)^2 / (24 beta^2).
    weight = 1e-3
    got = true_mutual_information(scalar_net(["tanh"], [(weight, 0.0)]), Uniform(-1.0, 1.0))[0]
    expected = weight**2 * 4 / (24 * BETA**2)
    # Next order: the non-Gaussianity of wX, relative size (w / beta)^2 ~ 4e-4.
    assert got == pytest.approx(expected, rel=2e-3)


@pytest.mark.parametrize(
    ("activations", "parameters"),
    [
        (["tanh", "tanh"], [(20.0, 0.0), (5.0, 0.0)]),  # network 3, saturated
        (["leaky_relu", "tanh"], [(3.0, 0.5), (2.0, -0.5)]),  # network 4, kink inside the interval
        (["leaky_relu", "tanh"], [(12.0, -2.0), (-4.0, 1.0)]),  # network 4, wide T_1 range
    ],
)
def test_two_layer_chains_are_converged_when_every_step_is_halved(activations, parameters):
    net = scalar_net(activations, parameters)
    inputs = Uniform(-1.0, 1.0)
    coarse = true_mutual_information(net, inputs)
    fine = true_mutual_information(net, inputs, resolution=2.0)
    assert coarse == pytest.approx(fine, abs=TOLERANCE)
    assert truth_is_computable(net, inputs)


def test_uniform_input_is_computable_for_scalar_chains_only():
    assert truth_is_computable(scalar_net(["leaky_relu", "tanh"], [(0.0, 0.0), (0.0, 0.0)]), Uniform(-1.0, 1.0))
    with pytest.raises(UnsupportedForTruth, match="1 unit wide"):
        true_mutual_information(NoisyMLP([2, 1], "tanh", BETA), Uniform([-1.0, -1.0], [1.0, 1.0]))
    assert not truth_is_computable(NoisyMLP([1, 2, 1], "tanh", BETA), Uniform(-1.0, 1.0))
    # A zero first weight: T_1 does not depend on X.
    assert true_mutual_information(scalar_net(["tanh"], [(0.0, 0.7)]), Uniform(-1.0, 1.0)) == [0.0]


def test_uniform_rule_integrates_the_input_density_exactly():
    # E f(X) for a polynomial f of low degree is exact on Gauss-Legendre panels: check E[S_1] for a
    # linear first layer, where T_1 = w X + b + Z has I = h(U(b-w, b+w) * N(0, beta^2)) - h(Z).
    weight, bias = 1.7, -0.3
    net = scalar_net(["linear"], [(weight, bias)])
    pieces = [(bias - weight, bias + weight, 1.0 / (2 * weight))]
    expected = piecewise_uniform_plus_gaussian_entropy(pieces, BETA) - gaussian_entropy(BETA)
    assert true_mutual_information(net, Uniform(-1.0, 1.0))[0] == pytest.approx(expected, abs=TOLERANCE)
    # Far wider than beta: I -> log(2w / beta) - 1/2 log(2 pi e) (the uniform's entropy minus the noise's).
    assert expected == pytest.approx(math.log(2 * weight) - gaussian_entropy(BETA), abs=2 * BETA / (2 * weight))


def test_quadrature_is_cheap_enough_to_run_every_epoch():
    # Not a timing test: the node counts stay small (bounded work) for the seed's weight ranges.
    net = scalar_net(["leaky_relu", "tanh"], [(12.0, -2.0), (-4.0, 1.0)])
    values = true_mutual_information(net, Uniform(-1.0, 1.0))
    assert all(np.isfinite(values)) and values[1] <= values[0] + TOLERANCE  # data processing inequality
