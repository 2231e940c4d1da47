"""I(X;T_l) and I(T_l;Y) of a noisy network by sample propagation (SP), with other estimators beside it.

Sample propagation (Goldfeld et al. 2018): every differential entropy is that of a
Gaussian mixture P_hat * N(0, beta^2 I), P_hat the empirical measure of propagated samples of
S_l (the clean output of layer l, noise injected only in the layers below l):

* h(T_l): n_samples draws of X propagated once through the noisy network.
* h(T_l | X=x): layer 1 is exactly Gaussian, h = (d_1/2) log(2 pi e beta^2). Deeper layers: the
  same x fed n_conditional times, so that only the noise in layers 1..l-1 varies.
* I(X;T_l) = h(T_l) - E_X h(T_l|X): the exact weighted sum over the support for a discrete X,
  the mean over n_inputs draws for a continuous X.
* I(T_l;Y) = h(T_l) - sum_y p(y) h(T_l|Y=y) from the same unconditional samples split by label.

Every conditional of every input comes from one batched forward pass over a batch of shape
(n_x, n_conditional, d_l), and each layer's conditional entropies from one batched entropy call.

Estimators, all evaluated on the same samples (``estimator=``):

* ``"sp"``: the entropy engine (quadrature for d <= 2, Monte Carlo otherwise).
* ``"kl_upper"``, ``"bhattacharyya_lower"``: the pairwise-distance bounds of Kolchinsky & Tracey
  (2017) on the same Gaussian mixtures (see :func:`pairwise_distance_entropy`).
* ``"binning"``: Shwartz-Ziv & Tishby (2017): plug-in entropies of the noisy T_l binned per unit.

Every number comes with bounds that hold the truth (module ``brackets``; docs/DESIGN.md).
This module knows nothing of training: it sees a network, an input distribution and a labelling.

"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from infoflow.data.distributions import InputDistribution
from infoflow.estimators.brackets import Brackets, information_brackets
from infoflow.estimators.chain_bounds import apply_chain, locate
from infoflow.estimators.confidence import ALPHA
from infoflow.estimators.draws import (
    Draws,
    check_inputs,
    check_sizes,
    conditioning_count,
    draw_samples,
    layer_widths,
    make_generators,
    network_device,
    resolve_conditional,
)
from infoflow.estimators.sp_estimates import Estimates, estimate_all
from infoflow.models.dropout import dropout_on
from infoflow.models.mlp import NoisyMLP
from infoflow.models.noise import GaussianNoise, evaluation_mode
from infoflow.validation import integer_at_least

ESTIMATORS = ("sp", "kl_upper", "bhattacharyya_lower", "binning")
# The error (nats) below which a point estimate counts as resolved when no target_error is given.
RESOLVED_NATS = 0.1
# target_error: sizes double per round while the projected next round fits the time limit.
GROWTH_FACTOR = 2


@dataclass(frozen=True)
class InformationMeasurement:
    """One measurement of the information in every layer of a noisy network (all values in nats).

    Attributes
    ----------
    mi_input : list of float, length L
        I(X;T_l) for l = 1..L: the primary estimator's value, moved inside the bounds (see
        ``mi_input_source``).
    mi_label : list of float or None
        I(T_l;Y) per layer when labels were given, likewise inside its bounds.
    clean_samples : list of Tensor, each of shape (n_samples, d_l)
        The unconditional draws of S_l (on the network's device), reused for densities.
    estimator : str
        The primary estimator.
    entropy, conditional_entropy : list of float
        h(T_l) and E_X h(T_l|X) by the primary estimator.
    mi_input_std_error : list of float
        Total standard error of SP's I(X;T_l): Monte Carlo, the n_inputs draws of X, and the
        sampling of P_hat (influence function) for h(T_l) and for the conditionals. Without
        bounds (``bounds=False``) the Monte-Carlo parts only.
    mi_input_by_estimator, mi_label_by_estimator : dict of str to list of float
        Every estimator asked for, from the same samples (not moved into the bounds).
    mi_input_lower, mi_input_upper : list of float or None
        Bounds on I(X;T_l) holding the truth, all layers (and labels) jointly, with probability
        >= ``confidence`` (None with ``bounds=False``).
    mi_input_resolved : list of bool or None
        Whether ``mi_input`` is within ``target_error`` of both bounds, i.e. of the truth
        wherever the bounds hold.
    mi_input_source : list of str or None
        How ``mi_input`` was chosen: "sp" (the estimator, possibly clipped onto a bound),
        "midpoint" (the estimator fell outside its bounds; the midpoint of bounds at most
        2 target_error apart replaces it), "sp-clipped" (outside, clipped onto the nearer bound).
    mi_label_lower, mi_label_upper, mi_label_resolved, mi_label_std_error, mi_label_source :
        The same for I(T_l;Y), or None without labels.
    target_error : float
        Nats: the error a resolved estimate is within (given, or RESOLVED_NATS).
    target_met : bool or None
        With ``target_error`` given: whether every estimate was resolved within the limits.
    confidence : float
        The joint level of the bounds (1 - alpha).
    n_samples, n_conditional : int
        The sizes finally used (grown when ``target_error`` asked for it).
    """

    mi_input: list[float]
    mi_label: list[float] | None
    clean_samples: list[torch.Tensor] = field(repr=False)
    estimator: str
    entropy: list[float]
    conditional_entropy: list[float]
    mi_input_std_error: list[float]
    mi_input_by_estimator: dict[str, list[float]]
    mi_label_by_estimator: dict[str, list[float]] | None
    betas: list[float] = field(default_factory=list)
    n_conditioning_inputs: int = 0
    conditioning_is_exact: bool = True
    mi_input_lower: list[float] | None = None
    mi_input_upper: list[float] | None = None
    mi_input_resolved: list[bool] | None = None
    mi_input_source: list[str] | None = None
    mi_label_lower: list[float] | None = None
    mi_label_upper: list[float] | None = None
    mi_label_resolved: list[bool] | None = None
    mi_label_std_error: list[float] | None = None
    mi_label_source: list[str] | None = None
    target_error: float = RESOLVED_NATS
    target_met: bool | None = None
    confidence: float = 1.0 - ALPHA
    n_samples: int = 0
    n_conditional: int = 0

    def __repr__(self) -> str:
        def nats(values: list[float] | None) -> str:
            return "None" if values is None else "[" + ", ".join(f"{v:.4f}" for v in values) + "]"

        widths = [int(s.shape[-1]) for s in self.clean_samples]
        return (
            f"InformationMeasurement(estimator={self.estimator!r}, layers={len(self.mi_input)}, widths={widths}, "
            f"mi_input={nats(self.mi_input)}, mi_input_lower={nats(self.mi_input_lower)}, "
            f"mi_input_upper={nats(self.mi_input_upper)}, mi_input_resolved={self.mi_input_resolved}, "
            f"mi_label={nats(self.mi_label)})"
        )


def check_estimators(estimator: str | Sequence[str]) -> tuple[str, ...]:
    """Return the estimator names, distinct and in order, or raise ValueError naming the bad one."""
    names = (estimator,) if isinstance(estimator, str) else tuple(estimator)
    if not names:
        raise ValueError(f"estimator must name at least one of {', '.join(ESTIMATORS)}")
    for name in names:
        if name not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {', '.join(ESTIMATORS)}; got {name!r}")
    return tuple(dict.fromkeys(names))


def _check_bin_size(bin_size: Any) -> float:
    try:
        size = float(bin_size)
    except (TypeError, ValueError):
        raise ValueError(f"bin_size must be a positive number; got {bin_size!r}") from None
    if not (size > 0 and math.isfinite(size)):
        raise ValueError(f"bin_size must be a positive finite number; got {bin_size!r}")
    return size


def _check_positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
        raise ValueError(f"{name} must be a positive finite number; got {value!r}")
    return float(value)


def is_chain(net: nn.Module) -> bool:
    """Return True if the noise layers of ``net`` form a Markov chain X -> T_1 -> ... -> T_L.

    True for NoisyMLP and for nn.Sequential nets whose children are GaussianNoise layers, modules
    without noise layers, or such Sequentials (recursively); a general module (skip connections,
    recurrent steps) is not assumed to be one.
    """
    if isinstance(net, NoisyMLP):
        return True
    if not isinstance(net, nn.Sequential):
        return False
    for child in net.children():
        noiseless = not any(isinstance(module, GaussianNoise) for module in child.modules())
        if noiseless or isinstance(child, (GaussianNoise, NoisyMLP)):
            continue
        if not is_chain(child):
            return False
    return True


# ----------------------------------------------------------------------------------------------
# The measurement
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """Validated arguments of one measurement."""

    estimators: tuple[str, ...]
    n_samples: int
    n_conditional: int
    n_inputs: int
    seed: int
    bin_size: float
    target_std_error: float
    stratified: bool
    bounds: bool
    chain: bool
    device: torch.device
    widths: list[int]
    dropout: bool = False


def measure_information(
    net: Any,
    inputs: Any,
    labels: Callable[[torch.Tensor], Any] | None = None,
    *,
    n_samples: int = 1000,
    n_conditional: int | str = "auto",
    n_inputs: int = 500,
    generator: torch.Generator | None = None,
    seed: int = 0,
    estimator: str | Sequence[str] = "sp",
    bin_size: float = 0.05,
    target_std_error: float = 0.01,
    stratified: bool = False,
    settings: Any = None,
    bounds: bool = True,
    target_error: float | None = None,
    time_limit_s: float = 60.0,
    chain: bool | None = None,
    dropout: bool = False,
) -> InformationMeasurement:
    """Return I(X;T_l) (and I(T_l;Y) if labels are given) in nats for every layer, with bounds.

    Parameters
    ----------
    net : torch.nn.Module
        A noisy network: any module whose forward runs through ``GaussianNoise`` layers (the
        l-th noise layer call is layer l). Measured in eval mode (noise stays on), restored after.
    inputs : InputDistribution
        The distribution of X. A discrete one is summed exactly over its support when it has at
        most ``n_inputs`` points, else over a uniform subsample (with its standard error); a
        continuous one is averaged over ``n_inputs`` draws. A FiniteDataset with labels gives
        I(T_l;Y) without ``labels``.
    labels : callable, optional
        Maps inputs (n, d_0) to labels (n,) or (n, k); each distinct label row is one class.
    n_samples, n_conditional, n_inputs : int
        Draws of X for h(T_l); propagations of each fixed x for h(T_l|X=x) (layers >= 2);
        conditioning inputs of a continuous (or large) X. ``n_conditional="auto"`` (default): 1000,
        fewer where the conditional pass would hold more than 10 * 2**20 values (n_x * n_conditional *
        sum of the layer widths; :func:`~infoflow.estimators.draws.resolve_conditional`); the
        result's ``n_conditional`` is the number used.
    generator, seed :
        Source of every draw (a generator on the network's device, else one seeded with ``seed``).
    estimator : str or sequence of str
        "sp", "kl_upper", "bhattacharyya_lower", "binning", all on the same samples; the first is
        the primary one. The bounds always come from SP's machinery.
    bin_size : float
        "binning" only: bin width per unit.
    target_std_error : float
        Monte-Carlo standard error (nats) the entropy engine aims at per I(X;T_l) (d > 2).
    stratified : bool
        Uniform discrete X whose support size divides ``n_samples``: every support point
        n_samples / k times in the draws for h(T_l).
    bounds : bool
        Compute the bounds (default). False gives the bare estimates (the cost before bounds).
    target_error : float, optional
        Nats: the largest distance from the point estimate to either bound (so to the truth) that
        counts as resolved. Given, n_samples and n_conditional double (within ``time_limit_s``
        and the memory limit) until every estimate is resolved; ``target_met`` says if it was.
        Without it nothing grows and resolution is judged at RESOLVED_NATS.
    time_limit_s : float
        With ``target_error``: no further round starts when its projected time would pass this.
    chain : bool, optional
        Whether the noise layers form a Markov chain (data processing then ties the layers'
        bounds together); default: :func:`is_chain`.
    dropout : bool
        False (default): dropout modules are off, the network measured as it is evaluated. True:
        they draw masks while measuring (from a stream the generator fixes), which then count as
        channel noise of the layers after them; a dropout before the first noise layer is refused
        (see :mod:`infoflow.models.dropout`).

    Returns
    -------
    InformationMeasurement

    Notes
    -----
    docs/DESIGN.md ("Bounds that hold at any width") derives every bound and states SP's bias
    (h(P_hat * phi) is low by at most c/n nats, c = sigma^2/beta^2 for a Gaussian S_l), the label
    estimator (empirical class shares: the estimate is the MI of the smoothed joint empirical
    measure, in [0, H(Y_hat)]) and what the non-SP estimators bound.
    """
    if settings is not None:
        given = {name: value for name, value in locals().items() if name in settings.estimator_kwargs()}
        if given != {name: _SIGNATURE_DEFAULTS[name] for name in given} or estimator != "sp":
            raise ValueError("pass settings or the keywords it gives (n_samples, ..., estimator), not both")
        extra = {"bounds": bounds, "target_error": target_error, "time_limit_s": time_limit_s, "chain": chain}
        kwargs = {**extra, **settings.estimator_kwargs(), "estimator": settings.estimators}
        return measure_information(net, inputs, labels, generator=generator, seed=seed, **kwargs)
    plan = _validated_plan(net, inputs, labels, n_samples, n_conditional, n_inputs, seed, estimator,
                           bin_size, target_std_error, stratified, bounds, chain)
    if not isinstance(dropout, bool):
        raise ValueError(f"dropout must be true or false; got {dropout!r}")
    plan = replace(plan, dropout=dropout)
    noise_generator, input_generator = make_generators(generator, plan.seed, plan.device)
    if target_error is None:
        return _measure_once(net, inputs, labels, plan, noise_generator, input_generator, RESOLVED_NATS)
    target_error = _check_positive("target_error", target_error)
    time_limit_s = _check_positive("time_limit_s", time_limit_s)
    if not bounds:
        raise ValueError("target_error needs bounds=True (resolution is judged against the bounds)")
    started = time.perf_counter()
    while True:
        round_start = time.perf_counter()
        result = _measure_once(net, inputs, labels, plan, noise_generator, input_generator, target_error)
        met = all(result.mi_input_resolved) and all(result.mi_label_resolved or [True])
        elapsed = time.perf_counter() - started
        projected = (time.perf_counter() - round_start) * GROWTH_FACTOR**2
        if met or elapsed + projected > time_limit_s:
            return replace(result, target_met=met)
        grown = replace(
            plan, n_samples=plan.n_samples * GROWTH_FACTOR, n_conditional=plan.n_conditional * GROWTH_FACTOR
        )
        try:
            check_sizes(net, inputs, grown.n_samples, grown.n_conditional, grown.n_inputs, plan.widths)
        except ValueError:
            return replace(result, target_met=False)
        plan = grown


def _validated_plan(net, inputs, labels, n_samples, n_conditional, n_inputs, seed, estimator, bin_size,
                    target_std_error, stratified, bounds, chain) -> _Plan:
    estimators = check_estimators(estimator)
    n_samples = integer_at_least("n_samples", n_samples, 1)
    if not (isinstance(n_conditional, str) and n_conditional == "auto"):
        try:
            n_conditional = integer_at_least("n_conditional", n_conditional, 1)
        except ValueError:
            raise ValueError(f'n_conditional must be an integer >= 1 or "auto"; got {n_conditional!r}') from None
    n_inputs = integer_at_least("n_inputs", n_inputs, 1)
    seed = integer_at_least("seed", seed, 0)
    if seed >= 2**63:
        raise ValueError(f"seed must be an integer in [0, 2**63 - 1] (a torch seed); got {seed}")
    if labels is not None and not callable(labels):
        raise ValueError(f"labels must be callable (inputs of shape (n, d_0) -> labels); got {type(labels).__name__}")
    device = network_device(net)
    check_inputs(inputs, net)
    widths = layer_widths(net, inputs, device)
    n_conditional = resolve_conditional(n_conditional, conditioning_count(inputs, n_inputs), widths)
    check_sizes(net, inputs, n_samples, n_conditional, n_inputs, widths)
    return _Plan(
        estimators=estimators,
        n_samples=n_samples,
        n_conditional=n_conditional,
        n_inputs=n_inputs,
        seed=seed,
        bin_size=_check_bin_size(bin_size),
        target_std_error=_check_target(target_std_error),
        stratified=bool(stratified),
        bounds=bool(bounds),
        chain=is_chain(net) if chain is None else bool(chain),
        device=device,
        widths=widths,
    )


_SIGNATURE_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(measure_information).parameters.items()
    if parameter.default is not inspect.Parameter.empty
}


def _measure_once(
    net: nn.Module,
    inputs: InputDistribution,
    labels: Callable[[torch.Tensor], Any] | None,
    plan: _Plan,
    noise_generator: torch.Generator,
    input_generator: torch.Generator,
    target_error: float,
) -> InformationMeasurement:
    """One measurement at the plan's sizes: SP estimates, then (with bounds) their brackets."""
    names = plan.estimators + (("sp",) if plan.bounds and "sp" not in plan.estimators else ())
    with torch.no_grad(), evaluation_mode(net), dropout_on(net, noise_generator) if plan.dropout else nullcontext():
        draws = draw_samples(
            net, inputs, labels, n_samples=plan.n_samples, n_conditional=plan.n_conditional,
            n_inputs=plan.n_inputs, stratified=plan.stratified, needs_layer_one="binning" in names,
            noise_generator=noise_generator, input_generator=input_generator, device=plan.device,
        )
        estimates = estimate_all(
            names, draws, bin_size=plan.bin_size, target_std_error=plan.target_std_error, generator=noise_generator
        )
        brackets = None
        if plan.bounds:
            brackets = information_brackets(
                net, inputs, labels, draws, estimates.sp_layers, generator=noise_generator, device=plan.device
            )
    return _result(plan, draws, estimates, brackets, target_error)


def _result(
    plan: _Plan, draws: Draws, estimates: Estimates, brackets: Brackets | None, target_error: float
) -> InformationMeasurement:
    """Assemble the measurement: the primary estimates placed inside their bounds."""
    primary = plan.estimators[0]
    asked = {name: values for name, values in estimates.mi_input.items() if name in plan.estimators}
    asked_label = None if estimates.mi_label is None else {
        name: values for name, values in estimates.mi_label.items() if name in plan.estimators
    }
    common = dict(
        clean_samples=list(draws.unconditional.clean),
        estimator=primary,
        entropy=estimates.entropy,
        conditional_entropy=estimates.conditional_entropy,
        mi_input_by_estimator=asked,
        mi_label_by_estimator=asked_label,
        betas=list(draws.unconditional.betas),
        n_conditioning_inputs=int(draws.conditional.weights.numel()),
        conditioning_is_exact=draws.conditional.is_exact,
        target_error=target_error,
        n_samples=plan.n_samples,
        n_conditional=plan.n_conditional,
    )
    mi_label = None if asked_label is None else asked_label[primary]
    if brackets is None:
        return InformationMeasurement(mi_input=asked[primary], mi_label=mi_label,
                                      mi_input_std_error=estimates.monte_carlo_se, **common)
    lower, upper, y_lower, y_upper = apply_chain(
        brackets.input_lower, brackets.input_upper, brackets.label_lower, brackets.label_upper, chain=plan.chain
    )
    inputs_located = [locate(v, lo, hi, target_error) for v, lo, hi in zip(asked[primary], lower, upper)]
    std_error = [
        math.hypot(a, b) if spot.source != "midpoint" else (spot.upper - spot.lower) / (2 * brackets.z)
        for a, b, spot in zip(brackets.marginal_se, brackets.conditional_se, inputs_located)
    ]
    labels_located = None
    if mi_label is not None and y_lower is not None:
        labels_located = [locate(v, lo, hi, target_error) for v, lo, hi in zip(mi_label, y_lower, y_upper)]
    return InformationMeasurement(
        mi_input=[spot.value for spot in inputs_located],
        mi_label=None if labels_located is None else [spot.value for spot in labels_located],
        mi_input_std_error=std_error,
        mi_input_lower=[spot.lower for spot in inputs_located],
        mi_input_upper=[spot.upper for spot in inputs_located],
        mi_input_resolved=[spot.resolved for spot in inputs_located],
        mi_input_source=[spot.source for spot in inputs_located],
        mi_label_lower=None if labels_located is None else [spot.lower for spot in labels_located],
        mi_label_upper=None if labels_located is None else [spot.upper for spot in labels_located],
        mi_label_resolved=None if labels_located is None else [spot.resolved for spot in labels_located],
        mi_label_std_error=brackets.label_se,
        mi_label_source=None if labels_located is None else [spot.source for spot in labels_located],
        confidence=1.0 - ALPHA,
        **common,
    )


def _check_target(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
        raise ValueError(f"target_std_error must be a positive finite number of nats; got {value!r}")
    return float(value)


def mutual_information(
    net: Any,
    inputs: Any,
    *,
    n_samples: int = 1000,
    n_conditional: int = 1000,
    n_inputs: int = 500,
    seed: int = 0,
    estimator: str = "sp",
    **options: Any,
) -> list[float]:
    """Return bare estimates of I(X;T_l) in nats, l = 1..L, by sample propagation unless ``estimator`` says otherwise.

    A list of numbers cannot carry bounds: this is the estimator alone (``bounds=False`` unless
    given), as the accuracy study of the estimator needs. :func:`measure_information` gives the
    estimates with bounds that hold the truth, which is what a result should report.

    Parameters
    ----------
    net : NoisyMLP
    inputs : InputDistribution
    n_samples, n_conditional, n_inputs, seed, estimator :
        As in :func:`measure_information`.
    **options :
        Passed on to :func:`measure_information` (``generator``, ``bin_size``, ``bounds``).

    Returns
    -------
    list of float, length L (nats)
    """
    if not isinstance(estimator, str):
        raise ValueError(f"estimator must be one of {', '.join(ESTIMATORS)}; got {estimator!r}")
    measurement = measure_information(
        net,
        inputs,
        n_samples=n_samples,
        n_conditional=n_conditional,
        n_inputs=n_inputs,
        seed=seed,
        estimator=estimator,
        **{"bounds": False, **options},
    )
    return measurement.mi_input
