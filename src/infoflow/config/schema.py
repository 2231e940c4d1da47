"""The experiment config schema, one import away: every table's model and the TOML functions.

The schema lives in modules by concept (``network``, ``inputs``, ``sections``, ``experiment``,
``loading``, ``errors``); this module re-exports them for ``from infoflow.config.schema import``.
"""

from __future__ import annotations

from infoflow.config.errors import ConfigError
from infoflow.config.experiment import ExperimentConfig
from infoflow.config.inputs import (
    DATASET_SUFFIXES,
    INPUT_CONFIGS,
    INPUT_KINDS,
    DatasetInputsConfig,
    DiscreteUniformInputsConfig,
    GaussianInputsConfig,
    GaussianMixtureInputsConfig,
    InputsConfig,
    UniformInputsConfig,
)
from infoflow.config.loading import (
    config_comparison,
    config_to_dict,
    config_to_toml,
    first_difference,
    load_config,
    parse_config,
    shipped_config_text,
    shipped_experiments,
    with_seeds,
)
from infoflow.config.network import GENERAL_INITS, INIT_ALIASES, NetworkConfig
from infoflow.config.sections import (
    AUTO,
    LABEL_KINDS,
    OPTIMIZERS,
    DatasetLabelsConfig,
    DensityConfig,
    EstimationConfig,
    LabelsConfig,
    ThresholdLabelsConfig,
    TrainingConfig,
    default_density_limits,
    fixed_density_limits,
)

__all__ = [
    "AUTO",
    "DATASET_SUFFIXES",
    "GENERAL_INITS",
    "INIT_ALIASES",
    "INPUT_CONFIGS",
    "INPUT_KINDS",
    "LABEL_KINDS",
    "OPTIMIZERS",
    "ConfigError",
    "DatasetInputsConfig",
    "DatasetLabelsConfig",
    "DensityConfig",
    "DiscreteUniformInputsConfig",
    "EstimationConfig",
    "ExperimentConfig",
    "GaussianInputsConfig",
    "GaussianMixtureInputsConfig",
    "InputsConfig",
    "LabelsConfig",
    "NetworkConfig",
    "ThresholdLabelsConfig",
    "TrainingConfig",
    "UniformInputsConfig",
    "config_comparison",
    "config_to_dict",
    "config_to_toml",
    "default_density_limits",
    "first_difference",
    "fixed_density_limits",
    "load_config",
    "parse_config",
    "shipped_config_text",
    "shipped_experiments",
    "with_seeds",
]
