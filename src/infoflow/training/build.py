"""From a validated config to the objects of one run: network, inputs, labels, probe, trainer.

    config ─► build_network + build_inputs + build_labels ─► training_probe ─► Trainer
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from infoflow.config.schema import GENERAL_INITS, ExperimentConfig, InputsConfig, LabelsConfig, NetworkConfig
from infoflow.data.dataset import FiniteDataset
from infoflow.data.distributions import DiscreteUniform, Gaussian, GaussianMixture, InputDistribution, Uniform
from infoflow.data.labels import SumThresholdLabels, ThresholdLabels
from infoflow.data.szt import N_PATTERNS, szt_dataset, szt_test_rows
from infoflow.models.mlp import NoisyMLP
from infoflow.models.rnn import NoisyElman
from infoflow.registry import build_preset
from infoflow.training.settings import TrainingSettings, derived_generator
from infoflow.training.trainer import Trainer, training_probe


def build_network(config: NetworkConfig, seed: int) -> NoisyMLP | NoisyElman:
    """Return the initialised network; "default" initialisation draws from the run's ``seed``."""
    if config.init not in GENERAL_INITS:
        # A paper's name: its preset with the paper's initialisation (validated by the config).
        assert config.preset is not None
        return build_preset(config.preset, config.beta)
    net: NoisyMLP | NoisyElman
    if config.kind == "elman":
        assert config.steps is not None and config.hidden is not None
        net = NoisyElman(
            config.steps,
            config.hidden,
            config.activations[0],
            config.beta,
            input_size=config.widths[0] // config.steps,
        )
        linears = [net.input, net.recurrent, net.readout]
    else:
        net = NoisyMLP(config.widths, list(config.activations), config.beta)
        linears = list(net.linears)
    generator = derived_generator(seed, "init")
    with torch.no_grad():
        for linear in linears:
            for parameter in (linear.weight, linear.bias):
                if parameter is None:
                    continue  # the Elman recurrence has no bias of its own
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
    """Return the input distribution of X (a data set is read from its file here)."""
    if config.kind == "discrete_uniform":
        return DiscreteUniform(config.values)
    if config.kind == "gaussian":
        return Gaussian(config.mean, config.var)
    if config.kind == "uniform":
        return Uniform(config.low, config.high)
    if config.kind == "dataset":
        return FiniteDataset.from_file(config.path, label_column=config.label_column)
    if config.kind == "szt":
        return szt_dataset("all")
    return GaussianMixture(config.means, config.variances, config.weights)


def training_split(config: InputsConfig) -> float | tuple[np.ndarray, np.ndarray] | None:
    """Return how a data set's rows divide into training and test sets (see ``Trainer``)."""
    if config.kind == "szt":
        # The published split: 819 held-out patterns (Goldfeld et al.'s experiments).
        test = szt_test_rows()
        return np.setdiff1d(np.arange(N_PATTERNS), test), test
    return getattr(config, "split", None)


def build_labels(config: LabelsConfig) -> ThresholdLabels | None:
    """Return the labelling rule (None: the data set's own labels)."""
    if config.kind == "dataset":
        return None
    if config.kind == "sum_sign":
        return SumThresholdLabels(0.0, config.below, config.above)
    return ThresholdLabels(config.threshold, config.below, config.above)


def training_settings(config: ExperimentConfig) -> TrainingSettings:
    """Return the trainer's settings for ``config``."""
    return TrainingSettings(**dataclasses.asdict(config.training))


def build_trainer(config: ExperimentConfig, seed: int) -> Trainer:
    """Return a trainer for one seed of ``config``: a fresh network, its inputs and labels, and the
    probe (``config.estimation``, the seed's "estimation" stream) it is handed."""
    net = build_network(config.network, seed)
    inputs = build_inputs(config.inputs)
    labels = build_labels(config.labels)
    probe = training_probe(net, inputs, labels, config.estimation, seed)
    split = training_split(config.inputs)
    return Trainer(net, inputs, labels, training_settings(config), probe, seed=seed, split=split)
