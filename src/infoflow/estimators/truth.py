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

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from infoflow.data.distributions import GaussianMixture, InputDistribution, Uniform
from infoflow.models.mlp import LEAKY_SLOPE, NoisyMLP

__all__ = ["UnsupportedForTruth", "true_mutual_information", "truth_is_computable"]

# Gauss-Legendre nodes per panel and the panel width in resolution units (at resolution 1):
# two nodes per length scale. Measured: halving PANEL_WIDTH changes the MI by < 1e-7 nats.
NODES_PER_PANEL = 12
PANEL_WIDTH = 6.0
# Layer rules also integrate -p log p, whose logarithm has branch points off the real axis
# (at distance pi beta^2 / d between two modes d apart), so they get this many units per beta.
# Measured worst case over two-mode mixtures: 1.3e-6 nats error at 1 unit per beta, 1.2e-7 at 2.
ENTROPY_UNITS_PER_BETA = 2.0
# Saturating activations: resolution units per e-fold of the approach to saturation (a 12-point
# rule integrates exp(-k x) over 6 e-folds to 3e-19 relative error), resolved while the
# deviation from saturation exceeds this fraction of beta.
SATURATION_UNITS_PER_EFOLD = 1.0
SATURATION_NEGLIGIBLE = 1e-8
# A uniform input's interval counts this many length scales (resolution units) besides the
# steepness of the first layer: with PANEL_WIDTH = 6, two panels even for a nearly flat map.
UNIFORM_LENGTH_SCALES = 12.0
# Half-width of every integration range, in standard deviations (of the noise or of an input
# component): the Gaussian mass beyond 8 sd is 1.2e-15.
TAIL_SDS = 8.0
# Bisection that places panel edges: rounds of steps, repeated (up to the float64 limit) only
# where a very steep activation needs it. Edges only need to be roughly right (any edges give a
# valid rule; kinks are always placed exactly), but a steep region must not fall between them.
EDGE_BISECTIONS_PER_ROUND = 12
MAX_EDGE_BISECTION_ROUNDS = 6
# A layer kernel is stored as a band when its band covers less than this fraction of a row.
BANDED_KERNEL_FRACTION = 0.3
# Input nodes are grouped into blocks whose first-layer outputs lie within this many beta.
BLOCK_SPAN_BETAS = 16.0
# Largest problem attempted: nodes per layer, conditional densities held per layer, and
# multiply-adds of the layer-to-layer products (~1 s).
MAX_NODES = 200_000
MAX_TABLE_ENTRIES = 20_000_000
MAX_MULTIPLY_ADDS = 5_000_000_000


class UnsupportedForTruth(ValueError):
    """The network / input pair is outside the cases where exact mutual information is computed."""


SUPPORTED_CASES = (
    "exact MI is computed for (a) scalar networks (input and every layer 1 unit wide, any depth, "
    "activations tanh/sigmoid/leaky_relu/relu/linear) on DiscreteUniform (or any finite-support), "
    "Gaussian/GaussianMixture or scalar Uniform inputs, and (b) all-linear networks of any width on Gaussian input"
)


# ----------------------------------------------------------------------------------------------
# Scalar activations, described by their shape so the planner knows kinks and steepness
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Saturating:
    """a(z) = offset + amplitude * tanh(rate * z): tanh and the logistic sigmoid."""

    offset: float
    amplitude: float
    rate: float

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.offset + self.amplitude * np.tanh(self.rate * z)

    def breakpoint(self) -> float:
        """Pre-activation where panels must end: the centre of the step."""
        return 0.0


@dataclass(frozen=True)
class _PiecewiseLinear:
    """a(z) = slope_below * z for z < 0, slope_above * z for z >= 0: linear, ReLU, LeakyReLU."""

    slope_below: float
    slope_above: float

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return np.where(z < 0, self.slope_below * z, self.slope_above * z)

    def breakpoint(self) -> float | None:
        """Pre-activation where panels must end: the kink, or None for a straight line."""
        return None if self.slope_below == self.slope_above else 0.0


