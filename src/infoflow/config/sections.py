"""``[labels]``, ``[training]``; ``[estimation]`` and ``[density]`` are one MeasurementSettings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass as plain_dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import Field, model_validator
from pydantic.dataclasses import dataclass

from infoflow.config.errors import invalid, one_of
from infoflow.config.types import SECTION, Integer, Number, fill_defaults
from infoflow.measure.settings import AUTO, DENSITY_FIELDS, GridLimits, MeasurementSettings

LABEL_KINDS = ("threshold", "dataset", "sum_sign")
LOSSES = ("mse", "cross_entropy")
# "kong2019_code" is Kong 2019's author's actual update, off by default: gradients are never zeroed
# between steps, so each step uses the running sum of every gradient so far (SGD with momentum 1, no
# dampening). Offered to measure what that choice does, not as a recommendation.
OPTIMIZERS = ("sgd", "adam", "kong2019_code")
# Old spellings, still read ("seed" named the first reproduced paper).
OPTIMIZER_ALIASES = {"seed_code": "kong2019_code"}
# Activations whose range has no bound: their density grid is chosen from the data ("auto").
UNBOUNDED_ACTIVATIONS = ("leaky_relu", "relu", "linear")

_FINITE = "a finite number"
_POSITIVE = "a finite number > 0"
_AT_LEAST_ONE = "an integer >= 1"


# ----------------------------------------------------------------------------------------------
# [labels]
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, config=SECTION)
class ThresholdLabelsConfig:
    """``kind = "threshold"`` (the default): label = ``above`` if x > ``threshold`` else ``below``.

    Needs a scalar X. Accuracy thresholds the output at the midpoint of ``below`` and ``above``.
    """

    kind: Literal["threshold"] = Field("threshold", description=one_of(LABEL_KINDS))
    threshold: Number = Field(0.0, description=_FINITE)
    below: Number = Field(-1.0, description=_FINITE)
    above: Number = Field(1.0, description=f"{_FINITE} different from labels.below")

    @model_validator(mode="after")
    def _distinct(self) -> ThresholdLabelsConfig:
        if self.above == self.below:
            raise invalid("above", f"{_FINITE} different from labels.below", self.above)
        return self


@dataclass(frozen=True, config=SECTION)
class DatasetLabelsConfig:
    """``kind = "dataset"``: the labels are the data set's y (needs ``inputs.kind = "dataset"``)."""

    kind: Literal["dataset"] = Field(description=one_of(LABEL_KINDS))


@dataclass(frozen=True, config=SECTION)
class SumSignLabelsConfig:
    """``kind = "sum_sign"``: label = ``above`` if x_1 + ... + x_d > 0 else ``below`` (X of any dimension).

    The sign of the sum of a sequence (the ``rnn`` experiment). Accuracy thresholds the output
    at the midpoint of ``below`` and ``above``.
    """

    kind: Literal["sum_sign"] = Field(description=one_of(LABEL_KINDS))
    below: Number = Field(-1.0, description=_FINITE)
    above: Number = Field(1.0, description=f"{_FINITE} different from labels.below")

    @model_validator(mode="after")
    def _distinct(self) -> SumSignLabelsConfig:
        if self.above == self.below:
            raise invalid("above", f"{_FINITE} different from labels.below", self.above)
        return self


LabelsConfig = Annotated[
    Union[ThresholdLabelsConfig, DatasetLabelsConfig, SumSignLabelsConfig], Field(discriminator="kind")
]
LABEL_CONFIGS: dict[str, type] = {
    "threshold": ThresholdLabelsConfig,
    "dataset": DatasetLabelsConfig,
    "sum_sign": SumSignLabelsConfig,
}


