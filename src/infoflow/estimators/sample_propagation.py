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

This module knows nothing of training: it sees a network, an input distribution and a labelling.

"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from infoflow.data.distributions import InputDistribution
from infoflow.entropy import gaussian_entropy, sp_entropy
from infoflow.estimators.bounds import _PAIRWISE_OF_ESTIMATOR, binned_entropy, pairwise_distance_entropy
from infoflow.models.noise import evaluation_mode, model_device, propagate
from infoflow.validation import check_memory, integer_at_least

ESTIMATORS = ("sp", "kl_upper", "bhattacharyya_lower", "binning")


@dataclass(frozen=True)
class InformationMeasurement:
    """One measurement of the information in every layer of a noisy network.

    Attributes
    ----------
    mi_input : list of float, length L
        I(X;T_l) in nats for l = 1..L, by the primary estimator (the first one asked for).
    mi_label : list of float or None
        I(T_l;Y) in nats per layer when labels were given.
    clean_samples : list of Tensor, each of shape (n_samples, d_l)
        The unconditional draws of S_l used for h(T_l) (on the network's device); the recorder
        reuses them for densities.
    estimator : str
        The primary estimator.
    entropy : list of float
        h(T_l) in nats by the primary estimator (for "binning": the discrete entropy of the bins).
    conditional_entropy : list of float
        E_X h(T_l | X) in nats by the primary estimator.
    mi_input_std_error : list of float
        Standard error (nats) of ``mi_input`` from its Monte-Carlo parts only: the n_inputs draws
        of X for a continuous X, and the entropy engine's Monte-Carlo integration where it was
        used (d > 2). It leaves out the finite-n_samples variability of P_hat itself, which is the
        estimator's own statistical error (SP: roughly sqrt(0.5 / n_samples) nats for a
        Gaussian-like T_l) and its downward bias (see :func:`measure_information`).
    mi_input_by_estimator : dict of str to list of float
        I(X;T_l) per layer for every estimator asked for, all from the same samples.
    mi_label_by_estimator : dict of str to list of float, or None
        I(T_l;Y) per layer for every estimator asked for, when labels were given.
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

    def __repr__(self) -> str:
        def nats(values: list[float] | None) -> str:
            return "None" if values is None else "[" + ", ".join(f"{v:.4f}" for v in values) + "]"

        widths = [int(s.shape[-1]) for s in self.clean_samples]
        return (
            f"InformationMeasurement(estimator={self.estimator!r}, layers={len(self.mi_input)}, widths={widths}, "
            f"mi_input={nats(self.mi_input)}, mi_input_std_error={nats(self.mi_input_std_error)}, "
            f"mi_label={nats(self.mi_label)})"
        )


# ----------------------------------------------------------------------------------------------
# Mixture-entropy bounds and binned entropies (the non-SP estimators' entropy evaluators)
# ----------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------


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


def _network_device(net: Any) -> torch.device:
    if not isinstance(net, nn.Module):
        raise ValueError(
            f"net must be a torch.nn.Module whose forward runs through infoflow.GaussianNoise layers; "
            f"got {type(net).__name__}"
        )
    return model_device(net)


def _check_inputs(inputs: Any, net: nn.Module) -> None:
    if not isinstance(inputs, InputDistribution):
        hint = (
            " (wrap an array as infoflow.FiniteDataset(x, y))"
            if isinstance(inputs, (torch.Tensor, np.ndarray, list))
            else ""
        )
        raise ValueError(
            "inputs must be an input distribution (DiscreteUniform, Gaussian, GaussianMixture, Uniform, "
            f"FiniteDataset); got {type(inputs).__name__}{hint}"
        )
    expected = getattr(net, "widths", [None])[0]
    if expected is not None and inputs.dim != expected:
        raise ValueError(
            f"inputs have dimension {inputs.dim} but the network takes inputs of dimension {expected} (widths[0])"
        )


def _check_sizes(net: nn.Module, inputs: InputDistribution, n_samples: int, n_conditional: int, n_inputs: int) -> None:
    """Refuse sizes whose draws would not fit in memory, before drawing any (ValueError naming the size)."""
    # Every layer's S_l and T_l for each draw, plus working copies; a network that does not
    # list its widths is counted by its input alone (a lower bound).
    units = sum(getattr(net, "widths", None) or [inputs.dim])
    check_memory("n_samples", n_samples, 4 * 8 * n_samples * units, "the draws for h(T_l)")
    n_x = n_inputs
    if inputs.is_discrete:
        n_x = min(n_inputs, len(inputs.support()[0]))
    name, value = ("n_conditional", n_conditional) if n_conditional >= n_x else ("n_inputs", n_inputs)
    check_memory(name, value, 4 * 8 * n_x * n_conditional * units, f"the conditional draws ({n_x} x {n_conditional})")


def _generators(
    generator: torch.Generator | None, seed: int, device: torch.device
) -> tuple[torch.Generator, torch.Generator]:
    """Return (noise generator on the network's device, CPU generator for drawing X)."""
    if generator is None:
        noise_generator = torch.Generator(device=device)
        noise_generator.manual_seed(seed)
    else:
        if not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator; got {type(generator).__name__}")
        if torch.device(generator.device).type != device.type:
            raise ValueError(
                f"generator must be on the network's device ({device.type}); got one on {generator.device}"
            )
        noise_generator = generator
    if device.type == "cpu":
        return noise_generator, noise_generator
    # Input distributions draw on the CPU; derive their generator from the noise generator so one
    # seed still fixes every number.
    input_seed = int(torch.randint(0, 2**62, (1,), generator=noise_generator, device=device))
    input_generator = torch.Generator()
    input_generator.manual_seed(input_seed)
    return noise_generator, input_generator


# ----------------------------------------------------------------------------------------------
# Per-estimator entropies
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entropies:
    """Entropies of a batch of point sets by one estimator: values (B,) and standard errors (B,)."""

    nats: torch.Tensor
    std_error: torch.Tensor


def _set_entropies(
    estimator: str,
    clean: torch.Tensor,
    noisy: torch.Tensor,
    beta: float,
    bin_size: float,
    generator: torch.Generator,
    target_std_error: float = 0.01,
) -> _Entropies:
    """Return each set's entropy by ``estimator``; clean and noisy of shape (B, n, d).

    ``target_std_error`` (nats) is the Monte-Carlo standard error aimed at per set where the
    engine integrates by Monte Carlo (d > 2); quadrature is exact and ignores it.
    """
    if estimator == "sp":
        nats, std_error = sp_entropy(
            clean, beta, generator=generator, return_std_error=True, target_std_error=target_std_error
        )
        return _Entropies(nats.reshape(-1), std_error.reshape(-1))
    if estimator == "binning":
        nats = binned_entropy(noisy, bin_size)
    else:
        nats = pairwise_distance_entropy(clean, beta, _PAIRWISE_OF_ESTIMATOR[estimator])
    return _Entropies(nats, torch.zeros_like(nats))


# ----------------------------------------------------------------------------------------------
# The measurement
# ----------------------------------------------------------------------------------------------


def measure_information(
    net: Any,
    inputs: Any,
    labels: Callable[[torch.Tensor], Any] | None = None,
    *,
    n_samples: int = 1000,
    n_conditional: int = 1000,
    n_inputs: int = 500,
    generator: torch.Generator | None = None,
    seed: int = 0,
    estimator: str | Sequence[str] = "sp",
    bin_size: float = 0.05,
    target_std_error: float = 0.01,
    stratified: bool = False,
    settings: Any = None,
) -> InformationMeasurement:
    """Return I(X;T_l) (and I(T_l;Y) if labels are given) in nats for every layer of a noisy network.

    Parameters
    ----------
    net : torch.nn.Module
        A noisy network: any module whose forward runs through ``GaussianNoise`` layers (the
        l-th noise layer call is layer l; NoisyMLP is one). It is measured in eval mode (noise
        stays on), restored afterwards.
    inputs : InputDistribution
        The distribution of X (DiscreteUniform, Gaussian, GaussianMixture, Uniform,
        FiniteDataset). A discrete one is summed exactly over its ``support()`` when the support
        has at most ``n_inputs`` points, else over a uniform subsample of ``n_inputs`` points
        (with its standard error); a continuous one is averaged over ``n_inputs`` draws. A
        FiniteDataset with labels gives I(T_l;Y) without ``labels``.
    labels : callable, optional
        Maps inputs of shape (n, d_0) to labels of shape (n,) or (n, k) (e.g. ``ThresholdLabels``);
        each distinct label row is one class.
    n_samples : int
        Draws of X propagated for h(T_l) (the mixture's components).
    n_conditional : int
        Propagations of each fixed x for h(T_l | X=x), layers l >= 2 (and every layer for
        "binning").
    n_inputs : int
        Draws of X averaged over for E_X h(T_l|X) when X is continuous; unused for a discrete X.
    generator : torch.Generator, optional
        Source of every draw, on the network's device; if None, one seeded with ``seed``.
        Same seed (or same generator state), same numbers.
    seed : int
        Used when ``generator`` is None.
    estimator : str or sequence of str
        One or more of "sp", "kl_upper", "bhattacharyya_lower", "binning", all evaluated on the
        same samples; the first is the primary one (``mi_input``, ``mi_label``).
    bin_size : float
        "binning" only: bin width per unit.
    stratified : bool
        For a uniform discrete X whose support size k divides ``n_samples``: the draws for
        h(T_l) take every support point n_samples / k times (so layer 1's h(T_1) is exact).
    target_std_error : float
        Monte-Carlo standard error (nats) aimed at for each I(X;T_l) where the entropy engine
        integrates by Monte Carlo (d > 2): half its variance goes to h(T_l), half to the mean of
        the conditionals, so each of N conditionals may carry sqrt(N) times more.

    Returns
    -------
    InformationMeasurement

    Notes
    -----
    *Bias of SP.* Since E[P_hat * phi] = P * phi, E h(P_hat * phi) = h(P * phi) - E D(P_hat * phi ||
    P * phi), and D <= chi^2, the estimate of h(T_l) from n samples is biased low by at most c/n
    nats, c = integral E_s[phi(t - s)^2] / (P * phi)(t) dt - 1; for a Gaussian S_l of variance
    sigma^2 per unit, c = sigma^2 / beta^2 (a bound: at sigma/beta = 10, n = 1000 the bias is about
    -0.012 nats against the bound -0.1). The conditionals carry the same kind of bias with
    n_conditional but a much smaller c, so I(X;T_l) is usually biased low.

    *Labels.* I(T_l;Y) splits the unconditional samples by label and weighs each class by its
    empirical frequency n_y / n_samples: the SP estimate is then exactly the mutual information of
    the smoothed joint empirical measure of (S_l, Y), so 0 <= I(T_l;Y) <= H(Y_hat) holds by
    construction (as it does for "binning"), needs no further forward pass, and for a discrete X carries only the
    multinomial error of the label frequencies (bias about -(c-1)/(2 n_samples) for c classes).
    Exact class probabilities with split samples would break that identity (an estimate above
    H(Y) or below 0 becomes possible); per-class draws would need rejection sampling of a
    continuous X and one more pass.

    *Estimators.* With P_hat the samples' empirical measure, for layer 1 the conditional mixture
    has a single component, on which every evaluator (SP, both pairwise bounds) is exact, so the
    closed form is used for all three. Hence for l = 1 "kl_upper" is a rigorous upper bound and
    "bhattacharyya_lower" a rigorous lower bound on the SP quantity h(P_hat * phi) - h(phi) (this is
    what Saxe et al. 2018 used: the KL bound on h(T) with the exact Gaussian h(T|X)). For l >= 2 the
    same bound is applied to h(T_l) and to every h(T_l|X=x), and the difference is only an estimate,
    not a bound: an upper bound minus an upper bound bounds nothing. (A rigorous bracket for l >= 2
    is KL-upper h(T) minus Bhattacharyya-lower E h(T|X), and the reverse; it is loose wherever the
    mixtures' components overlap partly, and is not reported; ``entropy`` and
    ``conditional_entropy`` of two measurements with the same seed give it.)
    "binning" (Shwartz-Ziv & Tishby 2017) uses the noisy samples T_l, layer 1 included:
    H(bin T_l) - E_X H(bin T_l | X) with plug-in entropies. The exact binned quantity I(X; bin T_l)
    is at most I(X;T_l) (data processing), depends on ``bin_size``, and the plug-in estimates are
    biased low by about (m-1)/(2 n) nats for m occupied bins (Miller-Madow), more for the many-bin
    unconditional entropy than for the conditionals, so the binned MI is usually biased low further.
    """
    if settings is not None:
        given = {name: value for name, value in locals().items() if name in settings.estimator_kwargs()}
        if given != _SIGNATURE_DEFAULTS or estimator != "sp":
            raise ValueError("pass settings or the keywords it gives (n_samples, ..., estimator), not both")
        kwargs = {**settings.estimator_kwargs(), "estimator": settings.estimators}
        return measure_information(net, inputs, labels, generator=generator, seed=seed, **kwargs)
    estimators = check_estimators(estimator)
    n_samples = integer_at_least("n_samples", n_samples, 1)
    n_conditional = integer_at_least("n_conditional", n_conditional, 1)
    n_inputs = integer_at_least("n_inputs", n_inputs, 1)
    seed = integer_at_least("seed", seed, 0)
    if seed >= 2**63:
        raise ValueError(f"seed must be an integer in [0, 2**63 - 1] (a torch seed); got {seed}")
    if labels is not None and not callable(labels):
        raise ValueError(f"labels must be callable (inputs of shape (n, d_0) -> labels); got {type(labels).__name__}")
    bin_size = _check_bin_size(bin_size)
    target_std_error = _check_target(target_std_error)
    device = _network_device(net)
    _check_inputs(inputs, net)
    _check_sizes(net, inputs, n_samples, n_conditional, n_inputs)
    noise_generator, input_generator = _generators(generator, seed, device)

    with torch.no_grad(), evaluation_mode(net):
        # Unconditional draws first, so every estimator sees the same h(T_l) samples.
        if stratified:
            x, y = _stratified_draws(inputs, n_samples, input_generator)
            y = labels(x) if labels is not None else y
        elif labels is None and inputs.has_labels:
            x, y = inputs.sample_labelled(n_samples, input_generator)
        else:
            x = inputs.sample(n_samples, input_generator)
            y = labels(x) if labels is not None else None
        x = x.to(device)
        unconditional = propagate(net, x, noise_generator)
        n_layers = unconditional.n_layers
        conditional = _conditional_outputs(
            net, inputs, n_conditional, n_inputs, n_layers, estimators, noise_generator, input_generator, device
        )
        class_index, n_classes = _label_classes(y, n_samples, device) if y is not None else (None, 0)
        # The Monte-Carlo error budget of each I(X;T_l): half its variance to h(T_l), half to the
        # weighted mean of the conditionals (Var = sum_x w_x^2 SE_x^2), so each conditional may
        # be coarse when there are many of them.
        marginal_target = target_std_error / math.sqrt(2.0)
        conditional_target = marginal_target / float(conditional.weights.square().sum().sqrt())

        mi_input: dict[str, list[float]] = {name: [] for name in estimators}
        mi_label: dict[str, list[float]] = {name: [] for name in estimators}
        entropy: list[float] = []
        conditional_entropy: list[float] = []
        std_error: list[float] = []
        for layer in range(n_layers):
            clean = unconditional.clean[layer]
            noisy = unconditional.noisy[layer]
            beta = unconditional.betas[layer]
            width = clean.shape[-1]
            for name in estimators:
                marginal = _set_entropies(
                    name, clean.unsqueeze(0), noisy.unsqueeze(0), beta, bin_size, noise_generator, marginal_target
                )
                given_x = _expected_conditional_entropy(
                    name, layer, width, beta, conditional, bin_size, noise_generator, conditional_target
                )
                mi_input[name].append(float(marginal.nats[0]) - given_x[0])
                if name == estimators[0]:
                    entropy.append(float(marginal.nats[0]))
                    conditional_entropy.append(given_x[0])
                    std_error.append(math.sqrt(float(marginal.std_error[0]) ** 2 + given_x[1] ** 2))
                if class_index is not None:
                    given_y = 0.0
                    for label_class in range(n_classes):
                        members = class_index == label_class
                        share = float(members.sum()) / n_samples
                        class_entropy = _set_entropies(
                            name,
                            clean[members].unsqueeze(0),
                            noisy[members].unsqueeze(0),
                            beta,
                            bin_size,
                            noise_generator,
                            marginal_target,
                        )
                        given_y += share * float(class_entropy.nats[0])
                    mi_label[name].append(float(marginal.nats[0]) - given_y)

    primary = estimators[0]
    return InformationMeasurement(
        mi_input=mi_input[primary],
        mi_label=mi_label[primary] if class_index is not None else None,
        clean_samples=list(unconditional.clean),
        estimator=primary,
        entropy=entropy,
        conditional_entropy=conditional_entropy,
        mi_input_std_error=std_error,
        mi_input_by_estimator=mi_input,
        mi_label_by_estimator=mi_label if class_index is not None else None,
        betas=list(unconditional.betas),
        n_conditioning_inputs=int(conditional.weights.numel()),
        conditioning_is_exact=conditional.is_exact,
    )


_SIGNATURE_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(measure_information).parameters.items()
    if name in ("n_samples", "n_conditional", "n_inputs", "bin_size", "target_std_error", "stratified")
}


