"""infoflow: information flow in noisy neural networks.

The public API, re-exported; the machinery lives in the submodules.
"""

from infoflow.entropy import sp_entropy
from infoflow.estimators import (
    InformationMeasurement,
    measure_information,
    mutual_information,
)
from infoflow.experiments import load_config, run_experiment
from infoflow.inputs import DiscreteUniform, Gaussian, GaussianMixture, ThresholdLabels
from infoflow.networks import NoisyMLP, seed_network
from infoflow.truth import (
    UnsupportedForTruth,
    true_mutual_information,
    truth_is_computable,
)

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
    "DiscreteUniform",
    "Gaussian",
    "GaussianMixture",
    "ThresholdLabels",
    "load_config",
    "run_experiment",
]

__version__ = "0.1.0"
