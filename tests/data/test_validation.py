"""The public API refuses bad arguments with one ValueError line that names the argument.

Probes every public constructor and function outside the entropy engine with wrong types,
NaN, inf, negatives, huge sizes, complex numbers, strings and booleans for numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import infoflow as api

BAD_NUMBERS = {
    "string": "1",
    "nan": math.nan,
    "inf": math.inf,
    "complex": 1 + 2j,
    "bool": True,
    "none": None,
}
HUGE = 10**30


def net() -> api.NoisyMLP:
    return api.seed_network("tanh", 0.1)


def two_points() -> api.DiscreteUniform:
    return api.DiscreteUniform([0.0, 1.0])


# (argument name named in the message, call taking the bad value)
NUMBER_ARGUMENTS: list[tuple[str, Callable[[Any], object]]] = [
    ("beta", lambda v: api.GaussianNoise(v)),
    ("beta", lambda v: api.NoisyMLP([1, 1], ["tanh"], v)),
    ("beta", lambda v: api.seed_network("tanh", v)),
    ("widths", lambda v: api.NoisyMLP([1, v, 1], ["tanh", "tanh"], 0.1)),
    ("threshold", lambda v: api.ThresholdLabels(v)),
    ("below", lambda v: api.ThresholdLabels(0.0, v, 1.0)),
    ("above", lambda v: api.ThresholdLabels(0.0, -1.0, v)),
    ("values", lambda v: api.DiscreteUniform([0.0, v])),
    ("mean", lambda v: api.Gaussian(v, 1.0)),
    ("var", lambda v: api.Gaussian(0.0, v)),
    ("low", lambda v: api.Uniform(v, 2.0)),
    ("weights", lambda v: api.GaussianMixture([0.0, 1.0], [1.0, 1.0], [1.0, v])),
    ("x", lambda v: api.FiniteDataset(np.array([[0.0], [v]], dtype=object))),
    ("n_samples", lambda v: api.mutual_information(net(), two_points(), n_samples=v)),
    ("n_conditional", lambda v: api.mutual_information(net(), two_points(), n_samples=4, n_conditional=v)),
    ("seed", lambda v: api.mutual_information(net(), two_points(), n_samples=4, n_conditional=4, seed=v)),
    ("n_samples", lambda v: api.InformationProbe(net(), two_points(), n_samples=v)),
    ("number of draws", lambda v: two_points().sample(v, torch.Generator())),
]
# Booleans are numbers to Python; where a bool is a legitimate float (1.0) it is not probed.
BOOL_AS_FLOAT = {"values", "weights", "x"}


@pytest.mark.parametrize(
    ("name", "call"), NUMBER_ARGUMENTS, ids=[f"{i}-{n}" for i, (n, _) in enumerate(NUMBER_ARGUMENTS)]
)
@pytest.mark.parametrize("kind", list(BAD_NUMBERS))
def test_bad_numbers_raise_one_line_naming_the_argument(name: str, call: Callable[[Any], object], kind: str) -> None:
    if kind == "bool" and name in BOOL_AS_FLOAT:
        pytest.skip("a boolean is read as the number it is here")
    if kind == "none" and name in ("values", "weights"):
        pytest.skip("covered by the string case: no number")
    with pytest.raises(ValueError) as caught:
        call(BAD_NUMBERS[kind])
    message = str(caught.value)
    assert name in message and "\n" not in message


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("widths", lambda: api.NoisyMLP([1, HUGE, 1], "tanh", 0.1)),
        ("widths", lambda: api.NoisyMLP([1, 10**7, 10**7, 1], "tanh", 0.1)),
        ("n_samples", lambda: api.mutual_information(net(), two_points(), n_samples=10**12)),
        ("n_conditional", lambda: api.mutual_information(net(), two_points(), n_samples=4, n_conditional=10**12)),
        ("seed", lambda: api.mutual_information(net(), two_points(), n_samples=4, n_conditional=4, seed=HUGE)),
        ("n", lambda: two_points().sample(10**12, torch.Generator())),
        ("generator", lambda: two_points().sample(3, "a generator")),
        ("beta", lambda: api.GaussianNoise(1e-300)),
        ("x", lambda: api.ThresholdLabels(0.0)(torch.tensor([1 + 1j]))),
        ("above and below", lambda: api.ThresholdLabels(0.0, 1.0, 1.0)),
        ("values", lambda: api.DiscreteUniform(np.array([0.0, 1 + 1j]))),
        ("name_or_path", lambda: api.load_config(3)),
        ("config", lambda: api.run_experiment({"name": "x"}, "/nonexistent/run")),
    ],
)
def test_huge_and_odd_arguments_raise_one_line_naming_the_argument(name: str, call: Callable[[], object]) -> None:
    with pytest.raises(ValueError) as caught:
        call()
    message = str(caught.value)
    assert name in message and "\n" not in message


def test_noisy_mlp_refuses_a_fractional_width() -> None:
    with pytest.raises(ValueError, match="widths must be a list of integers"):
        api.NoisyMLP([1, 3.5, 1], "tanh", 0.1)
