"""Limits on a config's sizes, from memory: a run whose projected peak exceeds half the machine's
memory is refused before anything is allocated or written, naming the field to lower.

The projection is deliberately coarse (a few multiples of each large array); it only has to
tell a run that fits from one that would reach MemoryError hours in, or never start.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from infoflow.config.errors import ConfigError
from infoflow.config.experiment import ExperimentConfig
from infoflow.estimators.draws import resolve_conditional
from infoflow.validation import format_bytes, machine_memory, memory_budget

FLOAT = 8
# Kept and transient bytes per (epoch, layer) of metric rows: the row, its CSV line, and the
# copies made while writing metrics.csv and the checkpoint (measured: about 900).
ROW_BYTES = 1000
# A recorded density is kept once and copied about three times while the checkpoint and
# densities.npz are written.
DENSITY_COPIES = 4
# Forward passes hold each layer's pre-activation, activation and noise (and gradients in training).
FORWARD_COPIES = 4
# Parameters, gradients, two optimiser buffers, and the checkpoint's clone and serialisation.
PARAMETER_COPIES = 6


@dataclass(frozen=True)
class _Sizes:
    """The numbers a run's memory depends on."""

    seeds: int
    widths: tuple[int, ...]
    epochs: int
    train_size: int
    test_size: int
    batch_size: int
    n_samples: int
    n_conditional: int | str
    n_inputs: int
    support: int | None
    measured: int
    points: int
    density_points: int


def _measured_epochs(schedule: str, epochs: int, every: int, points: int) -> int:
    """How many epochs the schedule measures (an upper bound for "log")."""
    if schedule == "every":
        return epochs + 1
    if schedule == "interval":
        return epochs // every + 2
    return min(points, epochs + 1) + 1


def _sizes(config: ExperimentConfig) -> _Sizes:
    training, estimation = config.training, config.estimation
    values = getattr(config.inputs, "values", None)
    return _Sizes(
        seeds=len(config.seeds),
        widths=tuple(config.network.widths),
        epochs=training.epochs,
        train_size=training.train_size,
        test_size=training.test_size,
        batch_size=training.batch_size,
        n_samples=estimation.n_samples,
        n_conditional=estimation.n_conditional,
        n_inputs=estimation.n_inputs,
        support=None if values is None else len(values),
        measured=_measured_epochs(estimation.schedule, training.epochs, estimation.every, estimation.points),
        points=estimation.points if estimation.schedule == "log" else 2,
        density_points=config.density.points,
    )


def projected_peak(sizes: _Sizes) -> float:
    """Return the projected peak memory in bytes of a run of these sizes (float: it may be astronomic)."""
    widths = sizes.widths
    layers = len(widths) - 1
    all_units, layer_units = sum(widths), sum(widths[1:])
    parameters = sum(widths[i] * widths[i + 1] + widths[i + 1] for i in range(layers))
    records = sizes.seeds * (sizes.epochs + 1) * layers * ROW_BYTES
    densities = sizes.seeds * sizes.measured * (DENSITY_COPIES * 4 * layer_units * sizes.density_points + 400)
    # Evaluating one layer's density: a few float64 arrays of units x grid points.
    density_work = FORWARD_COPIES * FLOAT * max(widths[1:]) * sizes.density_points
    data = 3 * FLOAT * (sizes.train_size + sizes.test_size) * (widths[0] + 1)
    forward = FORWARD_COPIES * FLOAT * max(sizes.batch_size, sizes.test_size, sizes.train_size) * all_units
    n_x = sizes.n_inputs if sizes.support is None else min(sizes.n_inputs, sizes.support)
    conditional = 4 * FLOAT * n_x * resolve_conditional(sizes.n_conditional, n_x, list(widths)) * layer_units
    unconditional = FORWARD_COPIES * FLOAT * sizes.n_samples * all_units
    schedule = 3 * FLOAT * sizes.points
    return float(
        records
        + densities
        + density_work
        + data
        + forward
        + conditional
        + unconditional
        + PARAMETER_COPIES * FLOAT * parameters
        + schedule
    )


# Each field the message may blame, with the modest value it is tried at: the field whose
# modest value lowers the projection most is the one named.
_MODEST = {
    "seeds": ("seeds", 1),
    "network.widths": ("widths", None),
    "training.epochs": ("epochs", 100),
    "training.train_size": ("train_size", 1000),
    "training.test_size": ("test_size", 1000),
    "training.batch_size": ("batch_size", 100),
    "estimation.n_samples": ("n_samples", 1000),
    "estimation.n_conditional": ("n_conditional", 1000),
    "estimation.n_inputs": ("n_inputs", 500),
    "estimation.points": ("points", 60),
    "density.points": ("density_points", 300),
}


def _modest(sizes: _Sizes, attribute: str, value: int | None) -> _Sizes:
    if attribute == "widths":
        return replace(sizes, widths=tuple(min(width, 10) for width in sizes.widths))
    changed = replace(sizes, **{attribute: min(getattr(sizes, attribute), value)})
    if attribute == "epochs":
        changed = replace(changed, measured=min(sizes.measured, value + 1))
    if attribute == "train_size":
        changed = replace(changed, batch_size=min(sizes.batch_size, value))
    return changed


def _shown(config: ExperimentConfig, field: str) -> str:
    section, _, key = field.partition(".")
    value = getattr(config, section) if not key else getattr(getattr(config, section), key)
    text = repr(list(value) if isinstance(value, tuple) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_config_limits(config: ExperimentConfig) -> None:
    """Raise ConfigError unless a run of ``config`` fits in half this machine's memory.

    The message names the field whose lowering helps most, its value, and the projected peak.
    Runs in microseconds: it allocates nothing that grows with the config.
    """
    sizes = _sizes(config)
    peak = projected_peak(sizes)
    budget = memory_budget()
    if peak <= budget:
        return
    field = min(_MODEST, key=lambda name: projected_peak(_modest(sizes, *_MODEST[name])))
    raise ConfigError(
        f"{field} = {_shown(config, field)} is too large for this machine: the run would need about "
        f"{format_bytes(peak)} of memory at its peak, more than the {format_bytes(budget)} allowed "
        f"(half of {format_bytes(machine_memory())}); lower {field}"
    )
