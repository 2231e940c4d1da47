"""Sizes are limited by memory, checked before anything is allocated or written."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from infoflow.config import limits
from infoflow.config.schema import ConfigError, parse_config
from infoflow.training.experiment import run_experiment

BASE = """
seeds = [0]
[network]
widths = [1, 3, 1]
activations = ["tanh", "tanh"]
[inputs]
kind = "gaussian"
[training]
epochs = 10
train_size = 100
test_size = 100
[estimation]
n_samples = 100
n_conditional = 10
n_inputs = 10
[density]
points = 50
"""


def config_with(section: str, line: str) -> str:
    """BASE with ``line`` set in ``[section]`` (replacing the key if present)."""
    key = line.split("=")[0].strip()
    lines = BASE.splitlines()
    start = lines.index(f"[{section}]") if section else 0
    for index in range(start + 1 if section else 0, len(lines)):
        if lines[index].startswith("["):
            break
        if lines[index].split("=")[0].strip() == key:
            lines[index] = line
            return "\n".join(lines)
    lines.insert(start + 1, line)
    return "\n".join(lines)


@pytest.fixture(autouse=True)
def four_gib_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same limits on every machine: 8 GiB of memory, 4 GiB allowed."""
    monkeypatch.setattr(limits, "machine_memory", lambda: 8 * 2**30)
    monkeypatch.setattr(limits, "memory_budget", lambda: 4 * 2**30)


@pytest.mark.parametrize(
    ("section", "line", "field"),
    [
        ("training", "epochs = 1000000000000", "training.epochs"),
        ("network", "widths = [1, 10000000, 1]", "network.widths"),
        ("estimation", "n_samples = 1000000000", "estimation.n_samples"),
        ("estimation", "n_conditional = 1000000000", "estimation.n_conditional"),
        ("density", "points = 1000000000", "density.points"),
        ("training", "test_size = 10000000000", "training.test_size"),
    ],
)
def test_each_oversized_field_is_refused_before_allocation(tmp_path: Path, section: str, line: str, field: str) -> None:
    config = parse_config(config_with(section, line))
    tracemalloc.start()
    began = time.perf_counter()
    try:
        with pytest.raises(ConfigError) as caught:
            run_experiment(config, tmp_path / "run", progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    assert message.startswith(f"{field} = ") and "too large" in message and "\n" not in message
    assert "of memory at its peak" in message and "4.0 GiB allowed" in message
    assert time.perf_counter() - began < 2.0 and peak < 50 * 2**20
    assert not (tmp_path / "run").exists()


def test_a_config_that_fits_is_accepted() -> None:
    limits.check_config_limits(parse_config(BASE))
    limits.check_config_limits(parse_config(config_with("training", "epochs = 100000")))


def test_seeds_must_be_stored_exactly() -> None:
    with pytest.raises(ConfigError, match=r"seeds must be a non-empty list of distinct integers in \[0, 2\*\*53 - 1\]"):
        parse_config(config_with("", "seeds = [1000000000000000000000]"))
    parse_config(config_with("", f"seeds = [{2**53 - 1}]"))


def test_a_beta_whose_square_underflows_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match=r"network\.beta must be a number in \[1e-150, 1e150\]"):
        parse_config(config_with("network", "beta = 1e-300"))
