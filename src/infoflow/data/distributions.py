"""Distributions of the input X, of any dimension.

Every distribution draws through a ``torch.Generator`` so a seed fixes every draw. Samples are
float64 tensors of shape (n, d) (``d = dim``); a discrete distribution also exposes its finite
support. Arguments are validated once, here: a bad one raises ValueError naming it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from infoflow.validation import check_memory

# Refuse supports and dimensions whose arrays alone would exceed this many float64 entries (8 GiB):
# the check runs before anything of that size is allocated.
MAX_ENTRIES = 2**30


def as_float_array(name: str, values: Any, *, ndim: tuple[int, ...]) -> np.ndarray:
    """Return ``values`` as a finite float64 array with one of the allowed ``ndim``, or raise ValueError."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    try:
        array = np.asarray(values)
    except ValueError:
        raise ValueError(f"{name} must be a number or a rectangular array of numbers; got ragged rows") from None
    if array.dtype == object or array.dtype.kind not in "biuf":
        kind = "complex numbers" if array.dtype.kind == "c" else f"dtype {array.dtype}"
        raise ValueError(f"{name} must hold real numbers; got {kind}")
    if array.dtype.kind == "b":
        raise ValueError(f"{name} must hold numbers, not booleans")
    if array.size > MAX_ENTRIES:
        raise ValueError(f"{name} has {array.size} entries; at most {MAX_ENTRIES} are allowed")
    array = array.astype(np.float64)
    if array.ndim not in ndim:
        shapes = " or ".join(
            {0: "a number", 1: "a list (k,)", 2: "rows (k, d)", 3: "matrices (k, d, d)"}[n] for n in ndim
        )
        raise ValueError(f"{name} must be {shapes}; got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must hold finite numbers")
    return array


