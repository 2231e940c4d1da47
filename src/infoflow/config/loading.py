"""TOML in and out: parse and load a config (shipped or a file), write the resolved config back."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from infoflow.config.dataset_sizes import dataset_training_table
from infoflow.config.errors import ConfigError, describe, from_validation_error, one_of
from infoflow.config.experiment import ExperimentConfig
from infoflow.config.inputs import INPUT_CONFIGS, INPUT_KINDS
from infoflow.config.network import NetworkConfig
from infoflow.config.sections import (
    DENSITY_KEYS,
    ESTIMATION_ALIASES,
    ESTIMATION_KEYS,
    LABEL_CONFIGS,
    LABEL_KINDS,
    TrainingConfig,
    default_density_limits,
)
from infoflow.fields import error_line
from infoflow.measure.settings import AUTO, ESTIMATORS_ALLOWED, MeasurementSettings
from infoflow.registry import shipped_config_files

TABLES = ("network", "inputs", "labels", "training", "estimation", "density")
TOP_LEVEL_KEYS = ("name", "description", "seeds", *TABLES)


@functools.cache
def _adapter(model: type) -> TypeAdapter:
    return TypeAdapter(model)


def _validate(model: type, table: dict[str, Any], prefix: str, context: dict[str, Any] | None = None) -> Any:
    """Return ``table`` validated as ``model``; a failure is one ConfigError line."""
    try:
        return _adapter(model).validate_python(table, context=context)
    except ValidationError as error:
        raise from_validation_error(error, model, table, prefix) from None


def _table(data: dict[str, Any], key: str, required: str | None = None) -> dict[str, Any]:
    """Return the sub-table ``key`` ({} when absent); ``required`` describes it when it must be there."""
    if key not in data:
        if required is not None:
            raise ConfigError(f"{key} is required: {required}")
        return {}
    value = data[key]
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a table ([{key}]); got {describe(value)}")
    return value


def _kind(table: dict[str, Any], prefix: str, choices: tuple[str, ...], default: str | None = None) -> str:
    """Return the table's ``kind``, which picks the model (and so the keys) it is validated with."""
    if "kind" not in table and default is not None:
        return default
    if "kind" not in table:
        raise ConfigError(f"{prefix}.kind is required: {one_of(choices)}")
    kind = table["kind"]
    if not isinstance(kind, str) or kind not in choices:
        raise ConfigError(f"{prefix}.kind must be {one_of(choices)}; got {describe(kind)}")
    return kind


def _parse_experiment(
    data: dict[str, Any], default_name: str, base_dir: str | os.PathLike[str] | None
) -> ExperimentConfig:
    unknown = [key for key in data if key not in TOP_LEVEL_KEYS]
    if unknown:
        raise ConfigError(f"{unknown[0]} is not a known key; allowed: {', '.join(TOP_LEVEL_KEYS)}")
    network_table = _table(data, "network", "a table [network] with preset, or widths and activations")
    inputs_table = _table(data, "inputs", f"a table [inputs] with kind = {one_of(INPUT_KINDS)}")
    network = _validate(NetworkConfig, network_table, "network")
    inputs_kind = _kind(inputs_table, "inputs", INPUT_KINDS)
    inputs = _validate(INPUT_CONFIGS[inputs_kind], inputs_table, "inputs", {"base_dir": base_dir})
    labels_table = _table(data, "labels")
    labels = _validate(LABEL_CONFIGS[_kind(labels_table, "labels", LABEL_KINDS, "threshold")], labels_table, "labels")
    # A data set's sizes come from its file's rows (config/dataset_sizes.py).
    training = _validate(TrainingConfig, dataset_training_table(inputs, _table(data, "training")), "training")
    estimation = _measurement(_table(data, "estimation"), _table(data, "density"), network)
    top = {
        "name": data.get("name", default_name),
        "description": data.get("description", ""),
        "seeds": data.get("seeds", (0,)),
        "network": network,
        "inputs": inputs,
        "labels": labels,
        "training": training,
        "estimation": estimation,
    }
    return _validate(ExperimentConfig, top, "")


def _measurement(
    estimation: dict[str, Any], density: dict[str, Any], network: NetworkConfig
) -> MeasurementSettings:
    """Return the MeasurementSettings of the ``[estimation]`` and ``[density]`` tables."""
    for table, keys, aliases in (("estimation", ESTIMATION_KEYS, ESTIMATION_ALIASES), ("density", DENSITY_KEYS, {})):
        for key in estimation if table == "estimation" else density:
            if key not in keys and key not in aliases:
                raise ConfigError(f"{table}.{key} is not a known key; allowed: {', '.join(keys)}")
    estimators = estimation.get("estimators", ["sp"])
    if isinstance(estimators, list) and all(isinstance(name, str) for name in estimators) and "sp" not in estimators:
        # A run's primary estimate is sample propagation's: a config must list it.
        allowed = f'{ESTIMATORS_ALLOWED} that includes "sp"'
        raise ConfigError(f"estimation.estimators must be {allowed}; got {describe(estimators)}")
    limits = density.get("limits", default_density_limits(network.activations, network.beta))
    values = {
        **estimation,
        **({"density_points": density["points"]} if "points" in density else {}),
        "density_limits": (AUTO,) * network.n_layers if limits == AUTO else limits,
    }
    try:
        return _adapter(MeasurementSettings).validate_python(values)
    except ValidationError as error:
        location = error.errors()[0]["loc"]
        key = next((part for part in location if isinstance(part, str)), "")
        if key.startswith("density_"):
            raw = {f"density_{name}": value for name, value in density.items()}
            line = error_line(error, MeasurementSettings, raw, "")
            raise ConfigError(line.replace(key, "density." + key.removeprefix("density_"), 1)) from None
        raise from_validation_error(error, MeasurementSettings, estimation, "estimation") from None


