"""metrics.csv carries the bounds of every estimate; read_run and checkpoints keep them."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w
import torch

from infoflow.config.schema import ExperimentConfig, parse_config
from infoflow.runs.format import BOUND_COLUMNS, CHECKPOINT_FORMAT, estimator_of_column, metric_columns
from infoflow.runs.reader import read_run
from infoflow.training.experiment import run_experiment

TINY = """
name = "tiny-bounds"
seeds = [0, 1]

[network]
preset = "tanh"

[inputs]
kind = "gaussian"
var = 0.25

[training]
epochs = 2
learning_rate = 0.05
train_size = 20
batch_size = 10
test_size = 20

[estimation]
n_samples = 20
n_conditional = 8
n_inputs = 4

[density]
points = 8
"""


def tiny(**estimation: object) -> ExperimentConfig:
    data = tomllib.loads(TINY)
    data["estimation"].update(estimation)
    return parse_config(tomli_w.dumps(data), source="tiny")


@pytest.fixture(scope="module")
def bounded_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_experiment(tiny(), tmp_path_factory.mktemp("bounds") / "run", progress=False)


def test_the_bound_columns_are_not_estimators() -> None:
    assert all(estimator_of_column(name) is None for name in BOUND_COLUMNS)
    columns = metric_columns(["kl_upper"])
    assert columns.index("std_error_nats") < columns.index("mi_lower_nats")
    assert set(BOUND_COLUMNS) <= set(columns)


def test_every_estimate_lies_inside_its_bounds_and_resolved_is_a_flag(bounded_run: Path) -> None:
    table = pd.read_csv(bounded_run / "metrics.csv")
    assert set(BOUND_COLUMNS) <= set(table.columns)
    measured = table.dropna(subset=["mi_nats"])
    assert len(measured) == 2 * 3 * int(table["layer"].max())  # seeds x epochs (0..2) x layers
    for value, lower, upper in (
        ("mi_nats", "mi_lower_nats", "mi_upper_nats"),
        ("mi_label_nats", "mi_label_lower_nats", "mi_label_upper_nats"),
    ):
        assert measured[[value, lower, upper]].notna().all().all()
        assert (measured[lower] <= measured[value] + 1e-12).all()
        assert (measured[value] <= measured[upper] + 1e-12).all()
        assert (measured[lower] >= 0).all()
    for flag in ("resolved", "label_resolved"):
        assert set(measured[flag].unique()) <= {0, 1}
    # Resolved (within 0.1 nats of both bounds, the default) means a bracket at most 0.2 wide;
    # an unresolved estimate is more than 0.1 from one of its bounds.
    width = measured["mi_upper_nats"] - measured["mi_lower_nats"]
    assert (width[measured["resolved"] == 1] <= 0.2 + 1e-9).all()
    far = np.maximum(measured["mi_nats"] - measured["mi_lower_nats"], measured["mi_upper_nats"] - measured["mi_nats"])
    assert (far[measured["resolved"] == 0] > 0.1 - 1e-9).all()
    assert (measured["std_error_nats"] >= 0).all()


def test_read_run_carries_the_bounds(bounded_run: Path) -> None:
    record = read_run(bounded_run)
    table = pd.read_csv(bounded_run / "metrics.csv")
    assert set(record.bounds) == set(BOUND_COLUMNS)
    assert list(record.metrics.columns) == list(table.columns)
    for name in BOUND_COLUMNS:
        assert record.bounds[name].shape == record.mi.shape
    lower, upper = record.bounds["mi_lower_nats"], record.bounds["mi_upper_nats"]
    measured = np.isfinite(record.mi)
    assert np.all(lower[measured] <= record.mi[measured] + 1e-12)
    assert np.all(record.mi[measured] <= upper[measured] + 1e-12)
    row = table.iloc[-1]
    seed_index = int(np.flatnonzero(record.seeds == row["seed"])[0])
    epoch_index = int(np.flatnonzero(record.epochs == row["epoch"])[0])
    assert record.bounds["mi_upper_nats"][seed_index, epoch_index, int(row["layer"]) - 1] == row["mi_upper_nats"]


def test_a_run_with_bounds_off_leaves_the_columns_empty(tmp_path: Path) -> None:
    run_dir = run_experiment(tiny(bounds=False), tmp_path / "run", progress=False)
    table = pd.read_csv(run_dir / "metrics.csv")
    assert set(BOUND_COLUMNS) <= set(table.columns)
    assert table[list(BOUND_COLUMNS)].isna().all().all()
    assert table["mi_nats"].notna().all()
    assert read_run(run_dir).bounds == {}


def test_bad_bound_settings_are_named() -> None:
    with pytest.raises(ValueError, match="target_error") as caught:
        tiny(target_error=-1.0)
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match="bounds"):
        tiny(bounds="yes")


def test_checkpoint_keeps_the_bounds_and_an_old_format_is_refused(bounded_run: Path, tmp_path: Path) -> None:
    bounded_run = Path(shutil.copytree(bounded_run, tmp_path / "copy"))
    state = torch.load(bounded_run / "checkpoint.pt", weights_only=True)
    assert state["format"] == CHECKPOINT_FORMAT
    table = pd.read_csv(bounded_run / "metrics.csv")
    stored = state["records"]["metrics"].numpy()
    assert stored.shape == table.shape
    for name in ("mi_lower_nats", "resolved", "label_resolved"):
        column = list(table.columns).index(name)
        np.testing.assert_array_equal(np.nan_to_num(stored[:, column], nan=-1), table[name].fillna(-1).to_numpy())
    # An interrupted run whose checkpoint predates the bound columns: refused in one line.
    state["format"] = "infoflow-checkpoint-2"
    torch.save(state, bounded_run / "checkpoint.pt")
    manifest_path = bounded_run / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["status"] = "running"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="infoflow-checkpoint-2") as caught:
        run_experiment(tiny(), bounded_run, resume=True, progress=False)
    message = str(caught.value)
    assert "\n" not in message and CHECKPOINT_FORMAT in message
