"""The sweep spec: which experiment, which seeds, fixed overrides and a grid, validated at the boundary.

A spec is a TOML file::

    experiment = "fig2"            # a shipped name, or a config TOML path (relative to the spec's folder)
    seeds = [0, 1, 2]              # optional; default the experiment's own seeds
    [set]                          # fixed overrides: dotted keys into the experiment's config
    "training.epochs" = 25
    [grid]                         # every combination of these values, for every seed, is one cell
    "network.beta" = [0.05, 0.1]

Keys may be quoted (``"network.beta"``) or bare (``network.beta``, which TOML reads as a nested
table); both mean the same. Errors are one line, ``SPEC: what is wrong; what is allowed``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from infoflow.config.errors import ConfigError, describe
from infoflow.config.experiment import ExperimentConfig
from infoflow.config.inputs import INPUT_CONFIGS
from infoflow.config.loading import parse_config, shipped_config_text, shipped_experiments
from infoflow.config.network import NetworkConfig
from infoflow.config.sections import DENSITY_KEYS, ESTIMATION_ALIASES, ESTIMATION_KEYS, LABEL_CONFIGS, TrainingConfig

SPEC_KEYS = ("experiment", "seeds", "set", "grid")
# Top-level config keys a spec may override; "seeds" is the spec's own key.
TOP_LEVEL_OVERRIDES = ("name", "description")


class SpecError(ValueError):
    """A sweep spec is invalid; the one-line message names the key and what is allowed."""


def _fields(*models: type) -> tuple[str, ...]:
    """Return the field names of ``models``, each once, in declaration order."""
    names = (field.name for model in models for field in dataclasses.fields(model))
    return tuple(dict.fromkeys(names))


def config_keys() -> dict[str, tuple[str, ...]]:
    """Return {section: its field names} of the config tables a dotted key may name.

    ``inputs`` and ``labels`` list the keys of every ``kind``: which of them a config accepts
    depends on its kind, and the config's own validation says so for each cell.
    """
    return {
        "network": _fields(NetworkConfig),
        "inputs": _fields(*INPUT_CONFIGS.values()),
        "labels": _fields(*LABEL_CONFIGS.values()),
        "training": _fields(TrainingConfig),
        "estimation": (*ESTIMATION_KEYS, *ESTIMATION_ALIASES),
        "density": DENSITY_KEYS,
    }


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep spec.

    Attributes
    ----------
    experiment : str
        As written in the spec: a shipped name or a config path.
    config_source : str
        The shipped name, or the config file's absolute path.
    config_text : str
        The experiment's TOML text, which every cell's overrides are applied to.
    base_config : ExperimentConfig
        The experiment as it is, without overrides (its seeds are the default seeds).
    seeds : tuple of int
        Distinct seeds >= 0; each grid point runs once per seed.
    set : dict of str to value
        Fixed overrides, dotted key -> TOML value.
    grid : dict of str to tuple
        Dotted key -> the values it takes (non-empty, distinct), in the spec's order.
    source : str
        Where the spec came from (its path), the prefix of error messages.
    """

    experiment: str
    config_source: str
    config_text: str
    base_config: ExperimentConfig
    seeds: tuple[int, ...]
    set: dict[str, Any]
    grid: dict[str, tuple[Any, ...]]
    source: str

    def points(self) -> Iterator[dict[str, Any]]:
        """Yield every grid point, {dotted key: value}, in the spec's order (one empty point without a grid)."""
        keys = list(self.grid)
        for values in itertools.product(*(self.grid[key] for key in keys)):
            yield dict(zip(keys, values))

    def resolve(self, point: Mapping[str, Any], seed: int | None = None) -> ExperimentConfig:
        """Return the config of a grid point: the experiment with ``set`` and ``point`` applied.

        ``seed`` given: that seed only; None: the spec's seeds.

        Raises
        ------
        SpecError
            The overrides make an invalid config (the config's own one-line message).
        """
        data = tomllib.loads(self.config_text)
        for key, value in {**self.set, **point}.items():
            _assign(data, key, value)
        data["seeds"] = [seed] if seed is not None else list(self.seeds)
        is_file = self.config_source not in shipped_experiments()
        default_name = Path(self.config_source).stem if is_file else self.config_source
        try:
            return parse_config(
                toml_text(data),
                source=self.config_source,
                default_name=default_name,
                base_dir=Path(self.config_source).parent if is_file else None,
            )
        except ConfigError as error:
            where = ", ".join(f"{key}={toml_value(value)}" for key, value in point.items())
            at = f"with {where}: " if where else ""
            raise SpecError(f"{self.source}: {at}{error}") from None

    def to_toml(self) -> str:
        """Return the spec as TOML (``sweep.toml`` of a sweep folder), the experiment as resolved."""
        data = {
            "experiment": self.config_source,
            "seeds": list(self.seeds),
            "set": dict(self.set),
            "grid": {key: list(values) for key, values in self.grid.items()},
        }
        return "# The sweep spec, as run by infoflow sweep (written by infoflow; do not edit).\n" + toml_text(data)


