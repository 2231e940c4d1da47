"""``[inputs]``: the distribution of X, one table per ``kind``, each allowing only its own keys.

A scalar X is written with numbers (``values = [-3.0, 1.0]``, ``mean = 0.0``); an X in R^d with
lists of d numbers (rows ``[[0.0, 1.0], [1.0, 0.0]]``, ``mean = [0.0, 0.0]``) and, for Gaussians,
d x d covariance matrices as lists of rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic.dataclasses import dataclass

from infoflow.config.errors import invalid
from infoflow.config.types import SECTION, Matrix, Number, Text, Vector, fill_defaults

INPUT_KINDS = ("discrete_uniform", "gaussian", "gaussian_mixture", "uniform", "dataset", "szt")
# Kinds that carry labels of their own (labels.kind = "dataset").
LABELLED_KINDS = ("dataset", "szt")
DATASET_SUFFIXES = (".npz", ".csv")

_VALUES = "a non-empty list of distinct finite numbers, or of distinct rows of d finite numbers each (X in R^d)"
_MEAN = "a finite number or a non-empty list of d finite numbers"
_VARIANCE = "a finite number > 0 (a variance) or a d x d symmetric positive-definite covariance (a list of rows)"
_POINTS = "a non-empty list of finite numbers, or of rows of d finite numbers each (X in R^d)"


def _rows_dimension(field: str, points: tuple, allowed: str) -> int:
    """Return d of a list of numbers (1) or of rows (their common length), else raise."""
    if not points:
        raise invalid(field, allowed, points)
    if not isinstance(points[0], tuple):
        return 1
    if len(points[0]) == 0 or any(len(row) != len(points[0]) for row in points):
        raise invalid(field, "a list of rows of equal length d >= 1 (X in R^d)", points)
    return len(points[0])


def _check_variance(field: str, variance: float | Matrix, dim: int | None, value: Any) -> int:
    """Return the dimension a variance or covariance implies; raise unless it is valid.

    A number must be > 0; a matrix d x d (d = ``dim`` when given), symmetric and positive
    definite (its Cholesky factor exists).
    """
    if not isinstance(variance, tuple):
        if variance <= 0.0:
            raise invalid(field, _VARIANCE, value)
        return dim or 1
    size = len(variance)
    if size == 0 or any(len(row) != size for row in variance):
        raise invalid(field, "a square d x d covariance matrix (d rows of d numbers)", value)
    if dim is not None and size != dim:
        raise invalid(field, f"a number > 0 or a {dim} x {dim} covariance matrix (X in R^{dim})", value)
    matrix = np.array(variance, dtype=np.float64)
    if not np.array_equal(matrix, matrix.T):
        raise invalid(field, "a symmetric covariance matrix (row i, column j equal to row j, column i)", value)
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        raise invalid(
            field, "a positive-definite covariance matrix (its Cholesky factorisation fails)", value
        ) from None
    return size


@dataclass(frozen=True, config=SECTION)
class DiscreteUniformInputsConfig:
    """``kind = "discrete_uniform"``: X uniform on ``values`` (numbers, or rows for X in R^d)."""

    kind: Literal["discrete_uniform"] = Field(description='"discrete_uniform"')
    values: Vector | Matrix = Field(description=_VALUES)

    @model_validator(mode="after")
    def _check(self) -> DiscreteUniformInputsConfig:
        _rows_dimension("values", self.values, _VALUES)
        if len(set(self.values)) != len(self.values):
            raise invalid("values", _VALUES, self.values)
        return self

    @property
    def dim(self) -> int:
        """The dimension d of X (1 for a list of numbers)."""
        return _rows_dimension("values", self.values, _VALUES)


@dataclass(frozen=True, config=SECTION)
class GaussianInputsConfig:
    """``kind = "gaussian"``: X ~ N(mean, var): ``var`` a variance (isotropic) or a covariance."""

    kind: Literal["gaussian"] = Field(description='"gaussian"')
    mean: Number | Vector = Field(0.0, description=_MEAN)
    var: Number | Matrix = Field(1.0, description=_VARIANCE)

    @model_validator(mode="after")
    def _check(self) -> GaussianInputsConfig:
        if isinstance(self.mean, tuple) and not self.mean:
            raise invalid("mean", _MEAN, self.mean)
        _check_variance("var", self.var, len(self.mean) if isinstance(self.mean, tuple) else None, self.var)
        return self

    @property
    def dim(self) -> int:
        """The dimension d of X: the length of ``mean``, else the size of ``var``, else 1."""
        if isinstance(self.mean, tuple):
            return len(self.mean)
        return len(self.var) if isinstance(self.var, tuple) else 1


@dataclass(frozen=True, config=SECTION)
class GaussianMixtureInputsConfig:
    """``kind = "gaussian_mixture"``: components N(means[i], variances[i]) with ``weights``."""

    kind: Literal["gaussian_mixture"] = Field(description='"gaussian_mixture"')
    means: Vector | Matrix = Field(description=_POINTS)
    variances: tuple[Number | Matrix, ...] = Field(
        description="a list of variances > 0 (or, for X in R^d, d x d covariance matrices), one per entry of means"
    )
    weights: tuple[Number, ...] = Field(
        description="a list of finite numbers >= 0 with a positive sum, one per entry of means (default equal)"
    )

    @model_validator(mode="before")
    @classmethod
    def _equal_weights(cls, data: Any) -> Any:
        def fill(table: dict[str, Any]) -> None:
            if "weights" not in table and isinstance(table.get("means"), (list, tuple)):
                table["weights"] = (1.0,) * len(table["means"])

        return fill_defaults(data, fill)

    @model_validator(mode="after")
    def _check(self) -> GaussianMixtureInputsConfig:
        n_components = len(self.means)
        dim = _rows_dimension("means", self.means, _POINTS)
        if len(self.variances) != n_components:
            raise invalid(
                "variances", f"a list of {n_components} variances > 0, one per entry of inputs.means", self.variances
            )
        for variance in self.variances:
            if isinstance(variance, tuple) and not isinstance(self.means[0], tuple):
                raise invalid("variances", "a list of numbers > 0 (the means are scalars)", self.variances)
            _check_variance("variances", variance, dim, self.variances)
        if len(self.weights) != n_components or min(self.weights) < 0.0 or sum(self.weights) <= 0.0:
            raise invalid("weights", f"a list of {n_components} numbers >= 0 with a positive sum", self.weights)
        return self

    @property
    def dim(self) -> int:
        """The dimension d of X."""
        return _rows_dimension("means", self.means, _POINTS)


@dataclass(frozen=True, config=SECTION)
class UniformInputsConfig:
    """``kind = "uniform"``: X uniform on the box [low, high] (numbers, or lists of d numbers)."""

    kind: Literal["uniform"] = Field(description='"uniform"')
    low: Number | Vector = Field(description=_MEAN + " (the box's lower corner)")
    high: Number | Vector = Field(description=_MEAN + " (the box's upper corner), > low in every coordinate")

    @model_validator(mode="after")
    def _check(self) -> UniformInputsConfig:
        low, high = self.low, self.high
        if isinstance(low, tuple) and not low:
            raise invalid("low", _MEAN, low)
        if isinstance(low, tuple) != isinstance(high, tuple) or (isinstance(low, tuple) and len(low) != len(high)):
            shape = f"a list of {len(low)} numbers" if isinstance(low, tuple) else "a number"
            raise invalid("high", f"{shape}, like inputs.low", high)
        pairs = zip(low, high) if isinstance(low, tuple) else [(low, high)]
        if not all(lower < upper for lower, upper in pairs):
            raise invalid("high", "greater than inputs.low in every coordinate", high)
        return self

    @property
    def dim(self) -> int:
        """The dimension d of X."""
        return len(self.low) if isinstance(self.low, tuple) else 1


@dataclass(frozen=True, config=SECTION)
class DatasetInputsConfig:
    """``kind = "dataset"``: X uniform over the rows of a data file (read by the builder, not here).

    Attributes
    ----------
    path : str
        The absolute path of a .npz (array "x" of shape (k, d) or (k,), optional "y") or a .csv
        (numeric columns). A relative path is resolved, at validation, against the validation
        context's ``base_dir`` (the config file's folder), else the working directory.
    label_column : str or None
        .csv only: the column holding the labels (the other columns are X).
    split : float or None
        The share of rows used for training, in (0, 1), the rest for testing; None: train and
        test both on all rows.
    """

    kind: Literal["dataset"] = Field(description='"dataset"')
    path: Text = Field(
        description="the path of an existing .npz or .csv file (a relative path is read from the config file's folder)"
    )
    label_column: Text | None = Field(None, description="a column name of the .csv file, or left out")
    split: Number | None = Field(
        None, gt=0.0, lt=1.0, description="a number in (0, 1) (the training share of the rows), or left out"
    )

    @field_validator("path")
    @classmethod
    def _resolve(cls, path: str, info: ValidationInfo) -> str:
        base_dir = (info.context or {}).get("base_dir")
        resolved = (Path(base_dir or ".") / Path(path).expanduser()).resolve()
        if resolved.suffix.lower() not in DATASET_SUFFIXES:
            raise invalid("path", "the path of a .npz or .csv file", path)
        # The full path is in the sentence: the value shown may be cut short.
        if resolved.is_dir():
            raise invalid("path", f"an existing .npz or .csv file, not a folder like {resolved}", path)
        if not resolved.is_file():
            raise invalid("path", f"an existing .npz or .csv file; there is no {resolved}", path)
        return str(resolved)

    @model_validator(mode="after")
    def _check(self) -> DatasetInputsConfig:
        if self.label_column is not None and not self.path.lower().endswith(".csv"):
            raise invalid(
                "label_column", 'left out for a .npz data set (its labels are the array "y")', self.label_column
            )
        return self

    @property
    def dim(self) -> None:
        """None: the dimension is known only once the file is read."""
        return None


@dataclass(frozen=True, config=SECTION)
class SztInputsConfig:
    """``kind = "szt"``: the shipped 12-bit data set of Shwartz-Ziv & Tishby (4096 patterns in {0,1}^12,
    binary labels). Training uses the published split (3277 train, 819 test); X for the
    information measurements is uniform over all 4096 patterns.
    """

    kind: Literal["szt"] = Field(description='"szt"')

    @property
    def dim(self) -> int:
        """12 bits."""
        return 12


InputsConfig = Annotated[
    Union[
        DiscreteUniformInputsConfig,
        GaussianInputsConfig,
        GaussianMixtureInputsConfig,
        UniformInputsConfig,
        DatasetInputsConfig,
        SztInputsConfig,
    ],
    Field(discriminator="kind"),
]
INPUT_CONFIGS: dict[str, type] = {
    "discrete_uniform": DiscreteUniformInputsConfig,
    "gaussian": GaussianInputsConfig,
    "gaussian_mixture": GaussianMixtureInputsConfig,
    "uniform": UniformInputsConfig,
    "dataset": DatasetInputsConfig,
    "szt": SztInputsConfig,
}
