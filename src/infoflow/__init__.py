"""infoflow: information flow in noisy neural networks.

The public API, re-exported; the machinery lives in the subpackages. This module is also the
composition root: importing ``infoflow.papers`` registers every paper's experiments, networks,
reproduce target and commands (:mod:`infoflow.registry`) before any other module can read them.
"""

import infoflow.papers  # noqa: F401 - registers every paper (infoflow.registry)
from infoflow.config.schema import load_config
from infoflow.data.dataset import FiniteDataset
from infoflow.data.distributions import DiscreteUniform, Gaussian, GaussianMixture, Uniform
from infoflow.data.labels import ThresholdLabels
from infoflow.entropy import sp_entropy
from infoflow.estimators.sample_propagation import (
    InformationMeasurement,
    measure_information,
    mutual_information,
)
from infoflow.estimators.truth import (
    UnsupportedForTruth,
    true_mutual_information,
    truth_is_computable,
)
from infoflow.measure.probe import InformationProbe
from infoflow.measure.settings import MeasurementSettings
from infoflow.models.mlp import NoisyMLP
from infoflow.models.noise import GaussianNoise
from infoflow.models.rnn import NoisyElman
from infoflow.papers.kong2019.networks import kong2019_network, seed_network
from infoflow.runs.reader import read_run
from infoflow.training.experiment import run_experiment
from infoflow.version import __version__  # noqa: F401 - infoflow.__version__

__all__ = [
    "sp_entropy",
    "mutual_information",
    "measure_information",
    "InformationMeasurement",
    "true_mutual_information",
    "truth_is_computable",
    "UnsupportedForTruth",
    "NoisyMLP",
    "seed_network",
    "kong2019_network",
    "DiscreteUniform",
    "Gaussian",
    "GaussianMixture",
    "ThresholdLabels",
    "Uniform",
    "FiniteDataset",
    "GaussianNoise",
    "NoisyElman",
    "InformationProbe",
    "MeasurementSettings",
    "read_run",
    "load_config",
    "run_experiment",
]
