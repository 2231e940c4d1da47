"""One Dask task per (experiment, seed), merged: the same run folder as the seeds one after the other."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from infoflow import cli, read_run
from infoflow.config.schema import parse_config
from infoflow.sweeps.executor import RunTask
from infoflow.sweeps.seeds import cells_folder, run_experiments, seed_config, splits_by_seed
from infoflow.training.experiment import run_experiment

from .conftest import TINY_EXPERIMENT

RUN_FILES = ("metrics.csv", "densities.npz", "config.toml")


def tiny(seeds: int = 3):
    config = parse_config(TINY_EXPERIMENT, source="tiny.toml")
    return dataclasses.replace(config, seeds=tuple(range(seeds)))


def test_merged_seeds_equal_a_serial_run_byte_for_byte(tmp_path: Path) -> None:
    config = tiny(3)
    run_experiment(config, tmp_path / "serial", progress=False)
    (outcome,) = run_experiments([RunTask("tiny", config, tmp_path / "merged")], workers=1, progress=False, plot=True)
    assert outcome.status == "complete" and outcome.seconds is not None and outcome.seconds > 0
    for name in RUN_FILES:
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "merged" / name).read_bytes(), name
    assert (tmp_path / "merged" / "figures" / "mi.png").is_file()
    assert not cells_folder(tmp_path / "merged").exists()  # the cells are gone once merged
    run = read_run(tmp_path / "merged")
    assert run.manifest["status"] == "complete" and len(run.manifest["timings_s"]["per_seed"]) == 3


def test_complete_cells_are_reused_and_a_complete_run_is_not_touched(tmp_path: Path) -> None:
    config = tiny(2)
    run_experiment(config, tmp_path / "serial", progress=False)
    # An interrupted earlier attempt: seed 1's cell finished, seed 0's never started.
    run_experiment(seed_config(config, 1), cells_folder(tmp_path / "run") / "seed-1", progress=False)
    run_experiments([RunTask("tiny", config, tmp_path / "run")], workers=1, progress=False)
    for name in RUN_FILES:
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "run" / name).read_bytes(), name
    metrics = tmp_path / "run" / "metrics.csv"
    stamp = metrics.stat().st_mtime_ns
    (outcome,) = run_experiments([RunTask("tiny", config, tmp_path / "run")], workers=1, progress=False)
    assert outcome.status == "reused" and metrics.stat().st_mtime_ns == stamp


def test_an_experiment_is_merged_and_drawn_as_soon_as_its_cells_settle(tmp_path: Path, monkeypatch) -> None:
    # The cluster is replaced by one that runs the cells in the order given and reports each as
    # it settles; an experiment must be finished (merged, drawn) right after its last cell, before
    # the next cell runs, not after all of them.
    import infoflow.sweeps.seeds as seeds_module
    from infoflow.sweeps.executor import RunOutcome, run_cell

    events: list[str] = []

    def serial_cluster(tasks, *, on_settled, **options):
        for position, task in enumerate(tasks):
            result = run_cell(task.config, str(task.run_dir))
            events.append(f"cell {task.label}")
            on_settled(position, RunOutcome(task.label, task.run_dir, result["status"], result["seconds"]))
        return []

    original = seeds_module._finish

    def spying_finish(task, *args, **kwargs):
        events.append(f"finish {task.label}")
        return original(task, *args, **kwargs)

    monkeypatch.setattr(seeds_module, "run_tasks", serial_cluster)
    monkeypatch.setattr(seeds_module, "_finish", spying_finish)
    longer = dataclasses.replace(tiny(2), training=dataclasses.replace(tiny(2).training, epochs=5))
    tasks = [RunTask("short", tiny(2), tmp_path / "short"), RunTask("long", longer, tmp_path / "long")]
    def after(outcome):  # the caller's follow-up (reproduce: the claim checks), on the merged folder
        assert (outcome.run_dir / "metrics.csv").is_file()
        events.append(f"after {outcome.label}")
        if outcome.label == "long":
            raise RuntimeError("a failing follow-up")

    with pytest.raises(RuntimeError, match="a failing follow-up"):
        run_experiments(tasks, workers=1, progress=False, plot=True, after=after)
    assert events == [  # longest cells first; a failing follow-up stops no other experiment
        "cell long seed 0", "cell long seed 1", "finish long", "after long",
        "cell short seed 0", "cell short seed 1", "finish short", "after short",
    ]
    for label in ("short", "long"):
        assert (tmp_path / label / "figures" / "mi.png").is_file()
        assert not cells_folder(tmp_path / label).exists()
    events.clear()
    tasks = [RunTask("short", tiny(2), tmp_path / "short2"), RunTask("long", longer, tmp_path / "long2")]
    outcomes = run_experiments(tasks, workers=1, progress=False, plot=True)
    assert [outcome.status for outcome in outcomes] == ["complete", "complete"]  # in the tasks' order
    assert events == [
        "cell long seed 0", "cell long seed 1", "finish long",
        "cell short seed 0", "cell short seed 1", "finish short",
    ]
    for label in ("short2", "long2"):
        assert (tmp_path / label / "figures" / "mi.png").is_file()


def test_which_runs_split(tmp_path: Path) -> None:
    assert splits_by_seed(tiny(2), tmp_path / "new")
    assert not splits_by_seed(tiny(1), tmp_path / "new")
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "manifest.json").write_text("{}")
    assert not splits_by_seed(tiny(2), tmp_path / "partial")  # resumed as one task
    auto = dataclasses.replace(tiny(2), estimation=tiny(2).estimation.replace(density_limits=("auto",)))
    assert not splits_by_seed(auto, tmp_path / "new")  # the first seed's grid serves all: coupled


def test_cli_run_seeds_runs_one_task_per_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_EXPERIMENT)
    out = tmp_path / "run"
    assert cli.main(["run", str(spec), "--out", str(out), "--seeds", "3", "--jobs", "1", "--no-progress"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    run_experiment(tiny(3), tmp_path / "serial", progress=False)
    for name in ("metrics.csv", "densities.npz"):
        assert (tmp_path / "serial" / name).read_bytes() == (out / name).read_bytes(), name
    assert (out / "figures" / "mi.png").is_file()
