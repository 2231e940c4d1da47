"""Run folders (files, determinism, force, resume) and building a network from a config."""

from __future__ import annotations

import copy
import csv
import json
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
import tomli_w
import torch
from tiny_configs import TINY

from infoflow.config.schema import (
    ExperimentConfig,
    load_config,
    parse_config,
    with_seeds,
)
from infoflow.runs.format import METRIC_COLUMNS
from infoflow.training.experiment import build_network, run_experiment
from infoflow.training.trainer import TrainingDiverged


def tiny(**training: object) -> ExperimentConfig:
    """The tiny two-layer config, with [training] fields replaced."""
    data = tomllib.loads(TINY)
    data["training"].update(training)
    return parse_config(tomli_w.dumps(data), source="tiny")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------
# From config to network (the config schema's own tests are in tests/config/test_schema.py)
# ----------------------------------------------------------------------------------------------


def test_default_initialisation_is_fixed_by_the_seed() -> None:
    config = parse_config(
        '[network]\nwidths = [1, 3, 1]\nactivations = ["relu", "tanh"]\n[inputs]\nkind = "gaussian"\n'
    )
    first, again, other = (build_network(config.network, seed) for seed in (0, 0, 1))
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), again.parameters()))
    assert not torch.equal(first.linears[0].weight, other.linears[0].weight)
    assert float(first.linears[0].weight.detach().abs().max()) <= 1.0  # U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = 1


# ----------------------------------------------------------------------------------------------
# Run folders
# ----------------------------------------------------------------------------------------------


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_run_folder_layout(tmp_path: Path) -> None:
    config = with_seeds(tiny(), 2)
    run_dir = run_experiment(config, tmp_path / "run", progress=False, command="test")
    assert sorted(entry.name for entry in run_dir.iterdir()) == [
        "checkpoint.pt",
        "config.toml",
        "densities.npz",
        "manifest.json",
        "metrics.csv",
    ]

    assert parse_config((run_dir / "config.toml").read_text()) == config

    with (run_dir / "metrics.csv").open() as handle:
        header = handle.readline().strip().split(",")
    assert header == [
        *METRIC_COLUMNS,
        "mi_kl_upper_nats",
        "std_error_nats",
        "mi_lower_nats",
        "mi_upper_nats",
        "resolved",
        "mi_label_lower_nats",
        "mi_label_upper_nats",
        "label_resolved",
        "density_outside",
        "binned_entropy_nats",
        "train_accuracy",
    ]
    rows = read_csv(run_dir / "metrics.csv")
    assert len(rows) == 2 * 5 * 2  # seeds x epochs 0..4 x layers
    assert {(row["seed"], row["layer"]) for row in rows} == {("0", "1"), ("0", "2"), ("1", "1"), ("1", "2")}
    assert [row["epoch"] for row in rows[:4]] == ["0", "0", "1", "1"]
    for row in rows:
        # SP with 16 conditional samples is biased; a tiny negative estimate is possible, a large one is not.
        assert float(row["mi_nats"]) > -0.05
        assert 0.0 <= float(row["accuracy"]) <= 1.0
        assert row["true_mi_nats"] != ""  # scalar tanh chain: truth.py computes it
        assert float(row["lr"]) in (0.05, 0.05 / 20)
    # Per-epoch values repeat on every layer's row.
    assert rows[0]["accuracy"] == rows[1]["accuracy"] and rows[0]["loss"] == rows[1]["loss"]

    with np.load(run_dir / "densities.npz") as archive:
        assert archive["seeds"].tolist() == [0, 1]
        assert archive["epochs"].tolist() == [0, 1, 2, 3, 4]
        for layer in (1, 2):
            grid = archive[f"grid_layer{layer}"]
            density = archive[f"density_layer{layer}"]
            assert grid.dtype == np.float64 and grid.shape == (24,)
            assert density.dtype == np.float32 and density.shape == (2, 5, 1, 24)
            assert np.all(np.isfinite(density)) and np.all(density >= 0)

    manifest = json.loads((run_dir / "manifest.json").read_text())
    for key in (
        "infoflow_version",
        "torch_version",
        "numpy_version",
        "python_version",
        "platform",
        "command",
        "seeds",
        "started_utc",
        "finished_utc",
        "timings_s",
        "status",
        "message",
    ):
        assert key in manifest
    assert manifest["status"] == "complete" and manifest["seeds"] == [0, 1] and manifest["command"] == "test"
    assert set(manifest["timings_s"]) == {"total", "per_seed", "per_epoch_mean"}

    checkpoint = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert checkpoint["seed_index"] == 2


