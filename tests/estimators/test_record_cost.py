"""Sizes at real width: n_conditional="auto" and the memory check from the model's real layer widths."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import infoflow.estimators.sample_propagation as sample_propagation
import infoflow.validation as validation
from infoflow import FiniteDataset, GaussianNoise, NoisyMLP, measure_information
from infoflow.estimators.draws import (
    AUTO_CONDITIONAL,
    CONDITIONAL_VALUES,
    MIN_AUTO_CONDITIONAL,
    resolve_conditional,
)


def digits_like_cnn(beta: float = 0.1) -> nn.Module:
    """The layout of benchmarks/check_digits_cnn.py: noise layers of 512, 256, 32 and 10 units."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 8, 3, padding=1), nn.Tanh(), GaussianNoise(beta),
        nn.Conv2d(8, 4, 3, padding=1), nn.Tanh(), GaussianNoise(beta),
        nn.Flatten(), nn.Linear(256, 32), nn.Tanh(), GaussianNoise(beta),
        nn.Linear(32, 10), GaussianNoise(beta),
    ).double()


def digits_like_data(rows: int = 1797) -> FiniteDataset:
    generator = np.random.default_rng(0)
    return FiniteDataset(generator.uniform(0, 1, (rows, 64)), np.arange(rows) % 10)


class _Stop(Exception):
    """Raised in place of the draws: the sizes were validated and nothing was drawn."""


def _sizes_used(monkeypatch: pytest.MonkeyPatch, net: nn.Module, inputs, **kwargs) -> dict:
    seen: dict = {}

    def stop(*args, **given):
        seen.update(given)
        raise _Stop

    monkeypatch.setattr(sample_propagation, "draw_samples", stop)
    with pytest.raises(_Stop):
        measure_information(net, inputs, **kwargs)
    return seen


def test_auto_conditional_rule() -> None:
    # Narrow networks (the seed's scalar nets, SZT's 12-10-7-5-4-3-2 on 256 inputs, the coverage
    # study's 40 points through 32-128-64-32 and linear 8-8-8 on 500 inputs): 1000 per input.
    assert resolve_conditional("auto", 500, [1, 1, 1]) == AUTO_CONDITIONAL
    assert resolve_conditional("auto", 256, [12, 10, 7, 5, 4, 3, 2]) == AUTO_CONDITIONAL
    assert resolve_conditional("auto", 40, [32, 128, 64, 32]) == AUTO_CONDITIONAL
    assert resolve_conditional("auto", 500, [8, 8, 8]) == AUTO_CONDITIONAL
    # The digits CNN: 500 inputs x n x 810 units within 10 * 2**20 values.
    n = resolve_conditional("auto", 500, [64, 512, 256, 32, 10])
    assert n == CONDITIONAL_VALUES // (500 * 810) and 500 * n * 810 <= CONDITIONAL_VALUES
    assert resolve_conditional("auto", 10**6, [64, 512]) == MIN_AUTO_CONDITIONAL
    # An explicit size is honoured.
    assert resolve_conditional(2000, 500, [64, 512, 256, 32, 10]) == 2000


def test_auto_conditional_reads_the_widths_of_any_module(monkeypatch: pytest.MonkeyPatch) -> None:
    # The CNN lists no widths: one dry forward reads 512, 256, 32, 10.
    seen = _sizes_used(monkeypatch, digits_like_cnn(), digits_like_data())
    assert seen["n_conditional"] == CONDITIONAL_VALUES // (500 * 810)
    seen = _sizes_used(monkeypatch, NoisyMLP([1, 1, 1], "tanh", 0.05), FiniteDataset(np.arange(8.0)[:, None]))
    assert seen["n_conditional"] == AUTO_CONDITIONAL


def test_too_large_conditional_is_refused_before_drawing(monkeypatch: pytest.MonkeyPatch) -> None:
    # An 8 GiB machine (budget 4 GiB), whatever this one has: 500 x 2000 draws of 874 values
    # (input and the four layers) need about 14 GB, refused in one line naming the argument
    # before any draw is made (draw_samples would raise _Stop).
    monkeypatch.setattr(validation, "machine_memory", lambda: 8 * 2**30)
    net, data = digits_like_cnn(), digits_like_data()
    monkeypatch.setattr(sample_propagation, "draw_samples", lambda *a, **k: (_ for _ in ()).throw(_Stop()))
    with pytest.raises(ValueError, match=r"^n_conditional = 2000 is too large") as error:
        measure_information(net, data, n_conditional=2000)
    assert "\n" not in str(error.value)
    # The same budget takes the default ("auto") sizes.
    with pytest.raises(_Stop):
        measure_information(net, data)
    with pytest.raises(ValueError, match=r'^n_conditional must be an integer >= 1 or "auto"; got .many.$'):
        measure_information(net, data, n_conditional="many")


def test_auto_conditional_keeps_every_coverage_case_at_1000() -> None:
    # The coverage study measures with default settings: "auto" must not change its numbers.
    from infoflow.estimators.coverage import CASES
    from infoflow.estimators.draws import conditioning_count

    for make in CASES.values():
        case = make()
        n_inputs = case.settings.get("n_inputs", 500)
        n_x = conditioning_count(case.inputs, n_inputs)
        assert resolve_conditional(case.settings.get("n_conditional", "auto"), n_x, list(case.net.widths)) == 1000
