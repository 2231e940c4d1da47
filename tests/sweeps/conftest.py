"""Shared pieces of the sweep tests: a tiny experiment (milliseconds per cell) and spec writing."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_EXPERIMENT = """
name = "tiny"
[network]
preset = "tanh"
[inputs]
kind = "discrete_uniform"
values = [-3.0, -1.0, 1.0, 3.0]
[labels]
threshold = 2.0
[training]
epochs = 3
learning_rate = 0.05
train_size = 40
batch_size = 10
test_size = 100
[estimation]
n_samples = 100
n_conditional = 10
n_inputs = 4
[density]
points = 16
"""


@pytest.fixture()
def tiny_experiment(tmp_path: Path) -> Path:
    """A config file of a one-unit tanh network trained for 3 epochs."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_EXPERIMENT, encoding="utf-8")
    return path


@pytest.fixture()
def write_spec(tmp_path: Path):
    """Write a spec's TOML text beside the tiny experiment; return its path."""

    def write(text: str, name: str = "spec.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
