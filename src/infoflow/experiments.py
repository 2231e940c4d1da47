"""Experiments: the config schema, the shipped experiments, run folders, checkpoints and resume.

This module wires a validated config to objects (network, inputs, labels), hands them to the
trainer, and writes what the trainer records into a run folder (docs/DESIGN.md):

    RUN/config.toml     the resolved config (every default filled in)
    RUN/metrics.csv     tidy, one row per (seed, epoch, layer)
    RUN/densities.npz   the density of every T_l on a fixed grid per measured epoch
    RUN/manifest.json   versions, command, seeds, timings, status
    RUN/checkpoint.pt   the latest state, for resume (torch.load(weights_only=True))

Safety rules: an invalid config creates nothing on disk; a non-empty folder is never written
into unless resumed, and replaced (``force``) only when it is an infoflow run; every file is
written atomically (temporary file, fsync, ``os.replace``); the checkpoint (taken after an epoch,
at most once a second by default, and at the end of every seed) holds the network, the learning
rate schedule, every random generator's state and every record so far, so a run killed at any
moment and resumed ends with the same metrics.csv and densities.npz, byte for byte, as a run
never interrupted.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import platform
import shutil
import sys
import time
import tomllib
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch

from infoflow.estimators import ESTIMATORS
from infoflow.files import TEMPORARY_MARK, write_atomically
from infoflow.inputs import (
    DiscreteUniform,
    Gaussian,
    GaussianMixture,
    InputDistribution,
    ThresholdLabels,
)
from infoflow.networks import ACTIVATIONS, SEED_NETWORKS, NoisyMLP, seed_network
from infoflow.threads import torch_threads
from infoflow.training import (
    LOSSES,
    SCHEDULES,
    EpochRecord,
    RecordingSettings,
    Trainer,
    TrainingDiverged,
    TrainingSettings,
    derived_generator,
    measured_epochs,
)

INPUT_KINDS = ("discrete_uniform", "gaussian", "gaussian_mixture")
INITS = ("seed", "default", "zeros")
RUN_FILES = ("config.toml", "metrics.csv", "densities.npz", "manifest.json", "checkpoint.pt", "figures")
METRIC_COLUMNS = ("seed", "epoch", "layer", "mi_nats", "true_mi_nats", "mi_label_nats", "accuracy", "loss", "lr")
CHECKPOINT_FORMAT = "infoflow-checkpoint-1"
# Runs use one intra-op thread: for networks this small, threads cost more than they save (ten
# times slower on a busy two-core machine), and one thread makes every number independent of
# the machine's core count.
RUN_THREADS = 1
# A checkpoint (with fsync) costs milliseconds on a busy disk, more than an epoch of these small
# networks; taking one at most once a second bounds that cost and the work a kill can lose.
CHECKPOINT_INTERVAL_S = 1.0


class ConfigError(ValueError):
    """An experiment config is invalid; the message names the field and what is allowed."""


# ----------------------------------------------------------------------------------------------
# The schema
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkConfig:
    """``[network]``: a seed network (``preset``) or explicit widths and activations.

    Attributes
    ----------
    preset : str or None
        "tanh", "leaky-leaky", "tanh-tanh" or "leaky-tanh" (seed networks 1-4), or None.
    widths : tuple of int
        Input size, then each layer's width; the input and the output are scalars (width 1).
    activations : tuple of str
        One per layer.
    init : {"seed", "default", "zeros"}
        "seed": the preset's initialisation from the seed paper; "default": PyTorch's
        U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases, drawn from the run's seed;
        "zeros": all parameters 0.
    beta : float
        Noise standard deviation after every activation, > 0.
    """

    widths: tuple[int, ...]
    activations: tuple[str, ...]
    preset: str | None = None
    init: str = "default"
    beta: float = 0.05

    @property
    def n_layers(self) -> int:
        return len(self.activations)


@dataclass(frozen=True)
class InputsConfig:
    """``[inputs]``: the distribution of X; only the fields of ``kind`` are meaningful.

    Attributes
    ----------
    kind : {"discrete_uniform", "gaussian", "gaussian_mixture"}
    values : tuple of float
        discrete_uniform: the support.
    mean, var : float
        gaussian: mean and variance (not standard deviation).
    means, variances, weights : tuple of float
        gaussian_mixture: one entry per component; weights need not sum to 1.
    """

    kind: str
    values: tuple[float, ...] = ()
    mean: float = 0.0
    var: float = 1.0
    means: tuple[float, ...] = ()
    variances: tuple[float, ...] = ()
    weights: tuple[float, ...] = ()


@dataclass(frozen=True)
class LabelsConfig:
    """``[labels]``: label = ``above`` if x > ``threshold`` else ``below``."""

    threshold: float = 0.0
    below: float = -1.0
    above: float = 1.0


@dataclass(frozen=True)
class TrainingConfig:
    """``[training]``: see :class:`infoflow.training.TrainingSettings`; ``lr_drop_accuracy`` None = never."""

    epochs: int = 100
    learning_rate: float = 0.001
    momentum: float = 0.0
    loss: str = "mse"
    train_size: int = 1000
    test_size: int = 1000
    batch_size: int = 1000
    lr_drop_factor: float = 20.0
    lr_drop_accuracy: float | None = None


@dataclass(frozen=True)
class EstimationConfig:
    """``[estimation]``: sample-propagation sizes, the measurement schedule, extra estimators."""

    n_samples: int = 1000
    n_conditional: int = 1000
    n_inputs: int = 500
    schedule: str = "every"
    every: int = 1
    points: int = 60
    label_information: bool = True
    true_information: bool = True
    estimators: tuple[str, ...] = ("sp",)
    binning_bin_size: float = 0.05


@dataclass(frozen=True)
class DensityConfig:
    """``[density]``: grid points per layer and each layer's grid range [low, high]."""

    points: int = 300
    limits: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class ExperimentConfig:
    """A complete, validated experiment: everything a run needs, every default resolved."""

    name: str
    description: str
    seeds: tuple[int, ...]
    network: NetworkConfig
    inputs: InputsConfig
    labels: LabelsConfig
    training: TrainingConfig
    estimation: EstimationConfig
    density: DensityConfig