def test_densities_integrate_to_one_on_a_wide_grid(tmp_path: Path) -> None:
    text = TINY.replace("points = 24", "points = 400\nlimits = [[-1.6, 1.6], [-1.6, 1.6]]")
    run_dir = run_experiment(parse_config(text), tmp_path / "run", progress=False)
    with np.load(run_dir / "densities.npz") as archive:
        grid = archive["grid_layer2"]
        mass = np.trapezoid(archive["density_layer2"], grid, axis=-1)
    # The grid covers [-1, 1] (tanh) plus 12 beta: the smoothed density's mass is all inside it.
    assert np.allclose(mass, 1.0, atol=1e-6)


def test_two_runs_with_the_same_seed_are_identical(tmp_path: Path) -> None:
    first = run_experiment(tiny(), tmp_path / "a", progress=False)
    second = run_experiment(tiny(), tmp_path / "b", progress=False)
    for name in ("metrics.csv", "densities.npz"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_an_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    write(occupied / "notes.txt", "mine")
    for options in ({}, {"force": True}, {"resume": True}):
        with pytest.raises(FileExistsError):
            run_experiment(tiny(), occupied, progress=False, **options)
    assert [entry.name for entry in occupied.iterdir()] == ["notes.txt"]
    assert (occupied / "notes.txt").read_text() == "mine"

    run_dir = run_experiment(tiny(), tmp_path / "run", progress=False)
    metrics = (run_dir / "metrics.csv").read_bytes()
    with pytest.raises(FileExistsError, match="--force"):
        run_experiment(tiny(learning_rate=0.01), run_dir, progress=False)
    assert (run_dir / "metrics.csv").read_bytes() == metrics

    file_in_the_way = write(tmp_path / "file", "x")
    with pytest.raises(FileExistsError, match="not a folder"):
        run_experiment(tiny(), file_in_the_way, progress=False)


def test_force_replaces_an_infoflow_run(tmp_path: Path) -> None:
    run_dir = run_experiment(tiny(), tmp_path / "run", progress=False)
    (run_dir / "figures").mkdir()
    run_experiment(tiny(learning_rate=0.01), run_dir, force=True, progress=False)
    rows = read_csv(run_dir / "metrics.csv")
    assert {row["lr"] for row in rows} <= {"0.01", "0.0005"}
    assert not (run_dir / "figures").exists()
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["run"]  # the old run is gone


def test_an_empty_folder_may_be_used(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert (run_experiment(tiny(), tmp_path / "empty", progress=False) / "metrics.csv").is_file()


def test_resume_of_a_complete_run_changes_nothing(tmp_path: Path) -> None:
    run_dir = run_experiment(tiny(), tmp_path / "run", progress=False)
    before = {name: (run_dir / name).read_bytes() for name in ("metrics.csv", "densities.npz", "manifest.json")}
    run_experiment(tiny(), run_dir, resume=True, progress=False)
    assert before == {name: (run_dir / name).read_bytes() for name in before}


def test_resume_with_another_config_is_refused(tmp_path: Path) -> None:
    run_dir = run_experiment(tiny(), tmp_path / "run", progress=False)
    with pytest.raises(ValueError, match=r"training\.learning_rate"):
        run_experiment(tiny(learning_rate=0.01), run_dir, resume=True, progress=False)
    with pytest.raises(ValueError, match="exclude each other"):
        run_experiment(tiny(), run_dir, resume=True, force=True, progress=False)


def test_divergence_fails_the_run_and_keeps_its_rows(tmp_path: Path) -> None:
    text = (
        '[network]\nwidths = [1, 1]\nactivations = ["linear"]\n'
        '[inputs]\nkind = "gaussian"\n'
        "[training]\nepochs = 50\nlearning_rate = 1000.0\ntrain_size = 100\nbatch_size = 10\ntest_size = 20\n"
        '[estimation]\nn_samples = 20\nn_conditional = 4\nn_inputs = 4\nschedule = "interval"\nevery = 100\n'
        "[density]\npoints = 8\n"
    )
    run_dir = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match="diverged"):
        run_experiment(parse_config(text), run_dir, progress=False)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "diverged" in manifest["message"]
    rows = read_csv(run_dir / "metrics.csv")
    assert rows and rows[0]["epoch"] == "0" and rows[0]["mi_nats"] != ""
    assert len(rows) < 51


def test_progress_goes_to_stderr_and_can_be_disabled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_experiment(tiny(), tmp_path / "quiet", progress=False)
    assert capsys.readouterr().err == ""
    run_experiment(tiny(), tmp_path / "loud", progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        "tiny seed 0" in captured.err and "4/4" in captured.err and "I(X;T)" in captured.err and "acc" in captured.err
    )


def test_invalid_config_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        run_experiment({"name": "not a config"}, tmp_path / "run", progress=False)  # type: ignore[arg-type]
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------------------------
# Resume after SIGKILL
# ----------------------------------------------------------------------------------------------

KILLABLE = (
    TINY.replace("seeds = [0]", "seeds = [0, 1]")
    .replace("epochs = 4", "epochs = 250")
    .replace("[estimation]", '[estimation]\nschedule = "interval"\nevery = 7')
)


def _epochs_recorded(run_dir: Path) -> int:
    try:
        return len((run_dir / "metrics.csv").read_text().splitlines()) // 2
    except OSError:
        return 0


def test_a_killed_run_resumes_to_identical_files(tmp_path: Path) -> None:
    config_path = write(tmp_path / "killable.toml", KILLABLE)
    killed = tmp_path / "killed"
    script = (
        "import sys\n"
        "from infoflow import load_config, run_experiment\n"
        "run_experiment(load_config(sys.argv[1]), sys.argv[2], progress=False, checkpoint_interval_s=0)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script, str(config_path), str(killed)])
    try:
        deadline = time.monotonic() + 60
        # Kill mid-way through the first seed: after some checkpoints, long before the end.
        while _epochs_recorded(killed) < 40 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    manifest = json.loads((killed / "manifest.json").read_text())
    assert manifest["status"] == "running", "the run finished before the kill; the test proves nothing"

    run_experiment(load_config(config_path), killed, resume=True, progress=False)
    uninterrupted = run_experiment(load_config(config_path), tmp_path / "uninterrupted", progress=False)
    for name in ("metrics.csv", "densities.npz"):
        assert (killed / name).read_bytes() == (uninterrupted / name).read_bytes()
    manifest = json.loads((killed / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["resumed"] == 1
    assert not [entry for entry in killed.iterdir() if ".tmp-" in entry.name]


def test_resume_from_every_kind_of_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A checkpoint of any epoch, including a seed's last and between seeds, continues exactly.
    config = with_seeds(tiny(epochs=3), 2)
    reference = run_experiment(config, tmp_path / "reference", progress=False, checkpoint_interval_s=0)
    checkpoints: list[dict] = []
    original = torch.save

    def capture(state: dict, target: object) -> None:
        checkpoints.append(copy.deepcopy(state))
        original(state, target)

    monkeypatch.setattr(torch, "save", capture)
    run_experiment(config, tmp_path / "captured", progress=False, checkpoint_interval_s=0)
    monkeypatch.undo()
    # Epochs 0..2 of each seed mid-seed, then one checkpoint at the end of each seed.
    assert len(checkpoints) == 8
    for index, state in enumerate(checkpoints):
        run_dir = tmp_path / f"from{index}"
        run_dir.mkdir()
        (run_dir / "config.toml").write_bytes((reference / "config.toml").read_bytes())
        original(state, run_dir / "checkpoint.pt")
        run_experiment(config, run_dir, resume=True, progress=False)
        for name in ("metrics.csv", "densities.npz"):
            assert (run_dir / name).read_bytes() == (reference / name).read_bytes(), (index, name)


def test_checkpoints_hold_only_plain_data(tmp_path: Path) -> None:
    run_dir = run_experiment(tiny(momentum=0.5), tmp_path / "run", progress=False)
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert state["format"].startswith("infoflow-checkpoint")