def check_count(n: Any, dim: int = 1, generator: Any = None) -> int:
    """Return the number of draws ``n`` after checking it (and ``generator``) before drawing."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"the number of draws must be an integer >= 1; got {n!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None; got {type(generator).__name__}")
    # The draws, their noise and one working copy, in float64.
    check_memory("n", int(n), 3 * 8 * int(n) * dim, f"{int(n)} draws of dimension {dim}")
    return int(n)


class InputDistribution:
    """Base class: a distribution of inputs X in R^dim with ``sample`` and, if discrete, a support."""

    dim: int = 1
    is_discrete: bool = False
    has_labels: bool = False

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return n draws of X, float64 tensor of shape (n, dim)."""
        raise NotImplementedError

    def support(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (values of shape (k, dim), probabilities of shape (k,)) for a discrete X."""
        raise ValueError(f"{type(self).__name__} is continuous: it has no finite support")


class DiscreteUniform(InputDistribution):
    """X uniform on a finite set of points.

    Parameters
    ----------
    values : sequence of float, or array of shape (k, d)
        The support: k distinct scalars (e.g. ``[-3, -1, 1, 3]``) or k distinct rows in R^d.
    """

    is_discrete = True

    def __init__(self, values: Any) -> None:
        array = as_float_array("values", values, ndim=(1, 2))
        rows = array.reshape(len(array), -1)
        if len(np.unique(rows, axis=0)) != len(rows):
            raise ValueError("values must be distinct (every support point once)")
        self._rows = rows
        self.dim = rows.shape[1]

    @property
    def values(self) -> tuple[float, ...] | tuple[tuple[float, ...], ...]:
        """The support as given: floats for scalar X, tuples of floats (rows) otherwise."""
        if self.dim == 1:
            return tuple(float(v) for v in self._rows[:, 0])
        return tuple(tuple(float(v) for v in row) for row in self._rows)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        index = torch.randint(len(self._rows), (check_count(n, self.dim, generator),), generator=generator)
        return torch.from_numpy(self._rows)[index]

    def support(self) -> tuple[torch.Tensor, torch.Tensor]:
        k = len(self._rows)
        return torch.from_numpy(self._rows.copy()), torch.full((k,), 1.0 / k, dtype=torch.float64)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DiscreteUniform) and np.array_equal(self._rows, other._rows)

    def __hash__(self) -> int:
        return hash(self._rows.tobytes())

    def __repr__(self) -> str:
        return (
            f"DiscreteUniform({list(self.values)!r})"
            if len(self._rows) <= 16
            else (f"DiscreteUniform(<{len(self._rows)} points in R^{self.dim}>)")
        )


def _covariances(name: str, variances: Any, k: int, dim: int) -> np.ndarray:
    """Return (k, dim, dim) covariances from scalars (isotropic variances) or matrices; checked SPD."""
    array = as_float_array(name, variances, ndim=(0, 1, 2, 3))
    if array.ndim <= 1:
        scalars = np.broadcast_to(array, (k,)) if array.ndim == 0 else array
        if scalars.shape != (k,):
            raise ValueError(f"{name} must give one variance per component ({k}); got {scalars.shape[0]}")
        if np.any(scalars <= 0):
            raise ValueError(f"{name} must be > 0; got {scalars.tolist()}")
        return scalars[:, None, None] * np.eye(dim)[None]
    matrices = array[None] if array.ndim == 2 else array
    if matrices.shape != (k, dim, dim):
        raise ValueError(f"{name} must be {k} covariance matrices of shape ({dim}, {dim}); got shape {array.shape}")
    if not np.allclose(matrices, np.swapaxes(matrices, 1, 2), rtol=1e-12, atol=0.0):
        raise ValueError(f"{name} must be symmetric covariance matrices")
    for matrix in matrices:
        try:
            np.linalg.cholesky(matrix)
        except np.linalg.LinAlgError:
            raise ValueError(f"{name} must be positive definite covariance matrices") from None
    return matrices.copy()


class GaussianMixture(InputDistribution):
    """X from a finite mixture of Gaussians in R^d.

    Parameters
    ----------
    means : sequence of float, or array of shape (k, d)
        One mean per component (scalars for d = 1).
    variances : sequence of float, or array of shape (k, d, d)
        One variance per component: a scalar (isotropic variance, not s.d.) or a covariance matrix.
    weights : sequence of float, optional
        >= 0 with a positive sum, normalised to 1; equal by default.
    """

    def __init__(self, means: Any, variances: Any, weights: Sequence[float] | None = None) -> None:
        mu = as_float_array("means", means, ndim=(1, 2))
        mu = mu.reshape(len(mu), -1)
        k, dim = mu.shape
        covariances = _covariances("variances", variances, k, dim)
        w = np.ones(k) if weights is None else as_float_array("weights", weights, ndim=(1,))
        if w.shape != (k,):
            raise ValueError(f"weights must give one weight per component ({k}); got {w.shape[0]}")
        if np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"weights must be >= 0 with a positive sum; got {w.tolist()}")
        self.dim = dim
        self._means = mu
        self._covariances = covariances
        self._weights = w / w.sum()
        self._cholesky = np.linalg.cholesky(covariances)

    # Scalar views (d = 1), as the exact-MI quadrature reads them.
    @property
    def means(self) -> tuple[float, ...]:
        self._require_scalar("means")
        return tuple(float(v) for v in self._means[:, 0])

    @property
    def variances(self) -> tuple[float, ...]:
        self._require_scalar("variances")
        return tuple(float(v) for v in self._covariances[:, 0, 0])

    @property
    def weights(self) -> tuple[float, ...]:
        return tuple(float(v) for v in self._weights)

    def _require_scalar(self, name: str) -> None:
        if self.dim != 1:
            raise ValueError(
                f"{name} as scalars exist for 1-D inputs only; use mean_vectors / covariances (d = {self.dim})"
            )

    @property
    def mean_vectors(self) -> torch.Tensor:
        """Component means, float64 (k, d)."""
        return torch.from_numpy(self._means.copy())

    @property
    def covariances(self) -> torch.Tensor:
        """Component covariances, float64 (k, d, d)."""
        return torch.from_numpy(self._covariances.copy())

    @property
    def component_weights(self) -> torch.Tensor:
        """Component weights, float64 (k,), summing to 1."""
        return torch.from_numpy(self._weights.copy())

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        n = check_count(n, self.dim, generator)
        weights = torch.from_numpy(self._weights)
        component = torch.multinomial(weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        if self.dim == 1:
            # The scalar path of earlier versions, kept so the same seed gives the same numbers.
            mean = torch.from_numpy(self._means[:, 0])[component]
            std = torch.from_numpy(self._covariances[:, 0, 0]).sqrt()[component]
            return (mean + std * noise[:, 0]).unsqueeze(-1)
        mean = torch.from_numpy(self._means)[component]
        factor = torch.from_numpy(self._cholesky)[component]
        return mean + (factor @ noise.unsqueeze(-1)).squeeze(-1)

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        """Return log p(x) in nats, x of shape (..., d) (or any shape for d = 1, per unit), float64."""
        x = x.to(torch.float64)
        if self.dim == 1:
            x = x.unsqueeze(-1) if x.shape[-1:] != (1,) else x
        difference = x.unsqueeze(-2) - torch.from_numpy(self._means)  # (..., k, d)
        factor = torch.from_numpy(self._cholesky)
        solved = torch.linalg.solve_triangular(factor, difference.unsqueeze(-1), upper=False).squeeze(-1)
        log_det = 2.0 * torch.log(torch.diagonal(factor, dim1=-2, dim2=-1)).sum(-1)
        log_terms = (
            torch.log(torch.from_numpy(self._weights))
            - 0.5 * (self.dim * math.log(2 * math.pi) + log_det)
            - 0.5 * solved.square().sum(-1)
        )
        return torch.logsumexp(log_terms, dim=-1)

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and np.array_equal(self._means, other._means)  # type: ignore[attr-defined]
            and np.array_equal(self._covariances, other._covariances)  # type: ignore[attr-defined]
            and np.array_equal(self._weights, other._weights)  # type: ignore[attr-defined]
        )

    def __hash__(self) -> int:
        return hash((self._means.tobytes(), self._covariances.tobytes(), self._weights.tobytes()))

    def __repr__(self) -> str:
        if self.dim == 1:
            return f"GaussianMixture(means={list(self.means)}, variances={list(self.variances)}, weights={list(self.weights)})"
        return f"GaussianMixture(<{len(self._means)} components in R^{self.dim}>)"


class Gaussian(GaussianMixture):
    """X ~ N(mean, var): ``mean`` a scalar or (d,), ``var`` a scalar variance (isotropic) or a (d, d) covariance."""

    def __init__(self, mean: Any = 0.0, var: Any = 1.0) -> None:
        mean_array = as_float_array("mean", mean, ndim=(0, 1))
        var_array = as_float_array("var", var, ndim=(0, 2))
        dim = max(mean_array.size, var_array.shape[0] if var_array.ndim == 2 else 1)
        if mean_array.ndim == 1 and var_array.ndim == 2 and mean_array.size != var_array.shape[0]:
            raise ValueError(f"mean has {mean_array.size} entries but var is {var_array.shape}")
        means = np.broadcast_to(mean_array, (dim,))[None]
        try:
            super().__init__(means, var_array if var_array.ndim == 0 else var_array[None], [1.0])
        except ValueError as error:
            raise ValueError(str(error).replace("variances", "var")) from None

    @property
    def mean(self) -> float | tuple[float, ...]:
        return float(self._means[0, 0]) if self.dim == 1 else tuple(float(v) for v in self._means[0])

    @property
    def var(self) -> float | tuple[tuple[float, ...], ...]:
        if self.dim == 1:
            return float(self._covariances[0, 0, 0])
        return tuple(tuple(float(v) for v in row) for row in self._covariances[0])

    def __repr__(self) -> str:
        return f"Gaussian(mean={self.mean}, var={self.var})"


class Uniform(InputDistribution):
    """X uniform on the box [low, high] (scalars, or (d,) arrays: independent coordinates)."""

    def __init__(self, low: Any = -1.0, high: Any = 1.0) -> None:
        low_array = as_float_array("low", low, ndim=(0, 1)).reshape(-1)
        high_array = as_float_array("high", high, ndim=(0, 1)).reshape(-1)
        dim = max(low_array.size, high_array.size)
        try:
            low_array, high_array = np.broadcast_to(low_array, (dim,)), np.broadcast_to(high_array, (dim,))
        except ValueError:
            raise ValueError(
                f"low and high must have equal lengths; got {low_array.size} and {high_array.size}"
            ) from None
        if np.any(low_array >= high_array):
            raise ValueError(
                f"low must be < high in every coordinate; got low={low_array.tolist()}, high={high_array.tolist()}"
            )
        self.dim = dim
        self._low = low_array.copy()
        self._high = high_array.copy()

    @property
    def low(self) -> float | tuple[float, ...]:
        return float(self._low[0]) if self.dim == 1 else tuple(self._low.tolist())

    @property
    def high(self) -> float | tuple[float, ...]:
        return float(self._high[0]) if self.dim == 1 else tuple(self._high.tolist())

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        unit = torch.rand(check_count(n, self.dim, generator), self.dim, generator=generator, dtype=torch.float64)
        return torch.from_numpy(self._low) + unit * torch.from_numpy(self._high - self._low)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Uniform)
            and np.array_equal(self._low, other._low)
            and np.array_equal(self._high, other._high)
        )

    def __hash__(self) -> int:
        return hash((self._low.tobytes(), self._high.tobytes()))

    def __repr__(self) -> str:
        return f"Uniform(low={self.low}, high={self.high})"
