"""Every estimator's entropies and I(X;T_l), I(T_l;Y) on one set of SP draws.

The estimators (``estimator=`` of :func:`infoflow.measure_information`), all on the same samples:
"sp" (the entropy engine: quadrature for d <= 2, Monte Carlo otherwise), "kl_upper" and
"bhattacharyya_lower" (pairwise-distance bounds of Kolchinsky & Tracey on the same Gaussian
mixtures) and "binning" (plug-in entropies of the noisy T_l binned per unit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from infoflow.entropy import gaussian_entropy, sp_entropy
from infoflow.estimators.bounds import PAIRWISE_OF_ESTIMATOR, binned_entropy, pairwise_distance_entropy
from infoflow.estimators.brackets import LayerSP
from infoflow.estimators.confidence import Estimate
from infoflow.estimators.draws import Conditionals, Draws
from infoflow.estimators.label_classes import label_classes


@dataclass(frozen=True)
class Entropies:
    """Entropies of a batch of point sets by one estimator: values (B,) and standard errors (B,)."""

    nats: torch.Tensor
    std_error: torch.Tensor


def set_entropies(
    estimator: str,
    clean: torch.Tensor,
    noisy: torch.Tensor,
    beta: float,
    bin_size: float,
    generator: torch.Generator,
    target_std_error: float = 0.01,
) -> Entropies:
    """Return each set's entropy by ``estimator``; clean and noisy of shape (B, n, d).

    ``target_std_error`` (nats) is the Monte-Carlo standard error aimed at per set where the
    engine integrates by Monte Carlo (d > 2); quadrature is exact and ignores it.
    """
    if estimator == "sp":
        nats, std_error = sp_entropy(
            clean, beta, generator=generator, return_std_error=True, target_std_error=target_std_error
        )
        return Entropies(nats.reshape(-1), std_error.reshape(-1))
    if estimator == "binning":
        nats = binned_entropy(noisy, bin_size)
    else:
        nats = pairwise_distance_entropy(clean, beta, PAIRWISE_OF_ESTIMATOR[estimator])
    return Entropies(nats, torch.zeros_like(nats))


@dataclass(frozen=True)
class Estimates:
    """Every estimator's values on one set of draws (per layer lists; nats)."""

    mi_input: dict[str, list[float]]
    mi_label: dict[str, list[float]] | None
    entropy: list[float]
    conditional_entropy: list[float]
    monte_carlo_se: list[float]
    sp_layers: list[LayerSP]


def estimate_all(
    names: tuple[str, ...],
    draws: Draws,
    *,
    bin_size: float,
    target_std_error: float,
    generator: torch.Generator,
) -> Estimates:
    """Return I(X;T_l), I(T_l;Y) and the entropies by every estimator in ``names`` (the primary first)."""
    unconditional, conditional = draws.unconditional, draws.conditional
    n = unconditional.clean[0].shape[0]
    device = unconditional.clean[0].device
    class_index, n_classes = (
        label_classes(draws.labels, n, device) if draws.labels is not None else (None, 0)
    )
    # Monte-Carlo error budget of each I(X;T_l): half its variance to h(T_l), half to the weighted
    # mean of the conditionals (Var = sum_x w_x^2 SE_x^2).
    marginal_target = target_std_error / math.sqrt(2.0)
    conditional_target = marginal_target / float(conditional.weights.square().sum().sqrt())
    # The same budget for h(T_l|Y) = sum_y p_y h(T_l|Y=y): Var = sum_y p_y^2 SE_y^2, so each class may
    # carry marginal_target / sqrt(sum_y p_y^2) (sqrt(k) times looser for k balanced classes).
    class_target = marginal_target
    if class_index is not None:
        shares = torch.bincount(class_index.reshape(-1).cpu(), minlength=n_classes).to(torch.float64) / n
        class_target = marginal_target / float(shares.square().sum().sqrt())
    mi_input: dict[str, list[float]] = {name: [] for name in names}
    mi_label: dict[str, list[float]] = {name: [] for name in names}
    entropy, conditional_entropy, monte_carlo_se, sp_layers = [], [], [], []
    for layer in range(unconditional.n_layers):
        clean, noisy = unconditional.clean[layer], unconditional.noisy[layer]
        beta = unconditional.betas[layer]
        for name in names:
            marginal = set_entropies(
                name, clean.unsqueeze(0), noisy.unsqueeze(0), beta, bin_size, generator, marginal_target
            )
            given_x, per_input = _expected_conditional_entropy(
                name, layer, clean.shape[-1], beta, conditional, bin_size, generator, conditional_target
            )
            mi_input[name].append(float(marginal.nats[0]) - given_x[0])
            classes = None
            if class_index is not None:
                classes = []
                for label_class in range(n_classes):
                    members = class_index == label_class
                    part = set_entropies(
                        name, clean[members].unsqueeze(0), noisy[members].unsqueeze(0), beta, bin_size, generator,
                        class_target,
                    )
                    share = float(members.sum()) / n
                    classes.append((share, float(part.nats[0]), float(part.std_error[0]), members))
                mi_label[name].append(float(marginal.nats[0]) - sum(share * value for share, value, _, _ in classes))
            if name == names[0]:
                entropy.append(float(marginal.nats[0]))
                conditional_entropy.append(given_x[0])
                monte_carlo_se.append(math.hypot(float(marginal.std_error[0]), given_x[1]))
            if name == "sp":
                sp_layers.append(LayerSP(
                    marginal=Estimate(float(marginal.nats[0]), float(marginal.std_error[0])),
                    per_input=None if per_input is None else per_input.nats,
                    per_input_se=None if per_input is None else per_input.std_error,
                    conditional=given_x[0],
                    classes=classes,
                ))
    labelled = mi_label if class_index is not None else None
    return Estimates(mi_input, labelled, entropy, conditional_entropy, monte_carlo_se, sp_layers)


def _expected_conditional_entropy(
    estimator: str,
    layer: int,
    width: int,
    beta: float,
    conditional: Conditionals,
    bin_size: float,
    generator: torch.Generator,
    target_std_error: float,
) -> tuple[tuple[float, float], Entropies | None]:
    """Return ((E_X h(T_l|X), its Monte-Carlo SE), the per-input entropies or None) for 0-based ``layer``."""
    if layer == 0 and estimator != "binning":
        # T_1 | X=x = S_1(x) + Z_1 is exactly N(S_1(x), beta^2 I): S_1 is a function of x.
        return (gaussian_entropy(width, beta), 0.0), None
    assert conditional.clean is not None
    noisy = conditional.noisy[layer] if conditional.noisy is not None else conditional.clean[layer]
    per_input = set_entropies(
        estimator, conditional.clean[layer], noisy, beta, bin_size, generator, target_std_error
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
    return (expected, math.sqrt(variance)), per_input


