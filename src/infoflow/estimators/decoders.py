"""Lower bounds on I(X;T) that stay valid at any width: decode X (or Y) from T.

For any conditional density or mass function q(x|t) (Barber & Agakov 2003),

    I(X;T) = H(X) - H(X|T) >= H(X) - E[-log q(X|T)],

because H(X|T) <= E[-log q(X|T)] (Gibbs, for every t). The expectation is estimated by the mean
loss of a decoder built from samples independent of the evaluation pairs (x_j, t_j), so the mean is
unbiased for an upper bound on H(X|T). Three decoders:

* **finite X** (support rows r with probabilities p_r): the posterior of a Gaussian model of T
  given X = r, q(r|t) ~ p_r exp(-|t - mu_r|^2 / (2 sigma^2)), mu_r the mean of S_l given r; sigma
  chosen among a few multiples of sqrt(beta^2 + within-row variance) on building pairs. Rows that
  T cannot tell apart share the posterior, so tight clusters give ~log(#clusters) by themselves
  (no explicit coarsening needed). A floor eps p_r ((1 - eps) q + eps p) bounds every loss by
  log(1 / (eps p_r)); it costs at most -log(1 - eps) ~ eps nats.
* **labels of a finite X**: q(y|t) = sum of q(r|t) over the rows labelled y; H(Y) is exact.
* **continuous X of known h(X)** (one Gaussian, a uniform box, a one-dimensional mixture): the
  linear-Gaussian regression decoder q(x|t) = N(x; A t + c, Sigma), A, c, Sigma fitted on building
  pairs: I(X;T) >= h(X) - E[-log q(X|T)]; nearly exact for linear networks on Gaussian X, and
  never limited by log n.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from infoflow.data.distributions import GaussianMixture, InputDistribution, Uniform

# Floor of the finite decoder's posterior, as a share of the prior.
FLOOR = 1e-3
# Multiples of the model's noise scale tried for sigma on the building pairs.
SIGMA_FACTORS = (1.0, 1.5, 2.0, 3.0, 5.0)
# The sigma choice uses at most max(MIN_CHOICE_PAIRS, CHOICE_ENTRIES / rows) building pairs: all
# 1000 for supports of up to 1048 rows, fewer for larger ones (1797 digits: 583; 4096 patterns: 256).
CHOICE_ENTRIES = 2**20
MIN_CHOICE_PAIRS = 256
# Entries of one (pairs x rows) tile of decoder logits.
TILE_ENTRIES = 2**22


def finite_decoder_losses(
    t: torch.Tensor,
    rows: torch.Tensor,
    means: torch.Tensor,
    probabilities: torch.Tensor,
    sigma2: float,
    row_classes: torch.Tensor | None = None,
    classes: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Return -log q(r_j|t_j) per pair and, with ``row_classes`` and ``classes``, -log q(y_j|t_j), nats.

    Parameters
    ----------
    t : Tensor of shape (m, d)
        Noisy layer outputs of the evaluation pairs.
    rows : Tensor of shape (m,)
        Their support rows.
    means : Tensor of shape (k, d)
        mu_r, the mean of S_l given each row (built from independent draws).
    probabilities : Tensor of shape (k,)
    sigma2 : float
    row_classes : Tensor of shape (k,), optional
        Class index of each row, for the class decoder q(y|t) = sum of q(r|t) over the class.
    classes : Tensor of shape (m,), optional
        The pairs' class indices (with ``row_classes``).

    Returns
    -------
    (Tensor of shape (m,), Tensor of shape (m,) or None), float64
    """
    losses = _decoder_losses(t, rows, means, probabilities, [sigma2], row_classes, classes)
    return losses[0]


