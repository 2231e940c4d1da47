"""Exact I(X;T_l) of a chain of unit-wide layers, by quadrature (case (a) of :mod:`infoflow.estimators.truth`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from infoflow.data.distributions import GaussianMixture, InputDistribution, Uniform
from infoflow.entropy.quadrature import QuadratureRule, RuleTooLarge, panel_rule
from infoflow.estimators.truth.layers import ScalarLayer
from infoflow.estimators.truth.support import UnsupportedForTruth

# The panel width in resolution units (at resolution 1): with the rule's 12 nodes per panel, two
# nodes per length scale. Measured: halving PANEL_WIDTH changes the MI by < 1e-7 nats.
PANEL_WIDTH = 6.0
# Layer rules also integrate -p log p, whose logarithm has branch points off the real axis
# (at distance pi beta^2 / d between two modes d apart), so they get this many units per beta.
# Measured worst case over two-mode mixtures: 1.3e-6 nats error at 1 unit per beta, 1.2e-7 at 2.
ENTROPY_UNITS_PER_BETA = 2.0
# A uniform input's interval counts this many length scales (resolution units) besides the
# steepness of the first layer: with PANEL_WIDTH = 6, two panels even for a nearly flat map.
UNIFORM_LENGTH_SCALES = 12.0
# Half-width of every integration range, in standard deviations (of the noise or of an input
# component): the Gaussian mass beyond 8 sd is 1.2e-15.
TAIL_SDS = 8.0
# A layer kernel is stored as a band when its band covers less than this fraction of a row.
BANDED_KERNEL_FRACTION = 0.3
# Input nodes are grouped into blocks whose first-layer outputs lie within this many beta.
BLOCK_SPAN_BETAS = 16.0
# Largest problem attempted: nodes per layer, conditional densities held per layer, and
# multiply-adds of the layer-to-layer products (~1 s).
MAX_NODES = 200_000
MAX_TABLE_ENTRIES = 20_000_000
MAX_MULTIPLY_ADDS = 5_000_000_000

# ----------------------------------------------------------------------------------------------
# Quadrature rules (composite Gauss-Legendre panels, ``entropy.quadrature.panel_rule``)
# ----------------------------------------------------------------------------------------------


def _panel_rule(
    lo: float, hi: float, breakpoints: list[float], coordinate: Callable[[np.ndarray], np.ndarray], panel_width: float
) -> QuadratureRule:
    """Return ``panel_rule`` on [lo, hi] within MAX_NODES, or raise UnsupportedForTruth."""
    try:
        return panel_rule(lo, hi, breakpoints, coordinate, panel_width, MAX_NODES)
    except RuleTooLarge as error:
        raise UnsupportedForTruth(
            f"the integration grid would need {error.nodes:.3g} nodes (limit {MAX_NODES}): "
            "the weights are too large relative to the noise level beta for exact MI"
        ) from None


def _layer_rule(lo: float, hi: float, beta: float, next_layer: ScalarLayer | None, panel_width: float) -> QuadratureRule:
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


def _input_rule(inputs: InputDistribution, first: ScalarLayer, beta: float, panel_width: float) -> QuadratureRule:
    """Return nodes x_k and probability weights p_k with E f(X) ~ sum_k p_k f(x_k) for smooth f(a(w x + b))."""
    if inputs.is_discrete:
        values, probabilities = inputs.support()
        return QuadratureRule(
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
        return QuadratureRule(rule.nodes, rule.weights / (high - low))
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
    return QuadratureRule(np.concatenate(node_blocks), np.concatenate(weight_blocks))


# ----------------------------------------------------------------------------------------------
# Propagation of the conditional densities
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
    def build(cls, previous_rule: QuadratureRule, rule: QuadratureRule, layer: ScalarLayer, beta: float) -> _LayerKernel:
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
    layer_rules : list of QuadratureRule
        The rule for T_l, one per informative layer.
    columns : list of ndarray of shape (n_blocks, 2)
        Per layer, the node index range [first, stop) holding each block's conditionals.
    """

    input_weights: np.ndarray
    first_outputs: np.ndarray
    block_starts: np.ndarray
    layer_rules: list[QuadratureRule]
    columns: list[np.ndarray]


def _informative_depth(layers: list[ScalarLayer]) -> int:
    """Return the number of leading layers before the first zero weight.

    A zero weight makes T_l, and everything after it, independent of X: MI is exactly 0 there.
    """
    return next((index for index, layer in enumerate(layers) if layer.weight == 0), len(layers))


def plan_chain(layers: list[ScalarLayer], inputs: InputDistribution, beta: float, resolution: float) -> _ChainPlan:
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


def scalar_chain_information(
    layers: list[ScalarLayer], inputs: InputDistribution, beta: float, resolution: float = 1.0
) -> list[float]:
    """Return I(X;T_l) in nats, l = 1..L, for a chain of unit-wide layers, by quadrature.

    ``resolution`` scales the number of panels (2.0 halves every integration step).
    """
    plan = plan_chain(layers, inputs, beta, resolution)
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
