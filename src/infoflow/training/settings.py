"""The reference trainer's settings, validated, and the independent random streams of a run.

What is measured, and when, is :class:`~infoflow.measure.settings.MeasurementSettings` (the probe's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from infoflow.config.sections import LOSSES, OPTIMIZER_ALIASES, OPTIMIZERS
from infoflow.measure.settings import MeasurementSettings
from infoflow.validation import MAX_SEED

# Adam's constants: torch.optim.Adam's defaults.
ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-8

ORTHONORMAL_ALLOWED = "a number in [0, 1) (the orthonormality step alpha; 0 or left out: off)"

# The independent random streams of one training run; each is a torch.Generator derived from
# (seed, purpose), so adding draws to one stream never shifts the numbers of another.
STREAMS = ("init", "data", "train", "test", "estimation", "train_accuracy")


# ----------------------------------------------------------------------------------------------
# Settings
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingSettings:
    """How the network is trained.

    Attributes
    ----------
    epochs : int
        Passes over the training set (>= 0); records are made for epochs 0..epochs.
    learning_rate : float
        Initial SGD step size, > 0.
    momentum : float
        SGD momentum in [0, 1); the seed used none. Must be 0 with "adam" and "kong2019_code".
    loss : {"mse", "cross_entropy"}
        "mse": mean squared error between the noisy output T_L and the label. "cross_entropy":
        binary logistic loss with logit (T_L - midpoint) * sign(above - below) and target 1 for
        the ``above`` class, so its decision boundary is the accuracy's threshold.
    train_size, test_size : int
        Examples in the fixed training set and in the fixed test set.
    batch_size : int
        Examples per SGD step; the last batch of an epoch may be smaller.
    lr_drop_factor : float
        The learning rate is divided once by this (> 0) ...
    lr_drop_accuracy : float or None
        ... the first time the test accuracy is >= this; None: never.
    orthonormal : float or None
        None or 0: off. alpha in (0, 1): after every optimizer step, every Linear/Conv weight A
        but the last layer's moves toward orthonormal rows, A <- A - alpha (A A^T A - A)
        (:mod:`infoflow.training.orthonormal`; Goldfeld et al. 2019's constraint).
    optimizer : {"sgd", "adam", "kong2019_code"}
        "sgd": torch.optim.SGD's update (with ``momentum``). "adam": torch.optim.Adam's defaults.
        "kong2019_code" (old spelling "seed_code"; off by default; for comparison only): the Kong
        2019 author's code as it ran, which never zeroed gradients, so step t applies
        p -= lr * (g_1 + ... + g_t), the running sum of every gradient so far: SGD with momentum 1
        and no dampening.
    """

    epochs: int
    learning_rate: float
    momentum: float = 0.0
    loss: str = "mse"
    optimizer: str = "sgd"
    train_size: int = 1000
    test_size: int = 1000
    batch_size: int = 100
    lr_drop_factor: float = 20.0
    lr_drop_accuracy: float | None = None
    orthonormal: float | None = None

    def __post_init__(self) -> None:
        _require(_is_int(self.epochs) and self.epochs >= 0, "epochs", "an integer >= 0", self.epochs)
        _require(_is_positive_finite(self.learning_rate), "learning_rate", "a finite number > 0", self.learning_rate)
        _require(_is_real(self.momentum) and 0 <= self.momentum < 1, "momentum", "a number in [0, 1)", self.momentum)
        _require(self.loss in LOSSES, "loss", f"one of {', '.join(LOSSES)}", self.loss)
        if isinstance(self.optimizer, str) and self.optimizer in OPTIMIZER_ALIASES:
            object.__setattr__(self, "optimizer", OPTIMIZER_ALIASES[self.optimizer])
        _require(self.optimizer in OPTIMIZERS, "optimizer", f"one of {', '.join(OPTIMIZERS)}", self.optimizer)
        _require(
            self.optimizer == "sgd" or self.momentum == 0,
            "momentum",
            f"0 with the {self.optimizer} optimizer (momentum is an SGD setting)",
            self.momentum,
        )
        for name in ("train_size", "test_size", "batch_size"):
            value = getattr(self, name)
            _require(_is_int(value) and value >= 1, name, "an integer >= 1", value)
        factor = self.lr_drop_factor
        _require(_is_positive_finite(factor) and factor >= 1, "lr_drop_factor", "a finite number >= 1", factor)
        if self.lr_drop_accuracy is not None:
            accuracy = self.lr_drop_accuracy
            _require(
                _is_real(accuracy) and 0 <= accuracy <= 1, "lr_drop_accuracy", "a number in [0, 1] or None", accuracy
            )
        if self.orthonormal is not None:
            alpha = self.orthonormal
            _require(_is_real(alpha) and 0 <= alpha < 1, "orthonormal", ORTHONORMAL_ALLOWED, alpha)


# The trainer's measurement settings are the probe's: one object, its defaults defined once.
RecordingSettings = MeasurementSettings


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_positive_finite(value: Any) -> bool:
    return _is_real(value) and value > 0


def _require(condition: bool, name: str, allowed: str, value: Any) -> None:
    if not condition:
        raise ValueError(f"{name} must be {allowed}; got {value!r}")


def derived_generator(seed: int, stream: str) -> torch.Generator:
    """Return a CPU torch.Generator for one random stream of a run, fixed by (seed, stream).

    Parameters
    ----------
    seed : int
        The run's seed, >= 0.
    stream : str
        One of ``STREAMS``: "init", "data", "train", "test", "estimation", "train_accuracy".
    """
    if stream not in STREAMS:
        raise ValueError(f"stream must be one of {', '.join(STREAMS)}; got {stream!r}")
    if not (_is_int(seed) and 0 <= seed <= MAX_SEED):
        raise ValueError(f"seed must be an integer in [0, 2**53 - 1]; got {seed!r}")
    # SeedSequence hashes (seed, stream) into well-mixed, independent 63-bit seeds.
    words = np.random.SeedSequence([seed, STREAMS.index(stream)]).generate_state(2, np.uint32)
    generator = torch.Generator()
    generator.manual_seed((int(words[0]) << 31) ^ int(words[1]))
    return generator