def _assign(data: dict[str, Any], dotted_key: str, value: Any) -> None:
    """Set ``dotted_key`` (``name`` or ``section.field``) in the raw TOML data of a config."""
    if "." not in dotted_key:
        data[dotted_key] = value
        return
    section, field = dotted_key.split(".", 1)
    table = data.setdefault(section, {})
    if not isinstance(table, dict):  # a malformed base config; its own validation names it
        data[section] = table = {}
    table[field] = value


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Return ``{dotted key: value}``: bare dotted keys (nested tables) read like quoted ones.

    No config value is a table, so a nested table is always a deeper key.
    """
    flat: dict[str, Any] = {}
    for key, value in table.items():
        dotted_key = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(_flatten(value, dotted_key))
        else:
            flat[dotted_key] = value
    return flat


def _check_key(dotted_key: str, where: str, source: str) -> None:
    """Raise SpecError unless ``dotted_key`` names a config field that a spec may override."""
    sections = config_keys()
    if dotted_key == "seeds":
        raise SpecError(f"{source}: {where}.seeds is not allowed; give the seeds as the spec's own seeds = [...]")
    if dotted_key in TOP_LEVEL_OVERRIDES:
        return
    section, _, field = dotted_key.partition(".")
    if section not in sections:
        allowed = ", ".join([*TOP_LEVEL_OVERRIDES, *(f"{name}.*" for name in sections)])
        raise SpecError(f"{source}: {where}.{dotted_key} is not a config key; keys are {allowed}")
    if field not in sections[section]:
        raise SpecError(
            f"{source}: {where}.{dotted_key} is not a config key; {section} has {', '.join(sections[section])}"
        )


def _seeds(value: Any, source: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise SpecError(f"{source}: seeds must be a non-empty list of distinct integers >= 0; got {describe(value)}")
    if any(isinstance(seed, bool) or not isinstance(seed, int) or seed < 0 for seed in value):
        raise SpecError(f"{source}: seeds must be integers >= 0; got {describe(value)}")
    if len(set(value)) != len(value):
        raise SpecError(f"{source}: seeds must be distinct; got {describe(value)}")
    return tuple(value)


def _table(data: Mapping[str, Any], key: str, source: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise SpecError(
            f'{source}: {key} must be a table ([{key}] with "section.field" = value); got {describe(value)}'
        )
    return _flatten(value)


def _grid(table: dict[str, Any], source: str) -> dict[str, tuple[Any, ...]]:
    grid: dict[str, tuple[Any, ...]] = {}
    for key, values in table.items():
        _check_key(key, "grid", source)
        if not isinstance(values, list) or not values:
            raise SpecError(f"{source}: grid.{key} must be a non-empty list of values; got {describe(values)}")
        texts = [toml_value(value) for value in values]
        repeated = next((text for index, text in enumerate(texts) if text in texts[:index]), None)
        if repeated is not None:
            raise SpecError(f"{source}: grid.{key} lists {repeated} twice; each value must be distinct")
        grid[key] = tuple(values)
    return grid


def _experiment(value: Any, spec_dir: Path, source: str) -> tuple[str, str]:
    """Return (config source, TOML text) of the spec's experiment."""
    shipped = shipped_experiments()
    if not isinstance(value, str) or not value:
        raise SpecError(
            f"{source}: experiment must be a shipped name ({', '.join(shipped)}) or a config TOML path; got {describe(value)}"
        )
    if value in shipped:
        return value, shipped_config_text(value)
    path = Path(value) if Path(value).is_absolute() else spec_dir / value
    if not path.is_file():
        raise SpecError(
            f"{source}: experiment {value!r} is neither a shipped experiment ({', '.join(shipped)}) nor a file ({path})"
        )
    try:
        return str(path.resolve()), path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"{source}: cannot read experiment {path}: {error}") from None