_SHAPES: dict[str, _Saturating | _PiecewiseLinear] = {
    "tanh": _Saturating(0.0, 1.0, 1.0),
    "sigmoid": _Saturating(0.5, 0.5, 0.5),  # sigmoid(z) = 1/2 + tanh(z/2)/2
    "leaky_relu": _PiecewiseLinear(LEAKY_SLOPE, 1.0),
    "relu": _PiecewiseLinear(0.0, 1.0),
    "linear": _PiecewiseLinear(1.0, 1.0),
}


@dataclass(frozen=True)
class _ScalarLayer:
    """u -> a(w u + b) for one unit-wide layer."""

    weight: float
    bias: float
    shape: _Saturating | _PiecewiseLinear

    def __call__(self, u: np.ndarray) -> np.ndarray:
        return self.shape(self.weight * u + self.bias)

    def breakpoints(self) -> list[float]:
        """Inputs u where panels must end: the kink of a piecewise-linear map, the centre of a saturating one.

        A panel across a kink converges only algebraically. The centre of tanh(w u + b) is
        resolved by the steepness coordinate anyway; making it an edge keeps the rule right even
        when w is so large that the step is thinner than the bisection can resolve.
        """
        pre_activation = self.shape.breakpoint()
        if pre_activation is None or self.weight == 0:
            return []
        return [(pre_activation - self.bias) / self.weight]

    def steepness_coordinate(self, u: np.ndarray, beta: float) -> np.ndarray:
        """Return a non-decreasing function of u counting the length scales of phi_beta(t - a(wu+b)).

        Two terms. (1) |change of a(wu+b)| / beta: where the map is steep, phi_beta(t - a(wu+b))
        changes on the scale beta / |slope|. (2) For a saturating map a = c + A tanh(y),
        y = r (w u + b): near saturation a deviates from c +- A by 2A exp(-2|y|), a feature too thin
        for term (1) (it moves a by < beta) yet not a polynomial over a wide panel; it is resolved
        at SATURATION_UNITS_PER_EFOLD units per e-fold while the deviation exceeds
        SATURATION_NEGLIGIBLE * beta.
        """
        direction = math.copysign(1.0, self.weight)
        coordinate = direction * self(u) / beta
        if isinstance(self.shape, _Saturating) and self.weight != 0:
            amplitude = self.shape.amplitude
            y_cut = 0.5 * math.log(2 * amplitude / (SATURATION_NEGLIGIBLE * beta))
            if y_cut > 0:
                y = self.shape.rate * (self.weight * u + self.bias)
                efolds = 2.0 * np.clip(y, -y_cut, y_cut)
                coordinate = coordinate + direction * SATURATION_UNITS_PER_EFOLD * efolds
        return coordinate


def _scalar_layers(net: NoisyMLP) -> list[_ScalarLayer]:
    with torch.no_grad():
        return [
            _ScalarLayer(
                float(linear.weight.detach().to("cpu", torch.float64).reshape(())),
                float(linear.bias.detach().to("cpu", torch.float64).reshape(())) if linear.bias is not None else 0.0,
                _SHAPES[name],
            )
            for linear, name in zip(net.linears, net.activations)
        ]


# ----------------------------------------------------------------------------------------------
# Quadrature rules on adaptive Gauss-Legendre panels
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    """A quadrature rule: integral f(u) du ~ sum(weights * f(nodes)); both of shape (n,)."""

    nodes: np.ndarray
    weights: np.ndarray


def _panel_edges(
    lo: float, hi: float, coordinate: Callable[[np.ndarray], np.ndarray], panel_width: float
) -> np.ndarray:
    """Return edges lo = e_0 < ... < e_n = hi equally spaced in ``coordinate`` (n >= 1)."""
    xi_lo, xi_hi = coordinate(np.array([lo, hi]))
    panels_needed = (xi_hi - xi_lo) / panel_width
    if not panels_needed * NODES_PER_PANEL <= MAX_NODES:  # also catches inf and NaN
        raise UnsupportedForTruth(
            f"the integration grid would need {panels_needed * NODES_PER_PANEL:.3g} nodes (limit {MAX_NODES}): "
            "the weights are too large relative to the noise level beta for exact MI"
        )
    n_panels = max(1, math.ceil(panels_needed))
    targets = xi_lo + (xi_hi - xi_lo) * np.arange(1, n_panels) / n_panels
    below = np.full_like(targets, lo)
    above = np.full_like(targets, hi)
    # Vectorised bisection on the monotone coordinate, in rounds, until every edge is within
    # 1% of a panel of its target (at most the full float64 precision of the interval).
    for _ in range(MAX_EDGE_BISECTION_ROUNDS):
        for _ in range(EDGE_BISECTIONS_PER_ROUND):
            middle = 0.5 * (below + above)
            too_low = coordinate(middle) < targets
            below = np.where(too_low, middle, below)
            above = np.where(too_low, above, middle)
        if targets.size == 0 or np.max(coordinate(above) - coordinate(below)) <= 0.01 * panel_width:
            break
    return np.concatenate(([lo], 0.5 * (below + above), [hi]))


