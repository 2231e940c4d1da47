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

# The run folder's constants (used by runs/ and training/; they belong with the run-folder format).
RUN_FILES = ("config.toml", "metrics.csv", "densities.npz", "manifest.json", "checkpoint.pt", "figures")
METRIC_COLUMNS = ("seed", "epoch", "layer", "mi_nats", "true_mi_nats", "mi_label_nats", "accuracy", "loss", "lr")
CHECKPOINT_FORMAT = "infoflow-checkpoint-2"  # 2: records by recorded epoch, Adam state, train_accuracy stream
# Runs use one intra-op thread: for networks this small, threads cost more than they save (ten
# times slower on a busy two-core machine), and one thread makes every number independent of
# the machine's core count.
RUN_THREADS = 1
# A checkpoint (with fsync) costs milliseconds on a busy disk, more than an epoch of these small
# networks; taking one at most once a second bounds that cost and the work a kill can lose.
CHECKPOINT_INTERVAL_S = 1.0

__all__ = [
    "AUTO",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_INTERVAL_S",
    "DATASET_SUFFIXES",
    "GENERAL_INITS",
    "INIT_ALIASES",
    "INPUT_CONFIGS",
    "INPUT_KINDS",
    "LABEL_KINDS",
    "METRIC_COLUMNS",
    "OPTIMIZERS",
    "RUN_FILES",
    "RUN_THREADS",
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
    "first_difference",
    "config_to_dict",
    "config_to_toml",
    "default_density_limits",
    "fixed_density_limits",
    "load_config",
    "parse_config",
    "shipped_config_text",
    "shipped_experiments",
    "with_seeds",
]
