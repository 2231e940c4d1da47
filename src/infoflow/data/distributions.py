"""Input distributions for X and the seed's labelling rule.

Every distribution draws through a ``torch.Generator`` so a seed fixes every draw. Samples
are float64 tensors of shape (n, dim).

"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch


def _finite_list(name: str, values: Sequence[float]) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a list of numbers; got {values!r}") from None
    if not out:
        raise ValueError(f"{name} must not be empty")
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{name} must hold finite numbers; got {out}")
    return out


class InputDistribution:
    """Base class: a distribution of scalar inputs X with ``sample`` and, if discrete, a support."""

    dim: int = 1
    is_discrete: bool = False

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return n draws of X, float64 tensor of shape (n, 1)."""
        raise NotImplementedError

    def support(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (values of shape (k, 1), probabilities of shape (k,)) for a discrete X."""
        raise ValueError(f"{type(self).__name__} is continuous: it has no finite support")


@dataclass(frozen=True)
class DiscreteUniform(InputDistribution):
    """X uniform on a finite set of scalar values.

    Parameters
    ----------
    values : sequence of float
        The support, e.g. ``[-3, -1, 1, 3]``; values must be distinct.
    """

    values: tuple[float, ...]

    def __init__(self, values: Sequence[float]) -> None:
        vals = _finite_list("values", values)
        if len(set(vals)) != len(vals):
            raise ValueError(f"values must be distinct; got {vals}")
        object.__setattr__(self, "values", tuple(vals))

    @property
    def is_discrete(self) -> bool:  # type: ignore[override]
        return True

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        index = torch.randint(len(self.values), (n,), generator=generator)
        return torch.tensor(self.values, dtype=torch.float64)[index].unsqueeze(-1)

    def support(self) -> tuple[torch.Tensor, torch.Tensor]:
        k = len(self.values)
        values = torch.tensor(self.values, dtype=torch.float64).unsqueeze(-1)
        return values, torch.full((k,), 1.0 / k, dtype=torch.float64)


@dataclass(frozen=True)
class GaussianMixture(InputDistribution):
    """X from a finite mixture of scalar Gaussians.

    Parameters
    ----------
    means, variances, weights : sequence of float
        One entry per component; variances > 0; weights >= 0, normalised to sum to 1.
    """

    means: tuple[float, ...]
    variances: tuple[float, ...]
    weights: tuple[float, ...]

    def __init__(
        self, means: Sequence[float], variances: Sequence[float], weights: Sequence[float] | None = None
    ) -> None:
        mu = _finite_list("means", means)
        var = _finite_list("variances", variances)
        w = _finite_list("weights", weights) if weights is not None else [1.0] * len(mu)
        if not (len(mu) == len(var) == len(w)):
            raise ValueError(
                f"means, variances and weights must have equal lengths; got {len(mu)}, {len(var)}, {len(w)}"
            )
        if any(v <= 0 for v in var):
            raise ValueError(f"variances must be > 0; got {var}")
        if any(x < 0 for x in w) or sum(w) <= 0:
            raise ValueError(f"weights must be >= 0 with a positive sum; got {w}")
        total = sum(w)
        object.__setattr__(self, "means", tuple(mu))
        object.__setattr__(self, "variances", tuple(var))
        object.__setattr__(self, "weights", tuple(x / total for x in w))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        weights = torch.tensor(self.weights, dtype=torch.float64)
        component = torch.multinomial(weights, n, replacement=True, generator=generator)
        mean = torch.tensor(self.means, dtype=torch.float64)[component]
        std = torch.tensor(self.variances, dtype=torch.float64).sqrt()[component]
        noise = torch.randn(n, generator=generator, dtype=torch.float64)
        return (mean + std * noise).unsqueeze(-1)

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        """Return log p(x) in nats per unit, x of any shape, float64."""
        x = x.to(torch.float64).unsqueeze(-1)
        mu = torch.tensor(self.means, dtype=torch.float64)
        var = torch.tensor(self.variances, dtype=torch.float64)
        w = torch.tensor(self.weights, dtype=torch.float64)
        log_terms = torch.log(w) - 0.5 * torch.log(2 * math.pi * var) - (x - mu) ** 2 / (2 * var)
        return torch.logsumexp(log_terms, dim=-1)


class Gaussian(GaussianMixture):
    """X ~ N(mean, var), a scalar Gaussian (variance, not standard deviation)."""

    def __init__(self, mean: float = 0.0, var: float = 1.0) -> None:
        super().__init__([mean], [var], [1.0])

    @property
    def mean(self) -> float:
        return self.means[0]

    @property
    def var(self) -> float:
        return self.variances[0]

    def __repr__(self) -> str:
        return f"Gaussian(mean={self.mean}, var={self.var})"