@functools.cache
def _gauss_legendre() -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the NODES_PER_PANEL-point Gauss-Legendre rule on [-1, 1]."""
    return np.polynomial.legendre.leggauss(NODES_PER_PANEL)


def _panel_rule(
    lo: float,
    hi: float,
    breakpoints: list[float],
    coordinate: Callable[[np.ndarray], np.ndarray],
    panel_width: float,
) -> _Rule:
    """Return a composite Gauss-Legendre rule on [lo, hi] with panel edges at every breakpoint."""
    cuts = [lo] + sorted(p for p in breakpoints if lo < p < hi) + [hi]
    pieces = [_panel_edges(a, b, coordinate, panel_width) for a, b in zip(cuts[:-1], cuts[1:])]
    edges = np.unique(np.concatenate(pieces))
    gl_nodes, gl_weights = _gauss_legendre()
    centres = 0.5 * (edges[1:] + edges[:-1])
    half_widths = 0.5 * (edges[1:] - edges[:-1])
    nodes = (centres[:, None] + half_widths[:, None] * gl_nodes).ravel()
    weights = (half_widths[:, None] * gl_weights).ravel()
    return _Rule(nodes, weights)


def _layer_rule(lo: float, hi: float, beta: float, next_layer: _ScalarLayer | None, panel_width: float) -> _Rule:
    """Return the rule for T_l on [lo, hi]: it resolves entropy integrands and the next layer's map."""
    if next_layer is None:
        return _panel_rule(lo, hi, [], lambda u: ENTROPY_UNITS_PER_BETA * u / beta, panel_width)
    return _panel_rule(
        lo,
        hi,
        next_layer.breakpoints(),
        lambda u: ENTROPY_UNITS_PER_BETA * u / beta + next_layer.steepness_coordinate(u, beta),
        panel_width,
    )


def _input_rule(inputs: InputDistribution, first: _ScalarLayer, beta: float, panel_width: float) -> _Rule:
    """Return nodes x_k and probability weights p_k with E f(X) ~ sum_k p_k f(x_k) for smooth f(a(w x + b))."""
    if inputs.is_discrete:
        values, probabilities = inputs.support()
        return _Rule(
            values.detach().to("cpu", torch.float64).reshape(-1).numpy(),
            probabilities.detach().to("cpu", torch.float64).reshape(-1).numpy(),
        )
    if isinstance(inputs, Uniform):
        # The density is 1/(high - low) on [low, high]: the interval's ends are the rule's ends, the
        # first layer's kink (or step centre) an inner edge. Resolution units: UNIFORM_LENGTH_SCALES
        # across the interval (so even a nearly flat map gets panels), plus the steepness of
        # a(w x + b) per beta, as for the other continuous inputs.
        low, high = float(inputs.low), float(inputs.high)  # type: ignore[arg-type]
        scale = (high - low) / UNIFORM_LENGTH_SCALES
        rule = _panel_rule(
            low, high, first.breakpoints(), lambda x: x / scale + first.steepness_coordinate(x, beta), panel_width
        )
        return _Rule(rule.nodes, rule.weights / (high - low))
    assert isinstance(inputs, GaussianMixture)
    node_blocks, weight_blocks = [], []
    # One rule per component, so each resolves its own standard deviation over its own range.
    for mean, variance, probability in zip(inputs.means, inputs.variances, inputs.weights):
        if probability == 0:
            continue
        sd = math.sqrt(variance)
        rule = _panel_rule(
            mean - TAIL_SDS * sd,
            mean + TAIL_SDS * sd,
            first.breakpoints(),
            lambda x, sd=sd: x / sd + first.steepness_coordinate(x, beta),
            panel_width,
        )
        density = np.exp(-0.5 * ((rule.nodes - mean) / sd) ** 2) / (math.sqrt(2 * math.pi) * sd)
        node_blocks.append(rule.nodes)
        weight_blocks.append(probability * density * rule.weights)
    return _Rule(np.concatenate(node_blocks), np.concatenate(weight_blocks))


