"""Confidence brackets on every entropy of a measurement, and the bounds on I(X;T_l) and I(T_l;Y) they give.

Per layer (docs/DESIGN.md, "Bounds that hold at any width", derives each one):

* h(T_l) >= SP's h(P_hat * phi) - z SE (concavity: SP is biased low in expectation; SE counts the
  Monte Carlo and P_hat's own sampling through its influence function);
* h(T_l) <= cross-entropy of fresh draws under a mixture q (pooled conditional samples where the
  whole finite support is conditioned on, the SP samples otherwise) or under a Gaussian fitted to
  the SP samples (the maximum-entropy bound), + z SE, whichever is lower;
* E h(T_l|X) in [max(h(Z_l), SP - z SE), cross-entropy of fresh conditional draws + z SE]; exact
  for layer 1 (closed form);
* I(X;T_l) >= H(X) - decoder loss - z SE (finite X), or h(X) - regression loss - z SE (continuous
  X of known entropy); the same with labels for I(T_l;Y) when H(Y) is known.

I = h(T) - E h(T|X) is bounded by the differences of the brackets; all K stochastic bounds share
z = Phi^-1(1 - alpha / K) (:mod:`infoflow.estimators.confidence`). Structural limits and the
data-processing inequality are applied last (:mod:`infoflow.estimators.chain_bounds`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from infoflow.data.distributions import InputDistribution
from infoflow.entropy import gaussian_entropy
from infoflow.entropy.cross_entropy import (
    gaussian_cross_entropy_terms,
    influence_values,
    mixture_cross_entropy_terms,
)
from infoflow.estimators.confidence import Estimate, bonferroni_z
from infoflow.estimators.decoders import (
    choose_sigma2,
    entropy_of_probabilities,
    finite_decoder_losses,
    known_input_entropy,
    regression_decoder_losses,
)
from infoflow.estimators.draws import Draws
from infoflow.estimators.fresh_draws import decodable_support, derived_generators, fresh_sample, repeated_outputs
from infoflow.estimators.label_classes import label_classes

# Centres at which SP's influence function is evaluated for h(T_l), and in all for the conditionals.
INFLUENCE_ROWS = 128
INFLUENCE_POINTS = 1024
# The pooled conditional mixture q for h(T_l)'s upper bound keeps at most this many centres.
POOL_MAX = 4096
# Draws per support row for the decoder's row means mu_r (layers >= 2; layer 1's S_1 is exact).
MEAN_DRAWS = 4
# Largest memory of the decoder's row-mean pass (rows x draws x units x 16 bytes).
MEANS_MAX_BYTES = 2 * 2**30
# Building pairs for the decoders.
BUILD_PAIRS = 1000


@dataclass(frozen=True)
class LayerSP:
    """SP's pieces of one layer, from :func:`infoflow.measure_information`'s samples.

    marginal : Estimate, h(P_hat * phi) of the unconditional samples (SE: Monte Carlo only)
    per_input, per_input_se : Tensor of shape (n_x,) (None for layer 1): h of each conditional
        and its Monte-Carlo SE
    conditional : float, the weighted mean of ``per_input`` (layer 1: the closed form)
    classes : list of (share, entropy, Monte-Carlo SE, member mask), or None without labels
    """

    marginal: Estimate
    per_input: torch.Tensor | None
    per_input_se: torch.Tensor | None
    conditional: float
    classes: list[tuple[float, float, float, torch.Tensor]] | None


@dataclass(frozen=True)
class Brackets:
    """Per layer, before the chain step: raw bounds (nats) and total standard errors.

    input_lower, input_upper : list of float
    label_lower, label_upper : list of float, or None without labels
    input_entropy, label_entropy : H(X), H(Y) in nats where finite and known, else None
    marginal_se, conditional_se : list of float, total SE of SP's h(T_l) and E h(T_l|X)
    label_se : list of float or None, total SE of SP's I(T_l;Y)
    n_bounds : int, K; z : float
    """

    input_lower: list[float]
    input_upper: list[float]
    label_lower: list[float] | None
    label_upper: list[float] | None
    input_entropy: float | None
    label_entropy: float | None
    marginal_se: list[float]
    conditional_se: list[float]
    label_se: list[float] | None
    n_bounds: int
    z: float


def _class_indices(main: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    """Return class indices of each label tensor over the classes of all of them together."""
    rows = [values.reshape(values.shape[0], -1).to(torch.float64).cpu() for values in (main, *others)]
    joined = torch.cat(rows)
    inverse, _ = label_classes(joined, joined.shape[0], joined.device)
    return list(torch.split(inverse, [r.shape[0] for r in rows]))


def information_brackets(
    net: nn.Module,
    inputs: InputDistribution,
    labels: Callable[[torch.Tensor], Any] | None,
    draws: Draws,
    layers: list[LayerSP],
    *,
    generator: torch.Generator,
    device: torch.device,
) -> Brackets:
    """Return the bounds of every layer from the SP pieces and draws made for them (module docstring)."""
    noise_gen, input_gen = derived_generators(generator, device)
    unconditional, conditional = draws.unconditional, draws.conditional
    n_layers, n = unconditional.n_layers, unconditional.clean[0].shape[0]
    with_labels = draws.labels is not None and layers[0].classes is not None
    fresh = fresh_sample(net, inputs, labels, n, n_layers, noise_gen, input_gen, device)
    build = fresh_sample(net, inputs, labels, min(n, BUILD_PAIRS), n_layers, noise_gen, input_gen, device)
    support = decodable_support(inputs)
    units = sum(s.shape[-1] for s in unconditional.clean)
    if support is not None and support[0].shape[0] * MEAN_DRAWS * units * 16 > MEANS_MAX_BYTES:
        support = None  # the row means would not fit: no decoder (the other bounds stay valid)
    input_entropy = entropy_of_probabilities(inputs.support()[1]) if inputs.is_discrete else None
    known_h = None if inputs.is_discrete else known_input_entropy(inputs)
    n_x = conditional.weights.numel()
    fresh_conditional = None
    if n_layers > 1:
        repeats = max(2, min(conditional.clean[0].shape[1], math.ceil(n / n_x)))
        fresh_conditional = repeated_outputs(net, conditional.x, repeats, n_layers, noise_gen, device)
    means = within = None
    if support is not None:
        mean_draws = MEAN_DRAWS if n_layers > 1 else 1
        clean, _ = repeated_outputs(net, support[0], mean_draws, n_layers, noise_gen, device)
        means = [s.mean(1).to(torch.float64) for s in clean]
        within = [float(s.var(1, correction=0).mean()) * mean_draws / max(1, mean_draws - 1) for s in clean]
    label_entropy = row_classes = fresh_class = None
    if with_labels:
        main_class, fresh_class = _class_indices(draws.labels, fresh.labels)
        if support is not None:
            row_labels = labels(support[0]) if labels is not None else inputs.y
            main_class, fresh_class, row_classes = _class_indices(
                draws.labels, fresh.labels, torch.as_tensor(row_labels)
            )
            class_prior = torch.zeros(int(row_classes.max()) + 1, dtype=torch.float64)
            class_prior.scatter_add_(0, row_classes, support[1])
            label_entropy = entropy_of_probabilities(class_prior)

    pieces: list[dict[str, Any]] = []
    n_bounds = 0
    for layer, sp in enumerate(layers):
        beta = unconditional.betas[layer]
        clean = unconditional.clean[layer].to(torch.float64)
        width = clean.shape[-1]
        noise_entropy = gaussian_entropy(width, beta)
        piece: dict[str, Any] = {"noise": noise_entropy}
        psi = influence_values(clean.unsqueeze(0), beta, INFLUENCE_ROWS, noise_gen)[0]
        spread = float(psi.std()) / math.sqrt(n) if psi.numel() > 1 else math.inf
        marginal_se = math.hypot(sp.marginal.std_error, spread)
        piece["h_lower"] = Estimate(sp.marginal.value, marginal_se)
        centres = clean
        if conditional.is_exact and layer > 0 and bool((conditional.weights == conditional.weights[0]).all()):
            per_x = max(1, min(conditional.clean[layer].shape[1], POOL_MAX // n_x))
            centres = conditional.clean[layer][:, :per_x].reshape(-1, width)
        elif layer == 0 and means is not None and bool((support[1] == support[1][0]).all()):
            centres = means[0]  # S_1 is a function of x: the exact mixture P * phi
        fresh_clean = fresh.outputs.clean[layer].unsqueeze(0)
        fresh_noisy = fresh.outputs.noisy[layer].unsqueeze(0)
        mix = Estimate.of_terms(mixture_cross_entropy_terms(fresh_noisy, fresh_clean, centres.unsqueeze(0), beta))
        gauss = Estimate.of_terms(gaussian_cross_entropy_terms(fresh_noisy[0], clean, beta))
        piece["h_upper"] = [mix, gauss]
        n_bounds += 3
        if layer == 0:
            piece["c_lower"] = piece["c_upper"] = Estimate(noise_entropy, 0.0)
            piece["c_se"] = 0.0
        else:
            piece["c_lower"], piece["c_upper"] = _conditional_estimates(
                sp, conditional, layer, beta, fresh_conditional, noise_gen
            )
            piece["c_se"] = piece["c_lower"].std_error
            n_bounds += 2
        decoders: list[tuple[float, Estimate]] = []
        if means is not None:
            scale2 = beta**2 + within[layer]
            sigma2 = choose_sigma2(build.outputs.noisy[layer], build.rows, means[layer], support[1], scale2)
            row_losses, class_losses = finite_decoder_losses(
                fresh.outputs.noisy[layer], fresh.rows, means[layer], support[1], sigma2,
                row_classes=row_classes if with_labels else None, classes=fresh_class if with_labels else None,
            )
            decoders.append((input_entropy, Estimate.of_terms(row_losses)))
            if class_losses is not None:
                piece["label_decoder"] = (label_entropy, Estimate.of_terms(class_losses))
                n_bounds += 1
        elif known_h is not None and build.x.shape[0] > width + 2:
            losses = regression_decoder_losses(build.x, build.outputs.noisy[layer], fresh.x, fresh.outputs.noisy[layer])
            decoders.append((known_h, Estimate.of_terms(losses)))
        piece["decoders"] = decoders
        n_bounds += len(decoders)
        if with_labels:
            n_bounds += _label_pieces(piece, sp, clean, fresh, main_class, fresh_class, layer, beta, noise_gen)
        pieces.append(piece)
    return _assemble(pieces, n_bounds, input_entropy, label_entropy, with_labels)


def _conditional_estimates(
    sp: LayerSP, conditional: Any, layer: int, beta: float, fresh_conditional: Any, generator: torch.Generator
) -> tuple[Estimate, Estimate]:
    """Return (SP's E h(T|X) with its total SE, the conditional cross-entropy with its SE)."""
    weights = conditional.weights.to(torch.float64)
    n_x = weights.numel()
    clean, noisy = fresh_conditional[0][layer], fresh_conditional[1][layer]
    terms = mixture_cross_entropy_terms(noisy, clean, conditional.clean[layer], beta)  # (n_x, m_c)
    if conditional.is_exact:
        rows = max(8, min(INFLUENCE_ROWS // 2, INFLUENCE_POINTS // n_x))
        psi = influence_values(conditional.clean[layer], beta, rows, generator)
        n_c = conditional.clean[layer].shape[1]
        spread = psi.var(1) / n_c if psi.shape[1] > 1 else torch.full_like(psi[:, 0], math.inf)
        variance = sp.per_input_se.to(torch.float64) ** 2 + spread
        lower = Estimate.of_groups(sp.per_input.to(torch.float64), variance.cpu(), weights.cpu())
        upper = Estimate.of_groups(terms.mean(1).cpu(), (terms.var(1) / terms.shape[1]).cpu(), weights.cpu())
        return lower, upper
    values = sp.per_input.to(torch.float64)
    correction = 1.0 - n_x / conditional.population if conditional.population else 1.0
    spread = float(values.var(correction=1)) / n_x * correction if n_x > 1 else math.inf
    monte_carlo = float((weights**2 * sp.per_input_se.to(torch.float64) ** 2).sum())
    lower = Estimate(float((weights * values).sum()), math.sqrt(spread + monte_carlo))
    return lower, Estimate.of_terms(terms.mean(1))


def _label_pieces(
    piece: dict[str, Any],
    sp: LayerSP,
    clean: torch.Tensor,
    fresh: Any,
    main_class: torch.Tensor,
    fresh_class: torch.Tensor,
    layer: int,
    beta: float,
    generator: torch.Generator,
) -> int:
    """Add the bracket of h(T_l|Y) to ``piece``; return the number of stochastic bounds added (2).

    Lower: sum_y (n_y/n) h(P_hat_y * phi) (biased low given the n_y, and the shares are unbiased),
    SE from each class's influence function and the multinomial spread of the shares. Upper: the
    mean over fresh labelled draws of -log q_y(t), q_y the mixture of the class's SP samples (all
    samples for a class absent from them).
    """
    n = clean.shape[0]
    given_y, variance, second = 0.0, 0.0, 0.0
    for share, value, mc_se, members in sp.classes:
        psi = influence_values(clean[members].unsqueeze(0), beta, INFLUENCE_ROWS, generator)[0]
        spread = float(psi.var()) / int(members.sum()) if psi.numel() > 1 else 0.0
        given_y += share * value
        second += share * value**2
        variance += share**2 * (mc_se**2 + spread)
    variance += max(0.0, second - given_y**2) / n
    piece["y_lower"] = Estimate(given_y, math.sqrt(variance))
    noisy = fresh.outputs.noisy[layer].to(torch.float64)
    fresh_clean = fresh.outputs.clean[layer].to(torch.float64)
    main_class = main_class.to(clean.device)
    terms = torch.empty(noisy.shape[0], dtype=torch.float64, device=noisy.device)
    for label_class in torch.unique(fresh_class).tolist():
        chosen = (fresh_class == label_class).to(noisy.device)
        members = main_class == label_class
        centres = clean[members] if bool(members.any()) else clean
        terms[chosen] = mixture_cross_entropy_terms(
            noisy[chosen].unsqueeze(0), fresh_clean[chosen].unsqueeze(0), centres.unsqueeze(0), beta
        )[0]
    piece["y_upper"] = Estimate.of_terms(terms)
    return 2


def _assemble(
    pieces: list[dict[str, Any]],
    n_bounds: int,
    input_entropy: float | None,
    label_entropy: float | None,
    with_labels: bool,
) -> Brackets:
    """Turn every layer's estimates into bounds at the common z (before the chain step)."""
    z = bonferroni_z(n_bounds)
    input_lower, input_upper, label_lower, label_upper, label_se = [], [], [], [], []
    for piece in pieces:
        noise = piece["noise"]
        h_lower = piece["h_lower"].lower(z)
        h_upper = min(estimate.upper(z) for estimate in piece["h_upper"])
        c_lower = max(noise, piece["c_lower"].lower(z))
        c_upper = piece["c_upper"].upper(z)
        lower = max([0.0, h_lower - c_upper] + [entropy - loss.upper(z) for entropy, loss in piece["decoders"]])
        upper = h_upper - c_lower
        if input_entropy is not None:
            upper = min(upper, input_entropy)
        input_lower.append(lower)
        input_upper.append(upper)
        if with_labels:
            y_lower = max(0.0, h_lower - piece["y_upper"].upper(z))
            if "label_decoder" in piece:
                entropy, loss = piece["label_decoder"]
                y_lower = max(y_lower, entropy - loss.upper(z))
            y_upper = h_upper - max(noise, piece["y_lower"].lower(z))
            if label_entropy is not None:
                y_upper = min(y_upper, label_entropy)
            label_lower.append(y_lower)
            label_upper.append(y_upper)
            label_se.append(math.hypot(piece["h_lower"].std_error, piece["y_lower"].std_error))
    return Brackets(
        input_lower=input_lower,
        input_upper=input_upper,
        label_lower=label_lower if with_labels else None,
        label_upper=label_upper if with_labels else None,
        input_entropy=input_entropy,
        label_entropy=label_entropy,
        marginal_se=[piece["h_lower"].std_error for piece in pieces],
        conditional_se=[piece["c_se"] for piece in pieces],
        label_se=label_se if with_labels else None,
        n_bounds=n_bounds,
        z=z,
    )