def _decoder_losses(
    t: torch.Tensor,
    rows: torch.Tensor,
    means: torch.Tensor,
    probabilities: torch.Tensor,
    sigma2s: list[float],
    row_classes: torch.Tensor | None = None,
    classes: torch.Tensor | None = None,
) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """:func:`finite_decoder_losses` for several sigma^2 at once: one product t mu^T serves them all."""
    device = t.device
    t = t.to(torch.float64)
    means = means.to(t)
    probabilities = probabilities.to(t)
    log_prior = probabilities.log()
    m, k = t.shape[0], means.shape[0]
    shift = means.mean(0)
    t, means = t - shift, means - shift
    mean_norms = 0.5 * means.square().sum(-1)
    rows = rows.to(device)
    one_hot = class_prior = None
    if row_classes is not None:
        row_classes = row_classes.to(device)
        classes = classes.to(device)
        n_classes = int(row_classes.max()) + 1
        one_hot = torch.zeros(k, n_classes, dtype=torch.float64, device=device)
        one_hot[torch.arange(k, device=device), row_classes] = 1.0
        class_prior = probabilities @ one_hot
    results = [
        (
            torch.empty(m, dtype=torch.float64, device=device),
            None if one_hot is None else torch.empty(m, dtype=torch.float64, device=device),
        )
        for _ in sigma2s
    ]
    uniform = bool((probabilities == probabilities[0]).all())
    step = max(1, TILE_ENTRIES // max(1, k))
    for start in range(0, m, step):
        block = slice(start, min(m, start + step))
        # log q(r|t) = logits_r - log sum_r' exp(logits_r'), logits_r = log p_r - |t - mu_r|^2 / (2 sigma^2)
        # (the |t|^2 term is common to all rows and cancels).
        products = t[block] @ means.T
        products.sub_(mean_norms)
        if uniform:
            # Equal priors cancel too: logits - max = (products - max products) / sigma^2, so one
            # shifted product serves every sigma (two passes per sigma: scale-exp, sum).
            products.sub_(products.amax(dim=-1, keepdim=True))
            base = products.gather(1, rows[block].unsqueeze(1)).squeeze(1)
        for sigma2, (row_losses, class_losses) in zip(sigma2s, results):
            if uniform:
                chosen = base / sigma2
                weights = torch.mul(products, 1.0 / sigma2).exp_()
            else:
                logits = (products / sigma2).add_(log_prior)
                top = logits.amax(dim=-1, keepdim=True)
                chosen = logits.gather(1, rows[block].unsqueeze(1)).squeeze(1) - top.squeeze(1)
                weights = logits.sub_(top).exp_()
            normaliser = weights.sum(-1).log_()
            row_losses[block] = _floored_loss(chosen - normaliser, probabilities[rows[block]])
            if class_losses is not None:
                class_mass = (weights @ one_hot).gather(1, classes[block].unsqueeze(1)).squeeze(1)
                class_losses[block] = _floored_loss(class_mass.log() - normaliser, class_prior[classes[block]])
    return results


def _floored_loss(log_posterior: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """Return -log((1 - FLOOR) q + FLOOR prior): the loss of the floored decoder."""
    return -torch.logaddexp(math.log1p(-FLOOR) + log_posterior, math.log(FLOOR) + prior.log())


def choose_sigma2(
    t: torch.Tensor, rows: torch.Tensor, means: torch.Tensor, probabilities: torch.Tensor, scale2: float
) -> float:
    """Return the sigma^2 among SIGMA_FACTORS^2 * scale2 with the least mean loss on the building pairs."""
    candidates = [factor**2 * scale2 for factor in SIGMA_FACTORS]
    # Any sigma gives a valid bound (it is evaluated on other pairs): with many rows the choice is
    # made on the first CHOICE_ENTRIES / k of the (independent, identically drawn) building pairs.
    pairs = max(MIN_CHOICE_PAIRS, CHOICE_ENTRIES // max(1, means.shape[0]))
    t, rows = t[:pairs], rows[:pairs]
    losses = [float(row.mean()) for row, _ in _decoder_losses(t, rows, means, probabilities, candidates)]
    return candidates[int(np.argmin(losses))]


def entropy_of_probabilities(probabilities: torch.Tensor) -> float:
    """Return -sum p log p in nats (zero terms skipped)."""
    p = probabilities[probabilities > 0].to(torch.float64)
    return float(-(p * p.log()).sum())


def known_input_entropy(inputs: InputDistribution) -> float | None:
    """Return h(X) in nats where it is known exactly (or to quadrature accuracy), else None."""
    if isinstance(inputs, Uniform):
        return _box_entropy(inputs)
    if isinstance(inputs, GaussianMixture):
        covariances = inputs.covariances
        if covariances.shape[0] == 1:
            sign, log_det = torch.linalg.slogdet(2 * math.pi * math.e * covariances[0])
            return 0.5 * float(log_det)
        if inputs.dim == 1:
            return _mixture_entropy_1d(inputs)
    return None


def _box_entropy(inputs: Uniform) -> float:
    low = np.asarray(inputs.low, dtype=np.float64).reshape(-1)
    high = np.asarray(inputs.high, dtype=np.float64).reshape(-1)
    return float(np.log(high - low).sum())


def _mixture_entropy_1d(inputs: GaussianMixture) -> float:
    """h(X) of a scalar Gaussian mixture by the trapezoid rule on a grid of step sd/200 over +-12 sd.

    Remembered by the mixture's parameters (exact floats): a run asks at every record, and
    each evaluation cost 1.7 ms for fig6's two components (a second per seed).
    """
    key = (inputs.means, inputs.variances, inputs.weights)
    if key not in _MIXTURE_ENTROPIES:
        if len(_MIXTURE_ENTROPIES) >= 64:
            _MIXTURE_ENTROPIES.clear()
        means = inputs.mean_vectors[:, 0].numpy()
        sds = np.sqrt(inputs.covariances[:, 0, 0].numpy())
        low, high = float((means - 12 * sds).min()), float((means + 12 * sds).max())
        grid = torch.linspace(low, high, int((high - low) / (sds.min() / 200)) + 1, dtype=torch.float64)
        log_p = inputs.log_density(grid.unsqueeze(-1))
        integrand = -(log_p.exp() * log_p)
        _MIXTURE_ENTROPIES[key] = float(torch.trapezoid(integrand, grid))
    return _MIXTURE_ENTROPIES[key]


_MIXTURE_ENTROPIES: dict[tuple[tuple[float, ...], ...], float] = {}


def regression_decoder_losses(
    x_build: torch.Tensor, t_build: torch.Tensor, x_eval: torch.Tensor, t_eval: torch.Tensor
) -> torch.Tensor:
    """Return -log N(x_j; A t_j + c, Sigma) per evaluation pair, A, c, Sigma fitted on the building pairs.

    Parameters
    ----------
    x_build, x_eval : Tensor of shape (m, d_0)
    t_build, t_eval : Tensor of shape (m, d_l)

    Returns
    -------
    Tensor of shape (m_eval,), float64, nats
    """
    tb, te = t_build.to(torch.float64), t_eval.to(torch.float64)
    xb = x_build.reshape(x_build.shape[0], -1).to(tb)
    xe = x_eval.reshape(x_eval.shape[0], -1).to(tb)
    eye = lambda size: torch.eye(size, dtype=torch.float64, device=tb.device)  # noqa: E731
    t_mean, x_mean = tb.mean(0), xb.mean(0)
    tc, xc = tb - t_mean, xb - x_mean
    # Ridge of 1e-9 of the mean variance keeps a rank-deficient T solvable; any A gives a valid bound.
    gram = tc.T @ tc
    ridge = 1e-9 * float(torch.diagonal(gram).mean().clamp(min=1e-300))
    coefficients = torch.linalg.solve(gram + ridge * eye(gram.shape[0]), tc.T @ xc)
    residual = xc - tc @ coefficients
    dim = xb.shape[1]
    covariance = residual.T @ residual / max(1, xb.shape[0] - tb.shape[1] - 1)
    covariance += 1e-12 * float(torch.diagonal(covariance).mean().clamp(min=1e-300)) * eye(dim)
    factor = torch.linalg.cholesky(covariance)
    error = (xe - x_mean) - (te - t_mean) @ coefficients
    solved = torch.linalg.solve_triangular(factor, error.T, upper=False)
    log_det = 2.0 * torch.log(torch.diagonal(factor)).sum()
    return 0.5 * solved.square().sum(0) + 0.5 * log_det + 0.5 * dim * math.log(2 * math.pi)