# ----------------------------------------------------------------------------------------------
# Validation: a strict reader of TOML tables
# ----------------------------------------------------------------------------------------------

_REQUIRED = object()


def _describe(value: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "table"}.get(
        type(value)
    )
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({kind})" if kind in ("list", "table") else text


class _Table:
    """One TOML table being read: every key must be consumed, with the right type and range."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must be a table ([{path}]); got {_describe(data)}")
        self.data = data
        self.path = path
        self.allowed: list[str] = []

    def field(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, allowed: str, value: Any) -> None:
        raise ConfigError(f"{self.field(key)} must be {allowed}; got {_describe(value)}")

    def has(self, key: str) -> bool:
        return key in self.data

    def take(self, key: str, parse: Callable[[Any], Any], allowed: str, default: Any = _REQUIRED) -> Any:
        """Return ``parse(value)`` of ``key``, or ``default`` when it is absent.

        ``parse`` returns the converted value or raises ValueError/TypeError when it is not
        allowed; the resulting error names the field and ``allowed``.
        """
        self.allowed.append(key)
        if key not in self.data:
            if default is _REQUIRED:
                raise ConfigError(f"{self.field(key)} is required: {allowed}")
            return default
        value = self.data[key]
        try:
            return parse(value)
        except (ValueError, TypeError):
            self.fail(key, allowed, value)

    def finish(self) -> None:
        unknown = [key for key in self.data if key not in self.allowed]
        if unknown:
            allowed = ", ".join(self.allowed) if self.allowed else "none"
            where = f"[{self.path}]" if self.path else "the top level"
            raise ConfigError(f"unknown key {self.field(unknown[0])}; allowed in {where}: {allowed}")


def _int(minimum: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError
        return value

    return parse


def _number(
    low: float = -math.inf, high: float = math.inf, *, low_open: bool = False, high_open: bool = False
) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError
        number = float(value)
        if not math.isfinite(number):
            raise ValueError
        if number < low or (low_open and number == low) or number > high or (high_open and number == high):
            raise ValueError
        return number

    return parse


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError
    return value


def _choice(choices: Sequence[str]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise ValueError
        return value

    return parse


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError
    return value


def _list_of(item: Callable[[Any], Any], *, min_length: int = 1, distinct: bool = False) -> Callable[[Any], tuple]:
    def parse(value: Any) -> tuple:
        if not isinstance(value, list) or len(value) < min_length:
            raise ValueError
        items = tuple(item(element) for element in value)
        if distinct and len(set(items)) != len(items):
            raise ValueError
        return items

    return parse


def _one_of(choices: Sequence[str]) -> str:
    return "one of " + ", ".join(f'"{choice}"' for choice in choices)


def _parse_network(table: _Table) -> NetworkConfig:
    preset = table.take("preset", _choice(list(SEED_NETWORKS)), _one_of(list(SEED_NETWORKS)), None)
    activation_names = sorted(ACTIVATIONS)
    parse_widths = _list_of(_int(1), min_length=2)
    parse_activations = _list_of(_choice(activation_names))
    if preset is None:
        widths = table.take(
            "widths", parse_widths, "a list of at least 2 integers >= 1 (input size, then each layer's width)"
        )
        activations = table.take(
            "activations", parse_activations, f"a list of activation names, each {_one_of(activation_names)}"
        )
        init = table.take("init", _choice(INITS[1:]), f'{_one_of(INITS[1:])} ("seed" needs a preset)', "default")
    else:
        # A preset fixes the architecture; widths and activations may be repeated, not changed.
        preset_activations = tuple(SEED_NETWORKS[preset][0])
        preset_widths = (1,) * (len(preset_activations) + 1)
        widths_allowed = f"{list(preset_widths)} (preset {preset!r}) or left out"
        activations_allowed = f"{list(preset_activations)} (preset {preset!r}) or left out"
        widths = table.take("widths", parse_widths, widths_allowed, preset_widths)
        activations = table.take("activations", parse_activations, activations_allowed, preset_activations)
        if widths != preset_widths:
            table.fail("widths", widths_allowed, list(widths))
        if activations != preset_activations:
            table.fail("activations", activations_allowed, list(activations))
        init = table.take("init", _choice(INITS), _one_of(INITS), "seed")
    if len(activations) != len(widths) - 1:
        table.fail(
            "activations", f"a list of {len(widths) - 1} names, one per layer of network.widths", list(activations)
        )
    if widths[0] != 1:
        table.fail("widths", "a list starting with 1: the inputs are scalars", list(widths))
    if widths[-1] != 1:
        table.fail("widths", "a list ending with 1: accuracy reads a scalar output", list(widths))
    beta = table.take("beta", _number(0.0, low_open=True), "a finite number > 0 (the noise standard deviation)", 0.05)
    table.finish()
    return NetworkConfig(widths=widths, activations=activations, preset=preset, init=init, beta=beta)


def _parse_inputs(table: _Table) -> InputsConfig:
    kind = table.take("kind", _choice(INPUT_KINDS), _one_of(INPUT_KINDS))
    real = _number()
    if kind == "discrete_uniform":
        values = table.take("values", _list_of(real, distinct=True), "a non-empty list of distinct finite numbers")
        config = InputsConfig(kind=kind, values=values)
    elif kind == "gaussian":
        mean = table.take("mean", real, "a finite number", 0.0)
        var = table.take("var", _number(0.0, low_open=True), "a finite number > 0 (the variance)", 1.0)
        config = InputsConfig(kind=kind, mean=mean, var=var)
    else:
        means = table.take("means", _list_of(real), "a non-empty list of finite numbers")
        variances = table.take(
            "variances", _list_of(_number(0.0, low_open=True)), "a list of finite numbers > 0, one per component"
        )
        weights = table.take(
            "weights", _list_of(_number(0.0)), "a list of finite numbers >= 0, one per component", (1.0,) * len(means)
        )
        if len(variances) != len(means):
            table.fail(
                "variances", f"a list of {len(means)} numbers > 0 (one per entry of inputs.means)", list(variances)
            )
        if len(weights) != len(means) or sum(weights) <= 0:
            table.fail("weights", f"a list of {len(means)} numbers >= 0 with a positive sum", list(weights))
        config = InputsConfig(kind=kind, means=means, variances=variances, weights=weights)
    table.finish()
    return config


def _parse_labels(table: _Table) -> LabelsConfig:
    real = _number()
    threshold = table.take("threshold", real, "a finite number", 0.0)
    below = table.take("below", real, "a finite number", -1.0)
    above = table.take("above", real, "a finite number different from labels.below", 1.0)
    if above == below:
        table.fail("above", "a finite number different from labels.below", above)
    table.finish()
    return LabelsConfig(threshold=threshold, below=below, above=above)


def _parse_training(table: _Table) -> TrainingConfig:
    epochs = table.take("epochs", _int(0), "an integer >= 0", TrainingConfig.epochs)
    learning_rate = table.take(
        "learning_rate", _number(0.0, low_open=True), "a finite number > 0", TrainingConfig.learning_rate
    )
    momentum = table.take("momentum", _number(0.0, 1.0, high_open=True), "a number in [0, 1)", 0.0)
    loss = table.take("loss", _choice(LOSSES), _one_of(LOSSES), "mse")
    train_size = table.take("train_size", _int(1), "an integer >= 1", TrainingConfig.train_size)
    test_size = table.take("test_size", _int(1), "an integer >= 1", TrainingConfig.test_size)
    batch_size = table.take("batch_size", _int(1), f"an integer in [1, training.train_size = {train_size}]", train_size)
    if batch_size > train_size:
        table.fail("batch_size", f"an integer in [1, training.train_size = {train_size}]", batch_size)
    drop_factor = table.take(
        "lr_drop_factor", _number(1.0), "a finite number >= 1 (the learning rate is divided by it)", 20.0
    )
    drop_accuracy = table.take(
        "lr_drop_accuracy", _number(0.0, 1.0), "a number in [0, 1] (leave it out to never drop)", None
    )
    table.finish()
    return TrainingConfig(
        epochs=epochs,
        learning_rate=learning_rate,
        momentum=momentum,
        loss=loss,
        train_size=train_size,
        test_size=test_size,
        batch_size=batch_size,
        lr_drop_factor=drop_factor,
        lr_drop_accuracy=drop_accuracy,
    )


def _parse_estimation(table: _Table) -> EstimationConfig:
    n_samples = table.take("n_samples", _int(1), "an integer >= 1", 1000)
    n_conditional = table.take("n_conditional", _int(1), "an integer >= 1", 1000)
    n_inputs = table.take("n_inputs", _int(1), "an integer >= 1", 500)
    schedule = table.take("schedule", _choice(SCHEDULES), _one_of(SCHEDULES), "every")
    every = table.take("every", _int(1), "an integer >= 1", 1)
    points = table.take("points", _int(2), "an integer >= 2", 60)
    label_information = table.take("label_information", _boolean, "true or false", True)
    true_information = table.take("true_information", _boolean, "true or false", True)
    estimators_allowed = f'a list of distinct names among {", ".join(ESTIMATORS)} that includes "sp"'
    estimators = table.take("estimators", _list_of(_choice(ESTIMATORS), distinct=True), estimators_allowed, ("sp",))
    if "sp" not in estimators:
        table.fail("estimators", estimators_allowed, list(estimators))
    bin_size = table.take("binning_bin_size", _number(0.0, low_open=True), "a finite number > 0", 0.05)
    table.finish()
    return EstimationConfig(
        n_samples=n_samples,
        n_conditional=n_conditional,
        n_inputs=n_inputs,
        schedule=schedule,
        every=every,
        points=points,
        label_information=label_information,
        true_information=true_information,
        estimators=estimators,
        binning_bin_size=bin_size,
    )


def default_density_limits(activations: Sequence[str], beta: float) -> tuple[tuple[float, float], ...]:
    """Return a density grid range per layer from each activation's range, padded by 6 beta.

    Bounded activations (tanh, sigmoid) get their range plus the noise's reach; unbounded ones
    get [-5, 5] (relu: [-6 beta, 5]): set ``density.limits`` when a layer ranges wider.
    """
    pad = 6.0 * beta
    ranges = {
        "tanh": (-1.0 - pad, 1.0 + pad),
        "sigmoid": (-pad, 1.0 + pad),
        "relu": (-pad, 5.0),
    }
    # Rounded so the resolved config reads 1.3, not 1.3000000000000003.
    return tuple(tuple(round(bound, 9) for bound in ranges.get(name, (-5.0, 5.0))) for name in activations)


def _parse_density(table: _Table, network: NetworkConfig) -> DensityConfig:
    points = table.take("points", _int(2), "an integer >= 2 (grid points per layer)", 300)
    n_layers = network.n_layers
    allowed = f"a list of {n_layers} [low, high] pairs of finite numbers with low < high, one per layer"

    def pair(value: Any) -> tuple[float, float]:
        low, high = _list_of(_number(), min_length=2)(value)
        if len(value) != 2 or not low < high:
            raise ValueError
        return (low, high)

    limits = table.take("limits", _list_of(pair), allowed, None)
    if limits is None:
        limits = default_density_limits(network.activations, network.beta)
    elif len(limits) != n_layers:
        table.fail("limits", allowed, [list(limit) for limit in limits])
    table.finish()
    return DensityConfig(points=points, limits=limits)


def _parse_experiment(data: dict[str, Any], default_name: str) -> ExperimentConfig:
    top = _Table(data, "")
    name = top.take("name", _text, "a string", default_name)
    description = top.take("description", _text, "a string", "")
    seeds = top.take("seeds", _list_of(_int(0), distinct=True), "a non-empty list of distinct integers >= 0", (0,))

    def section(key: str, required: str | None = None) -> _Table:
        """The sub-table ``key``; ``required`` describes it when it must be present."""
        value = top.take(key, lambda table: table, required or "a table", _REQUIRED if required else {})
        return _Table(value, key)

    network = _parse_network(section("network", "a table [network] with preset, or widths and activations"))
    inputs = _parse_inputs(section("inputs", f"a table [inputs] with kind = {_one_of(INPUT_KINDS)}"))
    labels = _parse_labels(section("labels"))
    training = _parse_training(section("training"))
    estimation = _parse_estimation(section("estimation"))
    density = _parse_density(section("density"), network)
    top.finish()
    return ExperimentConfig(
        name=name,
        description=description,
        seeds=seeds,
        network=network,
        inputs=inputs,
        labels=labels,
        training=training,
        estimation=estimation,
        density=density,
    )


def parse_config(text: str, *, source: str = "<config>", default_name: str = "experiment") -> ExperimentConfig:
    """Return the validated config described by TOML ``text``.

    Parameters
    ----------
    text : str
        The TOML document.
    source : str
        Where it came from (a path), used as the prefix of error messages.
    default_name : str
        The experiment's name when the document has no ``name``.

    Raises
    ------
    ConfigError
        A one-line message naming the field and what is allowed.
    """
    if not text.strip():
        raise ConfigError(f"{source}: the config is empty; an experiment needs at least [network] and [inputs]")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: invalid TOML: {error}") from None
    try:
        return _parse_experiment(data, default_name)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def shipped_experiments() -> list[str]:
    """Return the names of the shipped experiments (e.g. "fig2"), sorted."""
    folder = resources.files("infoflow") / "experiments"
    return sorted(entry.name.removesuffix(".toml") for entry in folder.iterdir() if entry.name.endswith(".toml"))


def shipped_config_text(name: str) -> str:
    """Return the TOML text, comments included, of the shipped experiment ``name``."""
    names = shipped_experiments()
    if name not in names:
        raise ConfigError(f"unknown experiment {name!r}; shipped: {', '.join(names)}")
    return (resources.files("infoflow") / "experiments" / f"{name}.toml").read_text(encoding="utf-8")


def load_config(name_or_path: str | os.PathLike[str]) -> ExperimentConfig:
    """Return the validated config of a shipped experiment ("fig2") or of a TOML file.

    A shipped name wins over a file or folder of the same name in the working directory.

    Raises
    ------
    ConfigError
        Missing file, unreadable or invalid TOML, or an invalid field (named in the message).
    """
    text_name = os.fspath(name_or_path)
    if text_name in shipped_experiments():
        return parse_config(shipped_config_text(text_name), source=f"{text_name} (shipped)", default_name=text_name)
    path = Path(text_name)
    if not path.is_file():
        reason = "is a folder, not a config file" if path.is_dir() else "no such config file"
        raise ConfigError(
            f"{text_name}: {reason}, and no shipped experiment has that name (shipped: {', '.join(shipped_experiments())})"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{text_name}: cannot read the config: {error}") from None
    return parse_config(text, source=text_name, default_name=path.stem)


def config_to_dict(config: ExperimentConfig) -> dict[str, Any]:
    """Return the config as plain TOML-ready data, every resolved value written out."""
    network: dict[str, Any] = {}
    if config.network.preset is not None:
        network["preset"] = config.network.preset
    network.update(
        widths=list(config.network.widths),
        activations=list(config.network.activations),
        init=config.network.init,
        beta=config.network.beta,
    )
    inputs_fields = {
        "discrete_uniform": ("values",),
        "gaussian": ("mean", "var"),
        "gaussian_mixture": ("means", "variances", "weights"),
    }[config.inputs.kind]
    inputs: dict[str, Any] = {"kind": config.inputs.kind}
    for key in inputs_fields:
        value = getattr(config.inputs, key)
        inputs[key] = list(value) if isinstance(value, tuple) else value
    training = {key: value for key, value in dataclasses.asdict(config.training).items() if value is not None}
    estimation = dataclasses.asdict(config.estimation)
    estimation["estimators"] = list(config.estimation.estimators)
    return {
        "name": config.name,
        "description": config.description,
        "seeds": list(config.seeds),
        "network": network,
        "inputs": inputs,
        "labels": dataclasses.asdict(config.labels),
        "training": training,
        "estimation": estimation,
        "density": {"points": config.density.points, "limits": [list(limit) for limit in config.density.limits]},
    }


def _toml_value(value: Any) -> str:
    """Return one TOML value, inline (arrays on one line), for the types a config holds."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # repr is the shortest text that reads back as the same float64, and valid TOML.
        return repr(value)
    if isinstance(value, str):
        # JSON escapes every character TOML's basic strings forbid except DEL.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def config_to_toml(config: ExperimentConfig) -> str:
    """Return the config as TOML text that :func:`parse_config` reads back to an equal config."""
    data = config_to_dict(config)
    lines = [f"{key} = {_toml_value(value)}" for key, value in data.items() if not isinstance(value, dict)]
    for table, values in data.items():
        if isinstance(values, dict):
            lines += ["", f"[{table}]", *(f"{key} = {_toml_value(value)}" for key, value in values.items())]
    return "\n".join(lines) + "\n"


