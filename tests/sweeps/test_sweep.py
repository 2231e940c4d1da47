"""Sweeps on a LocalCluster: every cell run, numbers equal to ``infoflow run``, reuse, failures, tables."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import infoflow.sweeps.executor as executor_module
import infoflow.training.experiment as experiment_module
from infoflow.cli import main
from infoflow.sweeps import run_sweep
from infoflow.sweeps.gather import seed_bands

SPEC = """
experiment = "tiny.toml"
seeds = [0, 1]
[set]
"training.epochs" = 2
[grid]
"network.beta" = [0.05, 0.1]
"""
CELLS = [f"network.beta={beta}/seed={seed}" for beta in (0.05, 0.1) for seed in (0, 1)]


def snapshot(out: Path) -> dict[str, tuple[int, bytes]]:
    """Every cell's metrics.csv: (modification time, bytes)."""
    paths = [out / cell / "metrics.csv" for cell in CELLS]
    return {str(path): (path.stat().st_mtime_ns, path.read_bytes()) for path in paths}


@pytest.fixture()
def swept(tiny_experiment: Path, write_spec, tmp_path: Path) -> Path:
    """A finished 2 x 2 sweep on a one-worker LocalCluster (in this process: no start-up cost)."""
    out = tmp_path / "sweep"
    result = run_sweep(write_spec(SPEC), out, workers=1, progress=False)
    assert [outcome.status for outcome in result.outcomes] == ["complete"] * 4
    return out


def test_a_small_sweep_writes_every_cell_the_tables_and_the_figures(swept: Path) -> None:
    for cell in CELLS:
        assert (swept / cell / "manifest.json").is_file() and (swept / cell / "densities.npz").is_file()
    assert (swept / "sweep.toml").is_file()
    summary = pd.read_csv(swept / "summary.csv")
    assert list(summary.columns[:6]) == ["network.beta", "cell", "seed", "epoch", "layer", "mi_nats"]
    assert len(summary) == 4 * 3  # cells x epochs 0..2 x one layer
    assert sorted(summary["cell"].unique()) == sorted(CELLS)
    for cell in CELLS:
        rows = summary[summary["cell"] == cell].drop(columns=["network.beta", "cell"]).reset_index(drop=True)
        metrics = pd.read_csv(swept / cell / "metrics.csv")
        pd.testing.assert_frame_equal(rows, metrics, check_dtype=False)
        assert (summary.loc[summary["cell"] == cell, "network.beta"] == float(cell.split("=")[1].split("/")[0])).all()
    cells = pd.read_csv(swept / "cells.csv")
    assert list(cells["cell"]) == CELLS and set(cells["status"]) == {"complete"}
    assert list(cells["seed"]) == [0, 1, 0, 1] and list(cells["network.beta"]) == [0.05, 0.05, 0.1, 0.1]
    for figure in ("mi_bands", "accuracy_bands"):
        assert (swept / "figures" / f"{figure}.png").stat().st_size > 1000