def parse_spec(text: str, *, source: str = "<spec>", spec_dir: str | os.PathLike[str] = ".") -> SweepSpec:
    """Return the validated spec described by TOML ``text``.

    Every grid point's config is resolved once here, so a spec that passes makes only valid cells.

    Parameters
    ----------
    text : str
        The spec's TOML.
    source : str
        Where it came from, the prefix of error messages.
    spec_dir : path
        The folder a relative ``experiment`` path is read from.

    Raises
    ------
    SpecError
        One line naming what is wrong.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{source}: invalid TOML: {' '.join(str(error).split())}") from None
    unknown = [key for key in data if key not in SPEC_KEYS]
    if unknown:
        raise SpecError(f"{source}: {unknown[0]} is not a known key; allowed: {', '.join(SPEC_KEYS)}")
    if "experiment" not in data:
        raise SpecError(f"{source}: experiment is required: a shipped name or a config TOML path")
    config_source, config_text = _experiment(data["experiment"], Path(spec_dir), source)
    overrides = _table(data, "set", source)
    for key in overrides:
        _check_key(key, "set", source)
    grid = _grid(_table(data, "grid", source), source)
    both = [key for key in grid if key in overrides]
    if both:
        raise SpecError(f"{source}: {both[0]} is in both set and grid; give it in one of them")
    try:
        base = parse_config(
            config_text,
            source=config_source,
            default_name=Path(config_source).stem,
            base_dir=Path(config_source).parent if config_source not in shipped_experiments() else None,
        )
    except ConfigError as error:
        raise SpecError(f"{source}: experiment: {error}") from None
    seeds = _seeds(data["seeds"], source) if "seeds" in data else tuple(base.seeds)
    spec = SweepSpec(
        experiment=data["experiment"],
        config_source=config_source,
        config_text=config_text,
        base_config=base,
        seeds=seeds,
        set=overrides,
        grid=grid,
        source=source,
    )
    for point in spec.points():
        spec.resolve(point)
    return spec


def load_spec(path: str | os.PathLike[str]) -> SweepSpec:
    """Return the validated spec in the TOML file ``path``; see :func:`parse_spec`."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: no such spec file" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"{path}: cannot read the spec: {error}") from None
    return parse_spec(text, source=str(path), spec_dir=path.parent)


# ----------------------------------------------------------------------------------------------
# TOML out (the config package writes only its own schema; a spec and a raw config are free-form)
# ----------------------------------------------------------------------------------------------

_BARE_KEY = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def _key(key: str) -> str:
    return key if key and set(key) <= _BARE_KEY else json.dumps(key, ensure_ascii=False)


def toml_value(value: Any) -> str:
    """Return one TOML value, inline, for the types a TOML document can hold (dates excepted)."""
    if isinstance(value, np.generic):  # a number read back from a table
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(float(value))  # the shortest text that reads back as the same float64
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(key)} = {toml_value(item)}" for key, item in value.items()) + "}"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def toml_text(data: Mapping[str, Any]) -> str:
    """Return a TOML document: top-level values, then one ``[table]`` per top-level table."""
    lines = [f"{_key(key)} = {toml_value(value)}" for key, value in data.items() if not isinstance(value, dict)]
    for table, values in data.items():
        if isinstance(values, dict):
            lines += ["", f"[{_key(table)}]", *(f"{_key(key)} = {toml_value(item)}" for key, item in values.items())]
    return "\n".join(lines) + "\n"