def with_seeds(config: ExperimentConfig, n_seeds: int) -> ExperimentConfig:
    """Return ``config`` run on seeds 0..n_seeds-1 (the meaning of ``--seeds K``)."""
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise ConfigError(f"the number of seeds must be an integer >= 1; got {n_seeds!r}")
    return dataclasses.replace(config, seeds=tuple(range(n_seeds)))


def _first_difference(left: Any, right: Any, path: str = "") -> str | None:
    """Return the dotted field where two config dicts first differ, with both values."""
    if isinstance(left, dict) and isinstance(right, dict):
        for key in list(left) + [key for key in right if key not in left]:
            found = _first_difference(left.get(key), right.get(key), f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    return None if left == right else f"{path or 'config'} (run: {left!r}, given: {right!r})"


# ----------------------------------------------------------------------------------------------
# From config to objects
# ----------------------------------------------------------------------------------------------


def build_network(config: NetworkConfig, seed: int) -> NoisyMLP:
    """Return the initialised network; "default" initialisation draws from the run's ``seed``."""
    if config.init == "seed":
        assert config.preset is not None
        return seed_network(config.preset, config.beta)
    net = NoisyMLP(config.widths, list(config.activations), config.beta)
    generator = derived_generator(seed, "init")
    with torch.no_grad():
        for linear in net.linears:
            for parameter in (linear.weight, linear.bias):
                if config.init == "zeros":
                    parameter.zero_()
                    continue
                # PyTorch's own default, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases,
                # but drawn from the run's seed instead of the global generator.
                bound = 1.0 / math.sqrt(linear.in_features)
                uniform = torch.rand(parameter.shape, generator=generator, dtype=parameter.dtype)
                parameter.copy_((2.0 * uniform - 1.0) * bound)
    return net


def build_inputs(config: InputsConfig) -> InputDistribution:
    """Return the input distribution of X."""
    if config.kind == "discrete_uniform":
        return DiscreteUniform(config.values)
    if config.kind == "gaussian":
        return Gaussian(config.mean, config.var)
    return GaussianMixture(config.means, config.variances, config.weights)


def build_labels(config: LabelsConfig) -> ThresholdLabels:
    """Return the labelling rule."""
    return ThresholdLabels(config.threshold, config.below, config.above)


def training_settings(config: ExperimentConfig) -> TrainingSettings:
    """Return the trainer's settings for ``config``."""
    return TrainingSettings(**dataclasses.asdict(config.training))


def recording_settings(config: ExperimentConfig) -> RecordingSettings:
    """Return what the trainer measures, and when, for ``config``."""
    estimation = config.estimation
    return RecordingSettings(
        n_samples=estimation.n_samples,
        n_conditional=estimation.n_conditional,
        n_inputs=estimation.n_inputs,
        schedule=estimation.schedule,
        every=estimation.every,
        points=estimation.points,
        label_information=estimation.label_information,
        true_information=estimation.true_information,
        estimators=tuple(name for name in estimation.estimators if name != "sp"),
        bin_size=estimation.binning_bin_size,
        density_limits=config.density.limits,
        density_points=config.density.points,
    )


def build_trainer(config: ExperimentConfig, seed: int) -> Trainer:
    """Return a trainer for one seed of ``config``, with a freshly initialised network."""
    return Trainer(
        build_network(config.network, seed),
        build_inputs(config.inputs),
        build_labels(config.labels),
        training_settings(config),
        recording_settings(config),
        seed=seed,
    )


# ----------------------------------------------------------------------------------------------
# What a run records: the metrics table and the densities
# ----------------------------------------------------------------------------------------------


def metric_columns(config: ExperimentConfig) -> list[str]:
    """Return metrics.csv's columns, in order, for ``config``."""
    extra = [f"mi_{name}_nats" for name in config.estimation.estimators if name != "sp"]
    return [*METRIC_COLUMNS, *extra]


def _format_cell(value: float, integer: bool) -> str:
    if math.isnan(value):
        return ""
    # repr gives the shortest text that reads back as the same float64.
    return str(int(value)) if integer else repr(float(value))


class _RunRecords:
    """Every record of a run so far: metric rows and density arrays, all seeds together.

    Metric rows are kept as float64 numbers (NaN = not measured) and their CSV text; densities
    as one float32 array per layer of shape (K seeds, E measured epochs, d_l, G_l).
    """

    def __init__(self, config: ExperimentConfig) -> None:
        self.columns = metric_columns(config)
        self.extra_estimators = [name for name in config.estimation.estimators if name != "sp"]
        self.seeds = list(config.seeds)
        self.n_layers = config.network.n_layers
        self.grids = [np.linspace(low, high, config.density.points) for low, high in config.density.limits]
        estimation = config.estimation
        self.density_epochs = measured_epochs(
            estimation.schedule, config.training.epochs, every=estimation.every, points=estimation.points
        )
        self.density_index = {epoch: index for index, epoch in enumerate(self.density_epochs)}
        shape = (len(self.seeds), len(self.density_epochs))
        self.densities = [
            np.full((*shape, width, config.density.points), np.nan, dtype=np.float32)
            for width in config.network.widths[1:]
        ]
        self.rows: list[np.ndarray] = []
        self.lines: list[str] = []
        self.measured_count = [0] * len(self.seeds)

    def add(self, seed: int, record: EpochRecord) -> None:
        """Add one epoch's record of ``seed``."""
        nan_layers = [math.nan] * self.n_layers
        columns = [
            nan_layers if record.mi_input is None else record.mi_input,
            nan_layers if record.true_mi is None else record.true_mi,
            nan_layers if record.mi_label is None else record.mi_label,
        ] + [record.estimator_mi.get(name, nan_layers) for name in self.extra_estimators]
        rows = np.empty((self.n_layers, len(self.columns)), dtype=np.float64)
        for layer in range(self.n_layers):
            rows[layer] = [
                seed,
                record.epoch,
                layer + 1,
                columns[0][layer],
                columns[1][layer],
                columns[2][layer],
                record.accuracy,
                record.loss,
                record.learning_rate,
                *(column[layer] for column in columns[3:]),
            ]
        self._append_rows(rows)
        if record.densities is not None:
            seed_index = self.seeds.index(seed)
            epoch_index = self.density_index[record.epoch]
            for layer_density, density in zip(self.densities, record.densities):
                layer_density[seed_index, epoch_index] = density
            self.measured_count[seed_index] = max(self.measured_count[seed_index], epoch_index + 1)

    def _append_rows(self, rows: np.ndarray) -> None:
        self.rows.append(rows)
        for row in rows:
            self.lines.append(",".join(_format_cell(value, index < 3) for index, value in enumerate(row)))

    def csv_text(self) -> str:
        """Return metrics.csv's text."""
        return "\n".join([",".join(self.columns), *self.lines]) + "\n"

    def density_arrays(self) -> dict[str, np.ndarray]:
        """Return densities.npz's arrays (epochs cut at the last one measured by any seed)."""
        n_epochs = max(self.measured_count, default=0)
        arrays: dict[str, np.ndarray] = {
            "seeds": np.asarray(self.seeds, dtype=np.int64),
            "epochs": np.asarray(self.density_epochs[:n_epochs], dtype=np.int64),
        }
        for layer, (grid, density) in enumerate(zip(self.grids, self.densities), start=1):
            arrays[f"grid_layer{layer}"] = grid.astype(np.float64)
            arrays[f"density_layer{layer}"] = np.ascontiguousarray(density[:, :n_epochs])
        return arrays

    def state(self) -> dict[str, Any]:
        """Return the records as tensors, for the checkpoint."""
        table = np.concatenate(self.rows) if self.rows else np.empty((0, len(self.columns)))
        return {
            "metrics": torch.from_numpy(table.copy()),
            "densities": [torch.from_numpy(density.copy()) for density in self.densities],
            "measured_count": list(self.measured_count),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore records from :meth:`state`."""
        table = state["metrics"].numpy()
        if table.shape[1] != len(self.columns) or len(state["densities"]) != len(self.densities):
            raise ValueError("the checkpoint's records do not match the config's columns or layers")
        self.rows, self.lines = [], []
        if len(table):
            self._append_rows(table)
        self.densities = [density.numpy().copy() for density in state["densities"]]
        self.measured_count = list(state["measured_count"])


# ----------------------------------------------------------------------------------------------
# Files: atomic writes, npz without timestamps, the run folder's rules
# ----------------------------------------------------------------------------------------------


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """Return an .npz archive of ``arrays`` that np.load reads; same arrays, same bytes.

    np.savez stamps every member with the current time; fixed timestamps make the file a pure
    function of its contents, so an interrupted-and-resumed run matches an uninterrupted one.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _read_manifest(run_dir: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and "infoflow_version" in manifest else None


def _is_scratch_file(name: str) -> bool:
    return TEMPORARY_MARK in name or ".replaced-" in name


def is_run_folder(path: str | os.PathLike[str]) -> bool:
    """Return True if ``path`` is a folder that infoflow wrote a run into.

    That is: it has a valid manifest.json, or (a run killed before writing its manifest) it
    holds a config.toml and nothing but run files.
    """
    folder = Path(path)
    if not folder.is_dir():
        return False
    if _read_manifest(folder) is not None:
        return True
    names = [entry.name for entry in folder.iterdir()]
    return "config.toml" in names and all(name in RUN_FILES or _is_scratch_file(name) for name in names)


@dataclass
class _Start:
    """Where a run starts: from scratch, or from a checkpoint, or not at all (already complete)."""

    checkpoint: dict[str, Any] | None = None
    manifest: dict[str, Any] | None = None
    already_complete: bool = False
    replaced: Path | None = None


def _load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise ValueError(
            f"cannot resume: {path} is unreadable ({type(error).__name__}: {error}); use --force to start over"
        ) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"cannot resume: {path} is not an infoflow checkpoint of format {CHECKPOINT_FORMAT}")
    return state


def _prepare_run_folder(run_dir: Path, config: ExperimentConfig, *, force: bool, resume: bool) -> _Start:
    """Check the output folder against the rules and return where the run starts.

    Nothing on disk changes here except, with ``force``, moving an old run aside.
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise FileExistsError(f"{run_dir} exists and is not a folder")
    entries = [entry for entry in run_dir.iterdir()] if run_dir.exists() else []
    if not entries:
        return _Start()
    if resume:
        if not is_run_folder(run_dir):
            raise FileExistsError(f"cannot resume: {run_dir} is not an infoflow run folder (it has no manifest.json)")
        stored_config = run_dir / "config.toml"
        if stored_config.is_file():
            try:
                stored = parse_config(stored_config.read_text(encoding="utf-8"), source=str(stored_config))
            except ConfigError as error:
                raise ValueError(f"cannot resume: {error}") from None
            difference = _first_difference(config_to_dict(stored), config_to_dict(config))
            if difference:
                raise ValueError(
                    f"cannot resume: the config differs from {stored_config} at {difference}; "
                    f"resume with that file as the config, or use --force to start over"
                )
        manifest = _read_manifest(run_dir)
        if manifest is not None and manifest.get("status") == "complete":
            return _Start(manifest=manifest, already_complete=True)
        checkpoint_path = run_dir / "checkpoint.pt"
        if not checkpoint_path.is_file():
            # Killed before its first checkpoint: nothing to keep, start again in place.
            return _Start(manifest=manifest)
        checkpoint = _load_checkpoint(checkpoint_path)
        if parse_config(checkpoint["config_toml"], source=str(checkpoint_path)) != config:
            raise ValueError(
                f"cannot resume: {checkpoint_path} belongs to a different config; use --force to start over"
            )
        return _Start(checkpoint=checkpoint, manifest=manifest)
    if force:
        if not is_run_folder(run_dir):
            raise FileExistsError(
                f"{run_dir} is not empty and is not an infoflow run folder; refusing to replace it, even with --force"
            )
        # The old run moves aside and is deleted only once the new one has finished, so an
        # interrupted replacement loses nothing.
        replaced = run_dir.with_name(f".{run_dir.name}.replaced-{os.getpid()}")
        return _Start(replaced=replaced)
    raise FileExistsError(
        f"{run_dir} already exists and is not empty; use --resume to continue the run in it or --force to replace it"
    )


def check_resumable(config: ExperimentConfig, run_dir: str | os.PathLike[str]) -> None:
    """Raise (ValueError / FileExistsError) unless ``run_experiment(config, run_dir, resume=True)`` may run.

    Changes nothing on disk; lets a caller with several runs refuse before starting any.
    """
    _prepare_run_folder(Path(run_dir), config, force=False, resume=True)


# ----------------------------------------------------------------------------------------------
# Progress on stderr
# ----------------------------------------------------------------------------------------------


class _Progress:
    """A one-line progress bar on stderr: seed, epoch, latest I(X;T_l), accuracy, elapsed time.

    On a terminal the line is redrawn in place (at most 10 times a second); elsewhere (logs)
    a line is printed at every tenth of a seed's epochs.
    """

    def __init__(
        self, enabled: bool, name: str, seeds: Sequence[int], epochs: int, stream: TextIO | None = None
    ) -> None:
        self.enabled = enabled
        self.name = name
        self.seeds = list(seeds)
        self.epochs = epochs
        self.stream = stream if stream is not None else sys.stderr
        self.is_terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last_draw = 0.0
        self.last_mi: list[float] | None = None
        self.started = time.perf_counter()
        self.last_tenth = -1

    def start_seed(self, seed: int) -> None:
        self.last_mi = None
        self.last_tenth = -1
        self.started = time.perf_counter()

    def update(self, seed: int, record: EpochRecord) -> None:
        if not self.enabled:
            return
        if record.mi_input is not None:
            self.last_mi = record.mi_input
        done = record.epoch >= self.epochs
        now = time.perf_counter()
        if self.is_terminal:
            if done or now - self.last_draw >= 0.1:
                self.last_draw = now
                end = "\n" if done else ""
                self.stream.write("\r" + self._line(seed, record, now) + "\033[K" + end)
                self.stream.flush()
        else:
            tenth = (10 * record.epoch) // max(1, self.epochs)
            if tenth > self.last_tenth:
                self.last_tenth = tenth
                self.stream.write(self._line(seed, record, now) + "\n")
                self.stream.flush()

    def _line(self, seed: int, record: EpochRecord, now: float) -> str:
        width = 20
        filled = (width * record.epoch) // max(1, self.epochs)
        bar = "#" * filled + "-" * (width - filled)
        position = f"seed {seed} ({self.seeds.index(seed) + 1}/{len(self.seeds)})"
        mi = " ".join(f"{value:.3f}" for value in self.last_mi) if self.last_mi else "-"
        return (
            f"{self.name} {position} [{bar}] {record.epoch:>{len(str(self.epochs))}}/{self.epochs}"
            f"  I(X;T) {mi}  acc {record.accuracy:.3f}  {now - self.started:.1f}s"
        )

    def message(self, text: str) -> None:
        if self.enabled:
            self.stream.write(text + "\n")
            self.stream.flush()


# ----------------------------------------------------------------------------------------------
# Running an experiment
# ----------------------------------------------------------------------------------------------


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def resolved_config_text(config: ExperimentConfig) -> str:
    """Return the text of a run's config.toml: a comment line, then :func:`config_to_toml`."""
    from infoflow import __version__

    return (
        f"# Resolved config of experiment {config.name!r} (infoflow {__version__}); every default filled in.\n"
        + config_to_toml(config)
    )


class _RunWriter:
    """Writes one run folder: records, checkpoint, manifest."""

    def __init__(self, run_dir: Path, config: ExperimentConfig, config_text: str, command: str | None) -> None:
        from infoflow import __version__

        self.run_dir = run_dir
        self.config = config
        self.config_text = config_text
        self.records = _RunRecords(config)
        self.manifest: dict[str, Any] = {
            "infoflow_version": __version__,
            "torch_version": torch.__version__,
            "numpy_version": np.__version__,
            "python_version": platform.python_version(),
            "platform": platform.platform(),
            "command": command if command is not None else "infoflow.experiments.run_experiment (Python API)",
            "name": config.name,
            "seeds": list(config.seeds),
            "started_utc": _utc_now(),
            "finished_utc": None,
            "timings_s": {"total": 0.0, "per_seed": [], "per_epoch_mean": None},
            "status": "running",
            "message": "",
            "resumed": 0,
        }
        # Seconds spent training and recording, summed over every process that worked on the run.
        self.timings = {"total": 0.0, "per_seed": [0.0] * len(config.seeds), "epoch_seconds": 0.0, "epochs_timed": 0}

    def write_manifest(self) -> None:
        timings = self.timings
        per_epoch = timings["epoch_seconds"] / timings["epochs_timed"] if timings["epochs_timed"] else None
        self.manifest["timings_s"] = {
            "total": round(timings["total"], 3),
            "per_seed": [round(value, 3) for value in timings["per_seed"]],
            "per_epoch_mean": None if per_epoch is None else round(per_epoch, 6),
        }
        text = json.dumps(self.manifest, indent=2) + "\n"
        write_atomically(self.run_dir / "manifest.json", text.encode("utf-8"))

    def write_records(self, densities: bool = True) -> None:
        write_atomically(self.run_dir / "metrics.csv", self.records.csv_text().encode("utf-8"))
        if densities:
            write_atomically(self.run_dir / "densities.npz", _npz_bytes(self.records.density_arrays()))

    def write_checkpoint(self, seed_index: int, trainer: Trainer | None) -> None:
        state = {
            "format": CHECKPOINT_FORMAT,
            "config_toml": self.config_text,
            "seed_index": seed_index,
            "trainer": None if trainer is None else trainer.state_dict(),
            "records": self.records.state(),
            "timings": dict(self.timings, per_seed=list(self.timings["per_seed"])),
            "started_utc": self.manifest["started_utc"],
        }
        buffer = io.BytesIO()
        torch.save(state, buffer)
        write_atomically(self.run_dir / "checkpoint.pt", buffer.getvalue())

    def restore(self, checkpoint: dict[str, Any], manifest: dict[str, Any] | None) -> None:
        self.records.load_state(checkpoint["records"])
        saved = checkpoint["timings"]
        self.timings = {
            "total": float(saved["total"]),
            "per_seed": [float(value) for value in saved["per_seed"]],
            "epoch_seconds": float(saved["epoch_seconds"]),
            "epochs_timed": int(saved["epochs_timed"]),
        }
        self.manifest["started_utc"] = checkpoint["started_utc"]
        if manifest is not None:
            self.manifest["resumed"] = int(manifest.get("resumed", 0)) + 1


def run_experiment(
    config: ExperimentConfig,
    run_dir: str | os.PathLike[str],
    *,
    force: bool = False,
    resume: bool = False,
    progress: bool = True,
    command: str | None = None,
    checkpoint_interval_s: float = CHECKPOINT_INTERVAL_S,
) -> Path:
    """Run every seed of ``config`` into the run folder ``run_dir`` and return its path.

    Parameters
    ----------
    config : ExperimentConfig
        From :func:`load_config` (or :func:`parse_config`).
    run_dir : path
        The output folder. It must be absent or empty, unless ``resume`` or ``force``.
    force : bool
        Replace an existing infoflow run in ``run_dir`` (never a folder that is not one). The old
        run is moved aside and deleted once the new run has finished.
    resume : bool
        Continue the run in ``run_dir`` from its last checkpoint (the config must be the same);
        start it if the folder is absent or empty; do nothing if it is complete.
    progress : bool
        Show a progress line on stderr.
    command : str, optional
        The command line, recorded in the manifest.
    checkpoint_interval_s : float
        Seconds between checkpoints (and rewrites of metrics.csv and densities.npz), >= 0; 0
        checkpoints every epoch. A checkpoint is also taken at the end of every seed. Where it
        is taken changes nothing in the results: a resumed run matches an uninterrupted one.

    Returns
    -------
    Path of the run folder.

    Raises
    ------
    FileExistsError
        ``run_dir`` is not empty and neither option allows using it.
    ValueError
        Bad arguments, or a resume that does not match the folder's run.
    TrainingDiverged
        Training produced NaN/inf; the run folder keeps every epoch recorded before it and its
        manifest says ``"failed"``.
    """
    if not isinstance(config, ExperimentConfig):
        raise ValueError(f"config must be an ExperimentConfig (see load_config); got {type(config).__name__}")
    if force and resume:
        raise ValueError("--force and --resume exclude each other: replace the run, or continue it")
    if not (isinstance(checkpoint_interval_s, (int, float)) and checkpoint_interval_s >= 0):
        raise ValueError(f"checkpoint_interval_s must be a number >= 0; got {checkpoint_interval_s!r}")
    run_dir = Path(run_dir)
    config_text = resolved_config_text(config)
    start = _prepare_run_folder(run_dir, config, force=force, resume=resume)
    bar = _Progress(progress, config.name, config.seeds, config.training.epochs)
    if start.already_complete:
        bar.message(f"{config.name}: the run in {run_dir} is already complete")
        return run_dir
    if start.replaced is not None:
        os.replace(run_dir, start.replaced)
    run_dir.mkdir(parents=True, exist_ok=True)
    for entry in run_dir.iterdir():
        if ".tmp-" in entry.name and entry.is_file():
            entry.unlink()  # left by a process killed mid-write

    with torch_threads(RUN_THREADS):
        _execute(run_dir, config, config_text, command, start, bar, checkpoint_interval_s)
    return run_dir


def _execute(
    run_dir: Path,
    config: ExperimentConfig,
    config_text: str,
    command: str | None,
    start: _Start,
    bar: _Progress,
    checkpoint_interval_s: float,
) -> None:
    """Train every seed not yet done, writing the run folder as it goes."""
    writer = _RunWriter(run_dir, config, config_text, command)
    first_seed_index, trainer_state = 0, None
    if start.checkpoint is not None:
        writer.restore(start.checkpoint, start.manifest)
        first_seed_index, trainer_state = int(start.checkpoint["seed_index"]), start.checkpoint["trainer"]
        bar.message(f"{config.name}: resuming {run_dir} at seed index {first_seed_index}")
    write_atomically(run_dir / "config.toml", config_text.encode("utf-8"))
    writer.write_records()
    writer.write_manifest()

    try:
        for seed_index in range(first_seed_index, len(config.seeds)):
            _run_seed(writer, bar, seed_index, trainer_state, checkpoint_interval_s)
            trainer_state = None
            writer.write_manifest()
    except TrainingDiverged as error:
        writer.manifest.update(status="failed", message=str(error), finished_utc=_utc_now())
        writer.write_records()
        writer.write_manifest()
        # The run this one was to replace is kept: a failed run never costs a finished one.
        kept = f"; the run it was to replace is kept in {start.replaced}" if start.replaced is not None else ""
        raise TrainingDiverged(f"{config.name}: {error}; the epochs before it are in {run_dir}{kept}") from None
    except Exception as error:
        writer.manifest.update(status="failed", message=f"{type(error).__name__}: {error}", finished_utc=_utc_now())
        writer.write_records()
        writer.write_manifest()
        raise
    except BaseException:
        writer.manifest["message"] = "interrupted; continue with --resume"
        writer.write_manifest()
        raise
    writer.manifest.update(status="complete", message="", finished_utc=_utc_now())
    writer.write_records()
    writer.write_manifest()
    _discard_replaced(start.replaced)


def _discard_replaced(replaced: Path | None) -> None:
    if replaced is not None and replaced.exists():
        shutil.rmtree(replaced)


def _run_seed(
    writer: _RunWriter,
    bar: _Progress,
    seed_index: int,
    trainer_state: dict[str, Any] | None,
    checkpoint_interval_s: float,
) -> None:
    """Train one seed, checkpointing (and writing the records) at most every ``checkpoint_interval_s``."""
    config = writer.config
    seed = config.seeds[seed_index]
    trainer = build_trainer(config, seed)
    if trainer_state is not None:
        trainer.load_state_dict(trainer_state)
    bar.start_seed(seed)
    epoch_started = last_checkpoint = time.perf_counter()
    for record in trainer.run():
        writer.records.add(seed, record)
        now = time.perf_counter()
        elapsed, epoch_started = now - epoch_started, now
        writer.timings["total"] += elapsed
        writer.timings["per_seed"][seed_index] += elapsed
        writer.timings["epoch_seconds"] += elapsed
        writer.timings["epochs_timed"] += 1
        if now - last_checkpoint >= checkpoint_interval_s and not trainer.finished:
            # The checkpoint first: a kill after it leaves files that resume rewrites from it.
            writer.write_checkpoint(seed_index, trainer)
            writer.write_records()
            last_checkpoint = time.perf_counter()
        bar.update(seed, record)
    writer.write_checkpoint(seed_index + 1, None)
    writer.write_records()
