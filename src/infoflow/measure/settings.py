"""MeasurementSettings: what is measured, how precisely and when — every default defined here, once.

One validated object travels the whole way: a config's ``[estimation]`` and ``[density]``
tables validate into it (``config.estimation``), :class:`~infoflow.measure.probe.InformationProbe`
takes it (``settings=``), the reference trainer is handed a probe built from it, and
:func:`~infoflow.estimators.sample_propagation.measure_information` reads it
(``settings=`` or ``**settings.estimator_kwargs()``).

    settings = infoflow.MeasurementSettings(n_samples=2000, estimators=("sp", "kl_upper"))
    probe = infoflow.InformationProbe(model, inputs, run_dir="runs/mine", settings=settings)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal, Union

from pydantic import AliasChoices, Field, field_validator
from pydantic.dataclasses import dataclass

from infoflow.estimators.sample_propagation import ESTIMATORS
from infoflow.fields import SECTION, Flag, Integer, Number, one_line_errors, one_of
from infoflow.measure.schedules import SCHEDULES, MeasurementSchedule

AUTO = "auto"
# Grid points per layer of the recorded densities.
DENSITY_POINTS = 300
# The fields that a config keeps in its [density] table (as ``points`` and ``limits``).
DENSITY_FIELDS = ("density_points", "density_limits")
# The keyword arguments of measure_information that these settings give.
ESTIMATOR_KEYWORDS = (
    "n_samples",
    "n_conditional",
    "n_inputs",
    "bin_size",
    "target_std_error",
    "stratified",
    "bounds",
    "target_error",
    "dropout",
)

GridLimits = Union[Literal["auto"], tuple[Number, Number]]

_AT_LEAST_ONE = "an integer >= 1"
_POSITIVE = "a finite number > 0"
ESTIMATORS_ALLOWED = f"a list of distinct names among {', '.join(ESTIMATORS)}"
LIMITS_ALLOWED = '"auto", or a list of one [low, high] pair (low < high, finite) or "auto" per layer'


@one_line_errors
@dataclass(frozen=True, config=SECTION)
class MeasurementSettings:
    """What is measured at each record, how precisely, and at which epochs.

    Frozen, hashable and comparable by value; a bad value raises one ValueError line naming the
    field. ``dataclasses.replace(settings, n_samples=2000)`` (or :meth:`replace`) validates again.

    Attributes
    ----------
    n_samples : int
        Draws of X propagated for h(T_l) (the components of the Gaussian mixture).
    n_conditional : int or "auto"
        Propagations of each fixed x for h(T_l | X=x). "auto" (default): 1000, fewer where the
        conditional pass would hold more than 10 * 2**20 values (n_x * n_conditional * the sum of the
        layer widths: wide networks), at least 8; the bounds hold at any size.
    n_inputs : int
        Draws (or support points) of X averaged over for E_X h(T_l|X).
    schedule : {"every", "interval", "log"}
        Epochs measured by a training loop that follows the schedule: every epoch, every
        ``every`` epochs, or ``points`` log-spaced epochs (epoch 0 and the last always).
    every, points : int
        Parameters of the "interval" and "log" schedules.
    label_information : bool
        Also measure I(T_l;Y) (when labels are known).
    true_information : bool
        Also record the exact I(X;T_l) where :func:`infoflow.true_mutual_information` supports the
        model and inputs (NaN elsewhere).
    estimators : tuple of str
        Estimators of I(X;T_l). Sample propagation ("sp") is always measured and is the primary
        one (``mi_nats``); the others listed ("kl_upper", "bhattacharyya_lower", "binning") are
        evaluated on the same samples (``mi_<name>_nats``). Stored with "sp" first.
    bin_size : float
        Bin width per unit for the "binning" estimator (also read as ``binning_bin_size``, the
        config's older name).
    target_std_error : float
        Monte-Carlo standard error aimed at for each I(X;T_l), nats.
    clustering_bin_size : float or None
        Also record H(Bin(S_l)), the plug-in entropy of the clean samples binned in cubes of this
        side (nats; a clustering statistic: lower = more clustered).
    stratified : bool
        Draws for h(T_l) take every support point of a uniform discrete X equally often.
    bounds : bool
        Record, with every estimate, bounds that hold the true I(X;T_l) and I(T_l;Y) (jointly,
        >= 95 % confidence) and whether the estimate is resolved (docs/DESIGN.md, "Bounds that
        hold at any width"). False: bare estimates (cheaper; the bound columns stay empty).
    target_error : float or None
        Nats: grow n_samples and n_conditional (within the estimator's time limit) until every
        estimate is within this of both its bounds; None: measure once at the sizes given, an
        estimate counting as resolved within 0.1 nats.
    dropout : bool
        False: dropout modules are switched off while measuring (the network measured as it is
        evaluated; the noise layers always stay on). True: they draw masks while measuring, which
        then count as channel noise of the layers after them (a dropout before the first noise
        layer is refused). The model's modes are restored after every measurement. A config's
        networks have no dropout; the key matters for models measured by a probe.
    densities : bool
        Record the density of every unit of T_l on a grid at each record.
    density_points : int
        Grid points per layer (a config's ``density.points``).
    density_limits : tuple of ((low, high) or "auto") per layer, or None
        Grid range of each layer (a config's ``density.limits``); "auto" or None: chosen from the
        first record's samples. The mass outside is recorded either way.
    """

    n_samples: Integer = Field(1000, ge=1, description=_AT_LEAST_ONE)
    n_conditional: Union[Literal["auto"], Integer] = Field(
        AUTO, description='an integer >= 1 or "auto"'
    )
    n_inputs: Integer = Field(500, ge=1, description=_AT_LEAST_ONE)
    schedule: Literal[SCHEDULES] = Field("every", description=one_of(SCHEDULES))  # type: ignore[valid-type]
    every: Integer = Field(1, ge=1, description=_AT_LEAST_ONE)
    points: Integer = Field(60, ge=2, description="an integer >= 2")
    label_information: Flag = Field(True, description="true or false")
    true_information: Flag = Field(True, description="true or false")
    estimators: tuple[Literal[ESTIMATORS], ...] = Field(  # type: ignore[valid-type]
        ("sp",), description=ESTIMATORS_ALLOWED
    )
    bin_size: Number = Field(
        0.05, gt=0.0, description=_POSITIVE, validation_alias=AliasChoices("bin_size", "binning_bin_size")
    )
    target_std_error: Number = Field(0.01, gt=0.0, description=f"{_POSITIVE} (nats)")
    clustering_bin_size: Number | None = Field(
        None, gt=0.0, description="a number > 0 (the cube side for H(Bin(S_l)), the clustering statistic) or left out"
    )
    stratified: Flag = Field(
        False,
        description="true or false (true: h(T_l)'s draws take every support point of a uniform discrete X equally often)",
    )
    bounds: Flag = Field(
        True, description="true or false (true: bounds that hold the truth with every estimate)"
    )
    target_error: Number | None = Field(
        None, gt=0.0, description=f"{_POSITIVE} (nats: the error a resolved estimate is within) or left out"
    )
    dropout: Flag = Field(
        False,
        description="true or false (true: dropout modules draw masks while measuring; false: off, as in eval mode)",
    )
    densities: Flag = Field(True, description="true or false")
    density_points: Integer = Field(DENSITY_POINTS, ge=2, description="an integer >= 2 (grid points per layer)")
    density_limits: tuple[GridLimits, ...] | None = Field(None, description=LIMITS_ALLOWED)

    @field_validator("estimators")
    @classmethod
    def _sp_first(cls, estimators: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(estimators)) != len(estimators):
            raise ValueError(ESTIMATORS_ALLOWED)
        return ("sp", *(name for name in estimators if name != "sp"))

    @field_validator("n_conditional")
    @classmethod
    def _at_least_one(cls, value: Any) -> Any:
        if value != AUTO and value < 1:
            raise ValueError('an integer >= 1 or "auto"')
        return value

    @field_validator("density_limits")
    @classmethod
    def _ordered(cls, limits: tuple[GridLimits, ...] | None) -> tuple[GridLimits, ...] | None:
        for limit in limits or ():
            if limit != AUTO and not (math.isfinite(limit[0]) and limit[0] < limit[1]):
                raise ValueError("low < high")
        return limits

    # -- views ----------------------------------------------------------------------------------

    @property
    def binning_bin_size(self) -> float:
        """``bin_size`` under the config's older name."""
        return self.bin_size

    @property
    def extra_estimators(self) -> tuple[str, ...]:
        """The estimators recorded beside sample propagation (columns ``mi_<name>_nats``)."""
        return self.estimators[1:]

    def estimator_kwargs(self) -> dict[str, Any]:
        """Return the keyword arguments of :func:`infoflow.measure_information` these settings fix."""
        return {name: getattr(self, name) for name in ESTIMATOR_KEYWORDS}

    def schedule_for(self, epochs: int) -> MeasurementSchedule:
        """Return the epochs (0..``epochs``) to measure in a run of ``epochs`` epochs."""
        return MeasurementSchedule(self.schedule, epochs, every=self.every, points=self.points)

    def replace(self, **changes: Any) -> MeasurementSettings:
        """Return a copy with ``changes`` applied (validated); a change given as :data:`KEEP` is ignored."""
        changes = {key: value for key, value in changes.items() if value is not KEEP}
        return dataclasses.replace(self, **changes) if changes else self


class _Keep:
    """The default of a keyword that overrides one field of a MeasurementSettings: keep the field."""

    def __repr__(self) -> str:
        return "KEEP"


# The default of an override keyword (e.g. ``InformationProbe(n_samples=...)``): the settings' value.
KEEP: Any = _Keep()


def measurement_settings(settings: MeasurementSettings | None = None, **overrides: Any) -> MeasurementSettings:
    """Return ``settings`` (default: ``MeasurementSettings()``) with the ``overrides`` not :data:`KEEP` applied.

    Raises
    ------
    ValueError
        ``settings`` is not a MeasurementSettings, or an override is invalid (named).
    """
    if settings is None:
        settings = MeasurementSettings()
    if not isinstance(settings, MeasurementSettings):
        raise ValueError(f"settings must be an infoflow.MeasurementSettings; got {type(settings).__name__}")
    return settings.replace(**overrides)