# ----------------------------------------------------------------------------------------------
# [training]
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, config=SECTION)
class TrainingConfig:
    """``[training]``: see :class:`infoflow.training.trainer.TrainingSettings`.

    ``batch_size`` defaults to ``train_size`` (full batch); ``lr_drop_accuracy`` None = never.
    ``loss = "cross_entropy"`` is the binary logistic loss for a one-unit output and softmax
    cross-entropy over T_L with integer class labels for a wider one. ``orthonormal = alpha``
    (0 < alpha < 1) applies A <- A - alpha (A A^T A - A) to every Linear/Conv weight but the
    last after each step (``training/orthonormal.py``); left out or 0: off.
    """

    epochs: Integer = Field(100, ge=0, description="an integer >= 0")
    optimizer: Literal[OPTIMIZERS] = Field(  # type: ignore[valid-type]
        "sgd",
        description=one_of(OPTIMIZERS)
        + ' ("kong2019_code": the Kong 2019 author\'s update, gradients never zeroed between steps; off by default)',
    )
    learning_rate: Number = Field(0.001, gt=0.0, description=_POSITIVE)
    momentum: Number = Field(0.0, ge=0.0, lt=1.0, description="a number in [0, 1)")
    loss: Literal[LOSSES] = Field("mse", description=one_of(LOSSES))  # type: ignore[valid-type]
    train_size: Integer = Field(1000, ge=1, description=_AT_LEAST_ONE)
    test_size: Integer = Field(1000, ge=1, description=_AT_LEAST_ONE)
    batch_size: Integer = Field(1000, ge=1, description="an integer in [1, training.train_size]")
    lr_drop_factor: Number = Field(
        20.0, ge=1.0, description="a finite number >= 1 (the learning rate is divided by it)"
    )
    lr_drop_accuracy: Number | None = Field(
        None, ge=0.0, le=1.0, description="a number in [0, 1] (leave it out to never drop)"
    )
    orthonormal: Number | None = Field(
        None,
        ge=0.0,
        lt=1.0,
        description="a number in [0, 1) (the orthonormality step alpha; 0 or left out: off)",
    )

    @model_validator(mode="before")
    @classmethod
    def _full_batch(cls, data: Any) -> Any:
        def fill(table: dict[str, Any]) -> None:
            if "batch_size" not in table:
                table["batch_size"] = table.get("train_size", 1000)
            if isinstance(table.get("optimizer"), str) and table["optimizer"] in OPTIMIZER_ALIASES:
                table["optimizer"] = OPTIMIZER_ALIASES[table["optimizer"]]

        return fill_defaults(data, fill)

    @model_validator(mode="after")
    def _consistent(self) -> TrainingConfig:
        if self.batch_size > self.train_size:
            raise invalid("batch_size", f"an integer in [1, training.train_size = {self.train_size}]", self.batch_size)
        if self.optimizer != "sgd" and self.momentum != 0.0:
            raise invalid(
                "momentum", f'0 with optimizer = "{self.optimizer}" (momentum is an SGD setting)', self.momentum
            )
        return self


# ----------------------------------------------------------------------------------------------
# [estimation] and [density]: one MeasurementSettings (measure/settings.py)
# ----------------------------------------------------------------------------------------------

# The [estimation] table is MeasurementSettings less its density fields; "binning_bin_size" is
# the older name of "bin_size". The [density] table holds density_points and density_limits.
EstimationConfig = MeasurementSettings
ESTIMATION_KEYS = tuple(
    name for name in MeasurementSettings.__pydantic_fields__ if name not in (*DENSITY_FIELDS, "densities")
)
ESTIMATION_ALIASES = {"binning_bin_size": "bin_size"}
DENSITY_KEYS = tuple(name.removeprefix("density_") for name in DENSITY_FIELDS)


def fixed_density_limits(activations: Sequence[str], beta: float) -> tuple[tuple[float, float], ...]:
    """Return a fixed grid range per layer: the activation's range padded by 6 beta.

    tanh [-1 - 6 beta, 1 + 6 beta], sigmoid [-6 beta, 1 + 6 beta], relu [-6 beta, 5], leaky_relu
    and linear [-5, 5] (the unbounded ones cut at 5: a fallback where "auto" cannot be used).
    """
    pad = 6.0 * beta
    ranges = {"tanh": (-1.0 - pad, 1.0 + pad), "sigmoid": (-pad, 1.0 + pad), "relu": (-pad, 5.0)}
    # Rounded so the resolved config reads 1.3, not 1.3000000000000003.
    return tuple(tuple(round(bound, 9) for bound in ranges.get(name, (-5.0, 5.0))) for name in activations)  # type: ignore[misc]


def default_density_limits(activations: Sequence[str], beta: float) -> tuple[GridLimits, ...]:
    """Return each layer's default density grid: "auto" or the activation's padded range.

    Bounded activations (tanh, sigmoid) get :func:`fixed_density_limits`; unbounded ones (relu,
    leaky_relu, linear) get "auto": the runner chooses the grid from the data.
    """
    fixed = fixed_density_limits(activations, beta)
    return tuple(AUTO if name in UNBOUNDED_ACTIVATIONS else limits for name, limits in zip(activations, fixed))


@plain_dataclass(frozen=True)
class DensityConfig:
    """A config's ``[density]`` table, read from its MeasurementSettings (``config.density``).

    ``points``: grid points per layer; ``limits``: each layer's grid, [low, high] or "auto"
    (the runner chooses the grid from the data and records the mass outside it).
    """

    points: int
    limits: tuple[GridLimits, ...]