def test_a_cell_equals_infoflow_run_of_the_same_config_and_seed(
    swept: Path, tiny_experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The config a user would write by hand for the cell network.beta=0.1/seed=1.
    edited = tmp_path / "edited.toml"
    text = tiny_experiment.read_text().replace("epochs = 3", "epochs = 2")
    edited.write_text("seeds = [1]\n" + text.replace('preset = "tanh"', 'preset = "tanh"\nbeta = 0.1'))
    plain = tmp_path / "plain"
    assert main(["run", str(edited), "--out", str(plain), "--no-progress"]) == 0
    capsys.readouterr()
    cell = swept / "network.beta=0.1/seed=1"
    for name in ("metrics.csv", "densities.npz"):
        assert (cell / name).read_bytes() == (plain / name).read_bytes()


def test_a_rerun_reuses_every_finished_cell_without_a_cluster(
    swept: Path, write_spec, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(swept)

    def no_cluster(*args: object, **kwargs: object) -> None:
        raise AssertionError("a rerun of a finished sweep must not start a cluster")

    monkeypatch.setattr(executor_module, "_client", no_cluster)
    started = time.perf_counter()
    result = run_sweep(write_spec(SPEC), swept, progress=False)
    assert time.perf_counter() - started < 10.0
    assert {outcome.status for outcome in result.outcomes} == {"reused"}
    assert snapshot(swept) == before
    assert len(pd.read_csv(swept / "summary.csv")) == 12


def test_more_seeds_add_cells_and_keep_the_old_ones(swept: Path, write_spec) -> None:
    before = snapshot(swept)
    result = run_sweep(
        write_spec(SPEC.replace("seeds = [0, 1]", "seeds = [0, 1, 2]")), swept, workers=1, progress=False
    )
    statuses = {outcome.label: outcome.status for outcome in result.outcomes}
    assert [statuses[cell] for cell in CELLS] == ["reused"] * 4
    assert statuses["network.beta=0.05/seed=2"] == statuses["network.beta=0.1/seed=2"] == "complete"
    assert snapshot(swept) == before
    assert len(pd.read_csv(swept / "summary.csv")) == 6 * 3


def test_a_changed_override_over_finished_cells_is_refused_before_anything_runs(swept: Path, write_spec) -> None:
    summary = (swept / "summary.csv").read_bytes()
    with pytest.raises(ValueError, match=r"cell network.beta=0.05/seed=0: cannot resume: .*training.epochs"):
        run_sweep(write_spec(SPEC.replace('"training.epochs" = 2', '"training.epochs" = 3')), swept, progress=False)
    assert (swept / "summary.csv").read_bytes() == summary


def test_a_folder_that_is_not_a_sweep_is_refused(
    tiny_experiment: Path, write_spec, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code = main(["sweep", str(write_spec(SPEC)), "--out", str(out), "--no-progress"])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "not a sweep folder" in error
    assert [path.name for path in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "keep me"


def test_a_failing_cell_is_reported_and_the_others_finish(
    tiny_experiment: Path,
    write_spec,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    real_run = experiment_module.run_experiment

    def fails_for_seed_1(config, run_dir, **kwargs):  # noqa: ANN001, ANN202 - a stand-in
        if config.seeds == (1,) and config.network.beta == 0.1:
            raise RuntimeError("disk on fire")
        return real_run(config, run_dir, **kwargs)

    # The one-worker LocalCluster runs in this process, so the patched function is the one it calls.
    monkeypatch.setattr(experiment_module, "run_experiment", fails_for_seed_1)
    out = tmp_path / "sweep"
    code = main(["sweep", str(write_spec(SPEC)), "--out", str(out), "--workers", "1", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 1
    assert "infoflow: cell network.beta=0.1/seed=1 failed: RuntimeError: disk on fire" in captured.err
    assert captured.out.strip() == str(out / "summary.csv")
    cells = pd.read_csv(out / "cells.csv").set_index("cell")
    assert cells.loc["network.beta=0.1/seed=1", "status"] == "failed"
    assert "disk on fire" in cells.loc["network.beta=0.1/seed=1", "message"]
    assert (cells.drop(index="network.beta=0.1/seed=1")["status"] == "complete").all()
    assert "network.beta=0.1/seed=1" not in set(pd.read_csv(out / "summary.csv")["cell"])


def test_the_local_default_runs_cells_in_worker_processes(
    tiny_experiment: Path, write_spec, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweep"
    result = run_sweep(write_spec(SPEC), out, command="infoflow sweep spec.toml")
    err = capsys.readouterr().err
    assert "sweep: 4/4 done, 0 running, 0 failed" in err and "ETA" in err
    assert {outcome.status for outcome in result.outcomes} == {"complete"}
    # One worker per core (at most one per cell): with more than one, each is its own process.
    pids = {int(outcome.worker.rsplit(":", 1)[1]) for outcome in result.outcomes}
    if min(4, os.cpu_count() or 1) > 1:
        assert os.getpid() not in pids
    commands = {json.loads((out / cell / "manifest.json").read_text())["command"] for cell in CELLS}
    assert commands == {"infoflow sweep spec.toml"}


def test_seed_bands_are_the_median_and_interquartile_range_over_seeds() -> None:
    rng = np.random.default_rng(0)
    rows = []
    values = {}
    for beta in (0.05, 0.1):
        for seed in range(7):
            for epoch in (0, 1, 2):
                value = float(rng.normal())
                values.setdefault((beta, epoch), []).append(value)
                rows.append(
                    {
                        "network.beta": beta,
                        "cell": f"{beta}/{seed}",
                        "seed": seed,
                        "epoch": epoch,
                        "layer": 1,
                        "mi_nats": value,
                    }
                )
    summary = pd.DataFrame(rows)
    bands = seed_bands(summary, ["network.beta"], "mi_nats", by_layer=True)
    assert len(bands) == 6
    for (beta, epoch), seeds in values.items():
        row = bands[(bands["point"] == f"network.beta={beta}") & (bands["epoch"] == epoch)].iloc[0]
        # Independent: the sorted values of 7 seeds; quartiles at positions 1.5 and 4.5, median at 3.
        ordered = np.sort(seeds)
        assert row["median"] == pytest.approx(ordered[3])
        assert row["q25"] == pytest.approx(ordered[1] + 0.5 * (ordered[2] - ordered[1]))
        assert row["q75"] == pytest.approx(ordered[4] + 0.5 * (ordered[5] - ordered[4]))


def test_the_summary_carries_the_bounds_and_bounds_csv_their_seed_statistics(swept: Path) -> None:
    summary = pd.read_csv(swept / "summary.csv")
    for name in ("mi_lower_nats", "mi_upper_nats", "resolved", "mi_label_lower_nats", "label_resolved"):
        assert summary[name].notna().all()
    assert (summary["mi_lower_nats"] <= summary["mi_nats"] + 1e-12).all()
    assert (summary["mi_nats"] <= summary["mi_upper_nats"] + 1e-12).all()
    bounds = pd.read_csv(swept / "bounds.csv")
    assert list(bounds.columns[:4]) == ["network.beta", "layer", "epoch", "seeds"]
    assert len(bounds) == 2 * 3  # grid points x epochs (one layer)
    for (beta, epoch), rows in summary.groupby(["network.beta", "epoch"]):
        row = bounds[(bounds["network.beta"] == beta) & (bounds["epoch"] == epoch)].iloc[0]
        assert row["seeds"] == len(rows) == 2
        assert row["mi_lower_mean"] == pytest.approx(rows["mi_lower_nats"].mean())
        assert row["mi_upper_max"] == pytest.approx(rows["mi_upper_nats"].max())
        assert row["mi_lower_min"] <= row["mi_lower_mean"] <= row["mi_mean"] <= row["mi_upper_mean"]
        assert row["resolved_fraction"] == pytest.approx(rows["resolved"].mean())
        assert 0.0 <= row["label_resolved_fraction"] <= 1.0
    assert (swept / "figures" / "mi_bands.png").is_file()
