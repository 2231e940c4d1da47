"""The whole experiment: every table, and the rules that tie tables together."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic.dataclasses import dataclass

from infoflow.config.errors import invalid
from infoflow.config.inputs import LABELLED_KINDS, InputsConfig
from infoflow.config.network import NetworkConfig
from infoflow.config.sections import DensityConfig, LabelsConfig, TrainingConfig, fixed_density_limits
from infoflow.config.types import SECTION, Integer, Text
from infoflow.measure.settings import AUTO, MeasurementSettings
from infoflow.validation import MAX_SEED

# Seeds are stored exactly in metrics.csv's float64 table, so at most 2**53 - 1.
_SEEDS = "a non-empty list of distinct integers in [0, 2**53 - 1]"


@dataclass(frozen=True, config=SECTION)
class ExperimentConfig:
    """A complete, validated experiment: everything a run needs, every default resolved.

    Frozen, hashable and comparable by value (a run's config.toml must read back to an equal
    one), and picklable (it is sent to worker processes). Cross-table rules:

    - ``network.widths[0]`` is the dimension of X when ``[inputs]`` fixes it;
    - ``labels.kind = "dataset"`` needs ``inputs.kind = "dataset"``; a threshold needs a scalar X
      (``"sum_sign"`` labels X of any dimension);
    - ``loss = "mse"`` needs a one-unit output (an Elman network's read-out is one unit); a wider
      output needs ``loss = "cross_entropy"`` with ``labels.kind = "dataset"`` (integer class labels);
    - ``density.limits`` has one entry per layer.

    ``estimation`` is the run's :class:`~infoflow.measure.settings.MeasurementSettings`: the
    ``[estimation]`` table and, as ``density_points`` and ``density_limits``, the ``[density]``
    table (read back as ``config.density``).
    """

    name: Text = Field(description="a string")
    description: Text = Field(description="a string")
    seeds: tuple[Annotated[Integer, Field(ge=0, le=MAX_SEED)], ...] = Field(min_length=1, description=_SEEDS)
    network: NetworkConfig = Field(description="a table [network] with preset, or widths and activations")
    inputs: InputsConfig = Field(description="a table [inputs] with a kind")
    labels: LabelsConfig = Field(description="a table [labels]")
    training: TrainingConfig = Field(description="a table [training]")
    estimation: MeasurementSettings = Field(description="a table [estimation]")

    @property
    def density(self) -> DensityConfig:
        """The ``[density]`` table: grid points and limits per layer (from ``estimation``)."""
        return DensityConfig(self.estimation.density_points, self.estimation.density_limits or ())

    def fixed_density_limits(self) -> tuple[tuple[float, float], ...]:
        """Return each layer's density grid [low, high], an "auto" layer's from its activation.

        For code that cannot (yet) choose a grid from the data: "auto" falls back to
        :func:`~infoflow.config.sections.fixed_density_limits` (unbounded ones cut at 5).
        """
        fixed = fixed_density_limits(self.network.activations, self.network.beta)
        return tuple(fallback if limit == AUTO else limit for limit, fallback in zip(self.density.limits, fixed))

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(_SEEDS)
        return seeds

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentConfig:
        network, inputs, labels, training = self.network, self.inputs, self.labels, self.training
        dim = inputs.dim
        if dim is not None and network.widths[0] != dim:
            allowed = f"a list starting with {dim}, the dimension of X that inputs.{_dimension_field(inputs)} sets"
            raise invalid("network.widths", allowed, network.widths)
        if labels.kind == "dataset" and inputs.kind not in LABELLED_KINDS:
            raise invalid(
                "labels.kind", f'"threshold" (inputs.kind = "{inputs.kind}" has no labels of its own)', "dataset"
            )
        if labels.kind == "threshold" and dim is not None and dim > 1:
            allowed = (
                f'"sum_sign" (the sign of x_1 + ... + x_d) or "dataset" (with inputs.kind = "dataset"): '
                f"a threshold needs a scalar X, but inputs.{_dimension_field(inputs)} sets d = {dim}"
            )
            raise invalid("labels.kind", allowed, "threshold")
        outputs = network.n_outputs
        if outputs > 1:
            if training.loss == "mse":
                allowed = 'a list ending with 1 for training.loss = "mse" (a wider output needs "cross_entropy")'
                raise invalid("network.widths", allowed, network.widths)
            if labels.kind != "dataset":
                allowed = (
                    f'"dataset" (integer class labels) for training.loss = "cross_entropy" with '
                    f"{outputs} output units (network.widths ends with {outputs})"
                )
                raise invalid("labels.kind", allowed, labels.kind)
        if not self.estimation.densities or self.estimation.density_limits is None:
            raise invalid("estimation.densities", "true with density_limits set (a run records its densities)", False)
        if len(self.density.limits) != network.n_layers:
            allowed = (
                f'"auto", or a list of {network.n_layers} entries, one per layer: [low, high] (low < high) or "auto"'
            )
            raise invalid("density.limits", allowed, self.density.limits)
        return self


def _dimension_field(inputs: object) -> str:
    """Return the [inputs] key that fixes the dimension of X, for messages."""
    kind = getattr(inputs, "kind", "")
    if kind == "gaussian":
        return "mean" if isinstance(getattr(inputs, "mean"), tuple) else "var"
    return {"discrete_uniform": "values", "gaussian_mixture": "means", "uniform": "low"}.get(kind, "kind")
