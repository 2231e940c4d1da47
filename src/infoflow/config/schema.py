"""The experiment config schema: dataclasses, strict TOML parsing, shipped experiments."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from infoflow.estimators.sample_propagation import ESTIMATORS
from infoflow.models.mlp import ACTIVATIONS
from infoflow.papers.kong2019.networks import SEED_NETWORKS
from infoflow.training.trainer import (
    LOSSES,
    SCHEDULES,
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
    """``[training]``: see :class:`infoflow.training.trainer.TrainingSettings`; ``lr_drop_accuracy`` None = never."""

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
    return sorted(_shipped_files())


def _shipped_files() -> dict[str, Any]:
    """Return {name: resource} of every shipped experiment: ``papers/<paper>/configs/<name>.toml``."""
    files: dict[str, Any] = {}
    for paper in (resources.files("infoflow") / "papers").iterdir():
        configs = paper / "configs"
        if not configs.is_dir():
            continue
        for entry in configs.iterdir():
            if entry.name.endswith(".toml"):
                files[entry.name.removesuffix(".toml")] = entry
    return files


def shipped_config_text(name: str) -> str:
    """Return the TOML text, comments included, of the shipped experiment ``name``."""
    names = shipped_experiments()
    if name not in names:
        raise ConfigError(f"unknown experiment {name!r}; shipped: {', '.join(names)}")
    return _shipped_files()[name].read_text(encoding="utf-8")


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