# ----------------------------------------------------------------------------------------------
# Case (a): scalar chains by quadrature
# ----------------------------------------------------------------------------------------------


def _gaussian_kernel(difference: np.ndarray, beta: float) -> np.ndarray:
    """Return the N(0, beta^2) density at ``difference``, same shape (in-place steps on one temporary)."""
    values = np.square(difference)
    values *= -0.5 / beta**2
    np.exp(values, out=values)
    values *= 1.0 / (math.sqrt(2 * math.pi) * beta)
    return values


def _product(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Return left @ right (float64), computed by torch's CPU kernels.

    numpy's threaded OpenBLAS stalls on small products when the cores are shared with other
    work (measured on 2 busy cores: a 72x348 @ 348x228 product took 24 ms median instead of
    0.2 ms); torch's thread pool does not (0.11 ms).
    """
    return (torch.from_numpy(left) @ torch.from_numpy(right)).numpy()


def _entropy_on_rule(density: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Return -integral p log p in nats for densities of shape (..., n) on a rule of n weights."""
    safe_log = np.log(np.where(density > 0, density, 1.0))
    return -_product(density * safe_log, weights)


@dataclass(frozen=True)
class _LayerKernel:
    """kernel[i, j] = v_i phi_beta(t_j - a(w u_i + b)): carries p_{l-1}(.|x) to p_l(.|x).

    Row i (node u_i of the previous layer's rule, weight v_i) is non-negligible only for
    |t_j - a(w u_i + b)| <= 8 beta. Where that band is a small part of the row (wide layers),
    only the band is evaluated and stored, so the work per row does not grow with the range of
    the layer; otherwise the kernel is stored dense.

    Attributes
    ----------
    starts : ndarray of shape (n_u,) or None
        Column index of each row's first band entry; None when ``values`` is dense.
    values : ndarray of shape (n_u, band_width) or (n_u, n_t)
        The band (entries past a row's own band are 0), or the dense kernel.
    """

    starts: np.ndarray | None
    values: np.ndarray

    @classmethod
    def build(cls, previous_rule: _Rule, rule: _Rule, layer: _ScalarLayer, beta: float) -> _LayerKernel:
        outputs = layer(previous_rule.nodes)
        starts = np.searchsorted(rule.nodes, outputs - TAIL_SDS * beta, side="left")
        stops = np.searchsorted(rule.nodes, outputs + TAIL_SDS * beta, side="right")
        band_width = int(np.max(stops - starts))
        if BANDED_KERNEL_FRACTION * rule.nodes.size <= band_width:
            dense = _gaussian_kernel(rule.nodes[None, :] - outputs[:, None], beta)
            return cls(None, previous_rule.weights[:, None] * dense)
        columns = starts[:, None] + np.arange(band_width)
        nodes = rule.nodes[np.minimum(columns, rule.nodes.size - 1)]
        band = previous_rule.weights[:, None] * _gaussian_kernel(nodes - outputs[:, None], beta)
        return cls(starts, np.where(columns < stops[:, None], band, 0.0))

    def block(self, row_start: int, row_stop: int, column_start: int, column_stop: int) -> np.ndarray:
        """Return kernel[row_start:row_stop, column_start:column_stop] as a dense array."""
        if self.starts is None:
            return self.values[row_start:row_stop, column_start:column_stop]
        band = self.values[row_start:row_stop]
        columns = self.starts[row_start:row_stop, None] - column_start + np.arange(band.shape[1])
        keep = (columns >= 0) & (columns < column_stop - column_start) & (band != 0)
        rows = np.broadcast_to(np.arange(band.shape[0])[:, None], band.shape)
        dense = np.zeros((row_stop - row_start, column_stop - column_start))
        dense[rows[keep], columns[keep]] = band[keep]
        return dense


@dataclass(frozen=True)
class _ChainPlan:
    """Quadrature rules and the block structure for one scalar chain.

    The table of conditional densities p_l(t|x) is banded: given x, T_l lies in a short
    interval (T_1 within 8 beta of S_1(x), T_l within 8 beta of the image of T_{l-1}'s interval).
    Input nodes are sorted by S_1(x) and cut into blocks whose S_1 values lie within
    BLOCK_SPAN_BETAS * beta of each other; each block carries only the columns (layer nodes)
    of its own interval, so work grows with the length of the layer's range, not its square.

    Attributes
    ----------
    input_weights : ndarray of shape (n_x,)
        Probability weights of the input nodes, sorted by first-layer output.
    first_outputs : ndarray of shape (n_x,)
        S_1 at the input nodes, ascending.
    block_starts : ndarray of shape (n_blocks + 1,)
        Row boundaries: block b holds input nodes block_starts[b]:block_starts[b + 1].
    layer_rules : list of _Rule
        The rule for T_l, one per informative layer.
    columns : list of ndarray of shape (n_blocks, 2)
        Per layer, the node index range [first, stop) holding each block's conditionals.
    """

    input_weights: np.ndarray
    first_outputs: np.ndarray
    block_starts: np.ndarray
    layer_rules: list[_Rule]
    columns: list[np.ndarray]


def _informative_depth(layers: list[_ScalarLayer]) -> int:
    """Return the number of leading layers before the first zero weight.

    A zero weight makes T_l, and everything after it, independent of X: MI is exactly 0 there.
    """
    return next((index for index, layer in enumerate(layers) if layer.weight == 0), len(layers))


def _plan_chain(layers: list[_ScalarLayer], inputs: InputDistribution, beta: float, resolution: float) -> _ChainPlan:
    """Return the rules and blocks for a chain, raising UnsupportedForTruth if they would be unworkably large."""
    panel_width = PANEL_WIDTH / resolution
    depth = _informative_depth(layers)
    if depth == 0:
        return _ChainPlan(np.zeros(0), np.zeros(0), np.zeros(1, dtype=np.int64), [], [])
    input_rule = _input_rule(inputs, layers[0], beta, panel_width)
    first_outputs = layers[0](input_rule.nodes)
    order = np.argsort(first_outputs, kind="stable")
    first_outputs, input_weights = first_outputs[order], input_rule.weights[order]
    block_index = np.floor((first_outputs - first_outputs[0]) / (BLOCK_SPAN_BETAS * beta)).astype(np.int64)
    block_starts = np.concatenate(([0], np.flatnonzero(np.diff(block_index)) + 1, [first_outputs.size]))
    rows_per_block = np.diff(block_starts)
    block_lo, block_hi = first_outputs[block_starts[:-1]], first_outputs[block_starts[1:] - 1]
    layer_rules, columns = [], []
    multiply_adds = 0
    for index in range(depth):
        if index > 0:
            ends = np.stack([layers[index](block_lo), layers[index](block_hi)])
            block_lo, block_hi = ends.min(axis=0), ends.max(axis=0)
        # Given x, T_l = S_l + Z_l lies within 8 beta of its S_l interval up to 1e-15 probability.
        block_lo, block_hi = block_lo - TAIL_SDS * beta, block_hi + TAIL_SDS * beta
        next_layer = layers[index + 1] if index + 1 < depth else None
        rule = _layer_rule(float(block_lo.min()), float(block_hi.max()), beta, next_layer, panel_width)
        block_columns = np.stack(
            [np.searchsorted(rule.nodes, block_lo, side="left"), np.searchsorted(rule.nodes, block_hi, side="right")],
            axis=1,
        )
        widths = block_columns[:, 1] - block_columns[:, 0]
        table_entries = int(np.sum(rows_per_block * widths))
        if index > 0:
            previous_widths = columns[-1][:, 1] - columns[-1][:, 0]
            multiply_adds += int(np.sum(rows_per_block * previous_widths * widths))
        if table_entries > MAX_TABLE_ENTRIES or multiply_adds > MAX_MULTIPLY_ADDS:
            raise UnsupportedForTruth(
                f"layer {index + 1} would need {table_entries} conditional densities and {multiply_adds:.3g} "
                f"multiply-adds (limits {MAX_TABLE_ENTRIES}, {MAX_MULTIPLY_ADDS:.3g}): the weights are too large "
                "relative to the noise level beta for exact MI"
            )
        layer_rules.append(rule)
        columns.append(block_columns)
    return _ChainPlan(input_weights, first_outputs, block_starts, layer_rules, columns)


def _scalar_chain_information(
    layers: list[_ScalarLayer], inputs: InputDistribution, beta: float, resolution: float = 1.0
) -> list[float]:
    """Return I(X;T_l) in nats, l = 1..L, for a chain of unit-wide layers, by quadrature.

    ``resolution`` scales the number of panels (2.0 halves every integration step).
    """
    plan = _plan_chain(layers, inputs, beta, resolution)
    n_blocks = plan.block_starts.size - 1
    information = [0.0] * len(layers)
    # tables[b]: p_l(t|x) for block b's input nodes (rows) at its layer nodes (columns).
    tables: list[np.ndarray] = [np.zeros((0, 0))] * n_blocks
    for index, rule in enumerate(plan.layer_rules):
        marginal = np.zeros(rule.nodes.size)
        conditional_entropy = 0.0
        if index > 0:
            kernel = _LayerKernel.build(plan.layer_rules[index - 1], rule, layers[index], beta)
        # A loop over blocks of the banded table (about range / (16 beta) of them), not over points.
        for block in range(n_blocks):
            rows = slice(plan.block_starts[block], plan.block_starts[block + 1])
            first, stop = plan.columns[index][block]
            if index == 0:
                nodes = rule.nodes[first:stop]
                tables[block] = _gaussian_kernel(nodes[None, :] - plan.first_outputs[rows, None], beta)
            else:
                previous_first, previous_stop = plan.columns[index - 1][block]
                tables[block] = _product(tables[block], kernel.block(previous_first, previous_stop, first, stop))
                conditional_entropy += float(
                    plan.input_weights[rows] @ _entropy_on_rule(tables[block], rule.weights[first:stop])
                )
            marginal[first:stop] += _product(plan.input_weights[rows], tables[block])
        if index == 0:
            conditional_entropy = 0.5 * math.log(2 * math.pi * math.e * beta**2)
        marginal_entropy = float(_entropy_on_rule(marginal, rule.weights))
        # MI is >= 0; a negative value here is quadrature round-off around an exact 0.
        information[index] = max(0.0, marginal_entropy - conditional_entropy)
    return information


# ----------------------------------------------------------------------------------------------
# Case (b): linear networks on Gaussian input, closed form
# ----------------------------------------------------------------------------------------------


def _linear_gaussian_information(
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


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------


def _is_gaussian(inputs: InputDistribution) -> bool:
    return isinstance(inputs, GaussianMixture) and sum(p > 0 for p in inputs.weights) == 1


def _check_supported(net: NoisyMLP, inputs: InputDistribution) -> str:
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
    unknown = sorted(set(net.activations) - set(_SHAPES))
    if unknown:
        raise UnsupportedForTruth(f"activation(s) {unknown} not supported for exact MI. {SUPPORTED_CASES}")
    all_linear = all(name == "linear" for name in net.activations)
    if all_linear and _is_gaussian(inputs):
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
    path = _check_supported(net, inputs)
    with torch.no_grad():
        if path == "linear":
            weights = [linear.weight.detach().to("cpu", torch.float64) for linear in net.linears]
            component = next(i for i, p in enumerate(inputs.weights) if p > 0)
            covariance = inputs.covariances[component]
            return _linear_gaussian_information(weights, covariance, net.beta)
        return _scalar_chain_information(_scalar_layers(net), inputs, net.beta, resolution)


def truth_is_computable(net: NoisyMLP, inputs: InputDistribution) -> bool:
    """Return True if :func:`true_mutual_information` supports this network and input."""
    try:
        path = _check_supported(net, inputs)
        if path == "scalar":
            _plan_chain(_scalar_layers(net), inputs, net.beta, resolution=1.0)
    except UnsupportedForTruth:
        return False
    return True