def parse_config(
    text: str,
    *,
    source: str = "<config>",
    default_name: str = "experiment",
    base_dir: str | os.PathLike[str] | None = None,
) -> ExperimentConfig:
    """Return the validated config described by TOML ``text``.

    Parameters
    ----------
    text : str
        The TOML document.
    source : str
        Where it came from (a path), used as the prefix of error messages.
    default_name : str
        The experiment's name when the document has no ``name``.
    base_dir : path-like or None
        The folder a relative ``inputs.path`` is resolved against; None: the working directory.

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
        raise ConfigError(f"{source}: invalid TOML: {' '.join(str(error).split())}") from None
    try:
        return _parse_experiment(data, default_name, base_dir)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def shipped_experiments() -> list[str]:
    """Return the names of the shipped experiments (e.g. "fig2"), sorted."""
    return sorted(_shipped_files())


def _shipped_files() -> dict[str, Any]:
    """Return {name: resource} of every shipped experiment, as the papers registered them."""
    return shipped_config_files()


def shipped_config_text(name: str) -> str:
    """Return the TOML text, comments included, of the shipped experiment ``name``."""
    names = shipped_experiments()
    if name not in names:
        raise ConfigError(f"unknown experiment {name!r}; shipped: {', '.join(names)}")
    return _shipped_files()[name].read_text(encoding="utf-8")


def load_config(name_or_path: str | os.PathLike[str]) -> ExperimentConfig:
    """Return the validated config of a shipped experiment ("fig2") or of a TOML file.

    A shipped name wins over a file or folder of the same name in the working directory. A
    relative ``inputs.path`` is resolved against the file's folder (a shipped config's against
    the working directory).

    Raises
    ------
    ConfigError
        Missing file, unreadable or invalid TOML, or an invalid field (named in the message).
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise ConfigError(
            f"name_or_path must be a shipped experiment name or a config file path; got {type(name_or_path).__name__}"
        )
    text_name = os.fspath(name_or_path)
    if not isinstance(text_name, str):
        raise ConfigError(f"name_or_path must be a text path; got {text_name!r}")
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
    return parse_config(text, source=text_name, default_name=path.stem, base_dir=path.parent)


def _plain(value: Any) -> Any:
    """Return ``value`` with tuples as lists (TOML arrays)."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _table_dict(section: Any, names: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Return a table's fields (``names``, else all) in order; a None field (meaning "not set") is left out."""
    names = names if names is not None else tuple(field.name for field in dataclasses.fields(section))
    values = ((name, getattr(section, name)) for name in names)
    return {key: _plain(value) for key, value in values if value is not None}


def config_to_dict(config: ExperimentConfig) -> dict[str, Any]:
    """Return the config as plain TOML-ready data, every resolved value written out.

    Only fields whose value means "not set" are absent: ``network.preset``,
    ``training.lr_drop_accuracy`` (never drop), ``inputs.label_column`` and ``inputs.split``.
    """
    return {
        "name": config.name,
        "description": config.description,
        "seeds": list(config.seeds),
        **{key: _table_dict(getattr(config, key)) for key in TABLES[:4]},
        "estimation": _table_dict(config.estimation, ESTIMATION_KEYS),
        "density": _table_dict(config.density),
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


def config_comparison(config: ExperimentConfig) -> Callable[[str, str], str | None]:
    """Return a test of a stored config's TOML text (and its source) against ``config``.

    The test returns the first differing field with both values (None: the same config) and
    raises ConfigError when the text is no valid config; run folders use it to resume.
    """

    def compare(text: str, source: str) -> str | None:
        return first_difference(config_to_dict(parse_config(text, source=source)), config_to_dict(config))

    return compare


def with_seeds(config: ExperimentConfig, n_seeds: int) -> ExperimentConfig:
    """Return ``config`` run on seeds 0..n_seeds-1 (the meaning of ``--seeds K``)."""
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise ConfigError(f"the number of seeds must be an integer >= 1; got {n_seeds!r}")
    return dataclasses.replace(config, seeds=tuple(range(n_seeds)))


def first_difference(left: Any, right: Any, path: str = "") -> str | None:
    """Return the dotted field where two config dicts first differ, with both values."""
    if isinstance(left, dict) and isinstance(right, dict):
        for key in list(left) + [key for key in right if key not in left]:
            found = first_difference(left.get(key), right.get(key), f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    return None if left == right else f"{path or 'config'} (run: {left!r}, given: {right!r})"
