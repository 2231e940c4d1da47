"""The experiment config: ONE schema, validated once at the boundary (pydantic dataclasses).

Modules: ``types`` (strict value types), ``errors`` (one-line ConfigError), ``network``,
``inputs``, ``sections`` (labels, training, estimation, density), ``experiment`` (the whole
config and its cross-table rules), ``loading`` (TOML in and out, shipped experiments);
``schema`` re-exports them all.
"""

from infoflow.config.errors import ConfigError
from infoflow.config.experiment import ExperimentConfig
from infoflow.config.loading import (
    config_to_dict,
    config_to_toml,
    load_config,
    parse_config,
    shipped_config_text,
    shipped_experiments,
    with_seeds,
)

__all__ = [
    "ConfigError",
    "ExperimentConfig",
    "config_to_dict",
    "config_to_toml",
    "load_config",
    "parse_config",
    "shipped_config_text",
    "shipped_experiments",
    "with_seeds",
]