def _stratified_draws(
    inputs: InputDistribution, n_samples: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Return every support point of a uniform discrete X, n_samples / k times each, in random order.

    P_hat then equals P on the support: layer 1's h(T_1) is the exact mixture entropy and deeper
    layers carry only the noise's sampling error. Labels come along for a labelled data set.
    """
    if not inputs.is_discrete:
        raise ValueError("stratified draws need a discrete X (DiscreteUniform or FiniteDataset)")
    support, probabilities = inputs.support()
    k = support.shape[0]
    if not bool((probabilities == probabilities[0]).all()) or n_samples % k:
        raise ValueError(
            f"stratified draws need a uniform support whose size ({k}) divides n_samples; got n_samples = {n_samples}"
        )
    rows = torch.arange(k).repeat(n_samples // k)[torch.randperm(n_samples, generator=generator)]
    labels = getattr(inputs, "y", None)
    return support[rows], None if labels is None else labels[rows]


def _check_target(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
        raise ValueError(f"target_std_error must be a positive finite number of nats; got {value!r}")
    return float(value)


def _label_classes(values: Any, n: int, device: torch.device) -> tuple[torch.Tensor, int]:
    """Return each sample's class index (n,) and the number of classes, from its labels (n,) or (n, k)."""
    values = values if isinstance(values, torch.Tensor) else torch.as_tensor(values)
    if values.ndim == 0 or values.shape[0] != n:
        raise ValueError(
            f"labels must give one label per input, shape ({n},) or ({n}, k); got shape {tuple(values.shape)}"
        )
    rows = values.reshape(n, -1).to(device)
    classes, class_index = torch.unique(rows, dim=0, return_inverse=True)
    return class_index, classes.shape[0]


@dataclass(frozen=True)
class _Conditionals:
    """Outputs for each conditioning input x repeated n_conditional times.

    clean, noisy : per layer, Tensor of shape (n_x, n_conditional, d_l) (None if no pass was needed)
    weights : Tensor of shape (n_x,), the expectation's weights (support probabilities or 1/n_x)
    is_exact : bool, True when the weights are a discrete X's whole support with its probabilities
    population : int or None, the support size when a finite uniform support was subsampled
        without replacement (for the finite-population correction of the standard error)
    """

    clean: list[torch.Tensor] | None
    noisy: list[torch.Tensor] | None
    weights: torch.Tensor
    is_exact: bool
    population: int | None = None


# The conditional pass holds n_x * n_conditional copies of every layer's output; it runs in chunks
# of inputs so that one chunk's tensors stay within this many bytes.
CONDITIONAL_CHUNK_BYTES = 256 * 2**20


def _conditioning_inputs(
    inputs: InputDistribution, n_inputs: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, bool, int | None]:
    """Return (x of shape (n_x, ...), weights (n_x,), is_exact, population) for E_X h(T_l | X)."""
    if not inputs.is_discrete:
        x = inputs.sample(n_inputs, generator)
        return x, torch.full((n_inputs,), 1.0 / n_inputs, dtype=torch.float64), False, None
    support, probabilities = inputs.support()
    k = support.shape[0]
    if k <= n_inputs:
        return support, probabilities.to(torch.float64), True, None
    if bool((probabilities == probabilities[0]).all()):
        # A uniform support larger than n_inputs: a simple random sample without replacement.
        rows = torch.randperm(k, generator=generator)[:n_inputs]
        return support[rows], torch.full((n_inputs,), 1.0 / n_inputs, dtype=torch.float64), False, k
    rows = torch.multinomial(probabilities.to(torch.float64), n_inputs, replacement=True, generator=generator)
    return support[rows], torch.full((n_inputs,), 1.0 / n_inputs, dtype=torch.float64), False, None


def _conditional_outputs(
    net: nn.Module,
    inputs: InputDistribution,
    n_conditional: int,
    n_inputs: int,
    n_layers: int,
    estimators: tuple[str, ...],
    noise_generator: torch.Generator,
    input_generator: torch.Generator,
    device: torch.device,
) -> _Conditionals:
    """Propagate every conditioning x n_conditional times, in batched forward passes."""
    conditioning_x, weights, is_exact, population = _conditioning_inputs(inputs, n_inputs, input_generator)
    weights = weights.to(device)
    # Layer 1's conditional is closed-form for every mixture evaluator; only binning needs its samples.
    needs_binning = "binning" in estimators
    if n_layers == 1 and not needs_binning:
        return _Conditionals(None, None, weights, is_exact, population)
    n_x = conditioning_x.shape[0]
    clean_parts: list[list[torch.Tensor]] = []
    noisy_parts: list[list[torch.Tensor]] = []
    chunk = n_x
    start = 0
    while start < n_x:
        stop = min(n_x, start + chunk)
        repeated = conditioning_x[start:stop].to(device).repeat_interleave(n_conditional, dim=0)
        # Only "binning" reads the last layer's noisy output; without it the pass stops before
        # drawing that noise (S_L is all the mixture evaluators need).
        outputs = propagate(net, repeated, noise_generator, n_layers=n_layers, last_noise=needs_binning)
        rows = stop - start
        clean_parts.append([s.reshape(rows, n_conditional, -1) for s in outputs.clean])
        noisy_parts.append([t.reshape(rows, n_conditional, -1) for t in outputs.noisy])
        if start == 0:
            # Size the chunks from the first pass (the widths are known only now).
            bytes_per_input = 2 * n_conditional * sum(s.shape[-1] for s in outputs.clean) * 8
            chunk = max(1, CONDITIONAL_CHUNK_BYTES // max(1, bytes_per_input))
        start = stop
    clean = [torch.cat([part[layer] for part in clean_parts]) for layer in range(n_layers)]
    noisy = [torch.cat([part[layer] for part in noisy_parts]) for layer in range(n_layers)]
    return _Conditionals(clean, noisy, weights, is_exact, population)


def _expected_conditional_entropy(
    estimator: str,
    layer: int,
    width: int,
    beta: float,
    conditional: _Conditionals,
    bin_size: float,
    generator: torch.Generator,
    target_std_error: float,
) -> tuple[float, float]:
    """Return (E_X h(T_l|X) in nats, its Monte-Carlo standard error) for 0-based ``layer``."""
    if layer == 0 and estimator != "binning":
        # T_1 | X=x = S_1(x) + Z_1 is exactly N(S_1(x), beta^2 I): S_1 is a function of x.
        return gaussian_entropy(width, beta), 0.0
    assert conditional.clean is not None and conditional.noisy is not None
    per_input = _set_entropies(
        estimator, conditional.clean[layer], conditional.noisy[layer], beta, bin_size, generator, target_std_error
    )
    weights = conditional.weights
    expected = float((weights * per_input.nats).sum())
    # Engine (Monte-Carlo integration) errors are independent across x.
    variance = float((weights**2 * per_input.std_error**2).sum())
    n_x = weights.numel()
    if not conditional.is_exact and n_x > 1:
        # Sampling error of the mean over the n_x draws of X, with the finite-population
        # correction when a finite support was subsampled without replacement.
        correction = 1.0 - n_x / conditional.population if conditional.population else 1.0
        variance += float(per_input.nats.var(correction=1)) / n_x * correction
    return expected, math.sqrt(variance)


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
    """Return I(X;T_l) in nats for l = 1..L, by sample propagation unless ``estimator`` says otherwise.

    Parameters
    ----------
    net : NoisyMLP
    inputs : InputDistribution
    n_samples, n_conditional, n_inputs, seed, estimator :
        As in :func:`measure_information`.
    **options :
        Passed on to :func:`measure_information` (``generator``, ``bin_size``).

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
        **options,
    )
    return measurement.mi_input
