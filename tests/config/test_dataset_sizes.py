"""inputs.kind = "dataset": training and test sizes come from the file's rows (issue 18)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from infoflow import cli
from infoflow.config import ConfigError, config_to_toml, load_config, parse_config
from infoflow.data.dataset import split_sizes
from infoflow.training.experiment import build_trainer, run_experiment

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "blobs.toml"

CONFIG = """
[network]
widths = [2, 3, 2]
activations = ["tanh", "linear"]
init = "default"
[inputs]
kind = "dataset"
path = "data.npz"
{inputs}
[labels]
kind = "dataset"
[training]
epochs = 1
loss = "cross_entropy"
{training}
[estimation]
n_samples = 50
n_conditional = 10
n_inputs = 10
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder with data.npz: 200 rows of 2 numbers, binary labels."""
    x = np.random.default_rng(0).normal(size=(200, 2))
    np.savez(tmp_path / "data.npz", x=x, y=(x[:, 0] > 0).astype(np.int64))
    return tmp_path


def _config(folder: Path, inputs: str = "", training: str = "") -> Path:
    path = folder / "config.toml"
    path.write_text(CONFIG.format(inputs=inputs, training=training), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("split", "expected"),
    [(None, (200, 200)), (0.5, (100, 100)), (0.75, (150, 50)), (0.999, (199, 1)), (0.001, (1, 199))],
)
def test_left_out_sizes_are_the_files_parts(folder: Path, split: float | None, expected: tuple[int, int]) -> None:
    inputs = "" if split is None else f"split = {split}"
    training = load_config(_config(folder, inputs)).training
    # The rule: round(split * rows) train, at least 1 and at most rows - 1; the rest test.
    assert split_sizes(200, split) == expected
    assert (training.train_size, training.test_size) == expected
    # batch_size defaults to a full batch of the training rows.
    assert training.batch_size == expected[0]


def test_given_sizes_up_to_the_parts_are_kept_and_round_trip(folder: Path) -> None:
    config = load_config(_config(folder, "split = 0.5", "train_size = 100\ntest_size = 40\nbatch_size = 25"))
    assert (config.training.train_size, config.training.test_size, config.training.batch_size) == (100, 40, 25)
    assert parse_config(config_to_toml(config)) == config


@pytest.mark.parametrize(
    ("inputs", "training", "words"),
    [
        ("split = 0.5", "train_size = 101", ("training.train_size = 101", "100 training rows", "split = 0.5 of 200")),
        ("split = 0.5", "train_size = 1000", ("training.train_size = 1000", "<= 100")),
        ("split = 0.75", "test_size = 51", ("training.test_size = 51", "50 test rows")),
        ("", "test_size = 201", ("training.test_size = 201", "200 test rows", "every row trains and tests")),
        ("split = 0.5", "batch_size = 101", ("training.batch_size", "train_size = 100")),
    ],
)
def test_a_size_larger_than_the_file_allows_names_the_field(
    folder: Path, inputs: str, training: str, words: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(_config(folder, inputs, training))
    message = str(raised.value)
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)


def test_one_row_cannot_be_split(tmp_path: Path) -> None:
    np.savez(tmp_path / "data.npz", x=np.zeros((1, 2)), y=np.zeros(1, dtype=np.int64))
    with pytest.raises(ConfigError, match=r"inputs\.split = 0\.5 leaves no test row.* 1 rows"):
        load_config(_config(tmp_path, "split = 0.5"))


def test_the_cli_refuses_in_one_line_exit_2(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = folder / "run"
    assert cli.main(["run", str(_config(folder, "split = 0.5", "train_size = 150")), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error and "training.train_size = 150" in error
    assert not out.exists()


def test_the_trainer_trains_and_tests_on_the_sizes(folder: Path) -> None:
    config = load_config(_config(folder, "split = 0.75", "train_size = 120\ntest_size = 30"))
    trainer = build_trainer(config, seed=0)
    assert trainer.train_inputs.shape == (120, 2) and trainer.test_inputs.shape == (30, 2)
    # The parts are disjoint rows of the file.
    rows = {tuple(row) for row in trainer.train_inputs.tolist()}
    assert not rows & {tuple(row) for row in trainer.test_inputs.tolist()}
    # A config built in Python with a size beyond the file is refused by the trainer, naming it.
    bigger = dataclasses.replace(config, training=dataclasses.replace(config.training, test_size=51))
    with pytest.raises(ValueError, match=r"training\.test_size = 51 exceeds the data set's 50 test rows"):
        build_trainer(bigger, seed=0)


def test_the_shipped_example_reads_its_file_and_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the data path is read from the config file's folder
    config = load_config(EXAMPLE)
    assert (config.inputs.kind, Path(config.inputs.path).name) == ("dataset", "blobs.csv")
    # blobs.csv: 240 rows, split 0.75 -> 180 training and 60 test rows.
    assert (config.training.train_size, config.training.test_size) == (180, 60)
    trainer = build_trainer(config, seed=0)
    labels = torch.cat([trainer.train_labels, trainer.test_labels]).reshape(-1)
    assert sorted(torch.bincount(labels.to(torch.int64)).tolist()) == [80, 80, 80]
    # A short run through the CLI's code path writes a run folder.
    short = dataclasses.replace(
        config,
        training=dataclasses.replace(config.training, epochs=1),
        estimation=config.estimation.replace(n_samples=100, n_conditional=20, n_inputs=20),
    )
    run = run_experiment(short, tmp_path / "run", progress=False)
    assert (run / "metrics.csv").is_file()
