"""Many seeds of one experiment at once: one Dask task per (experiment, seed), then a merge.

A run folder holds every seed of its experiment (the claims are checked seed by seed there), but
the seeds of a run are independent: seed s trains its own network on its own streams. So each
seed runs as its own cell, ``config`` restricted to that seed, in a hidden folder beside the run
(``.NAME.infoflow-seeds/seed-S``); when every seed of an experiment is complete its cells are
merged into the run folder: the rows and densities in seed order, the timings summed. The merged
``metrics.csv`` and ``densities.npz`` are byte for byte those of ``run_experiment`` running the
seeds one after the other (tested), and an interrupted run finishes by running it again (complete
cells are reused, partial ones resumed from their checkpoints).

An experiment is run as one task of all its seeds, as before, when it has one seed, when its run
folder already exists (a partial run resumes where it is), or when a density grid is chosen from
the data ("auto" limits): the first seed's first grid starts every seed's (which then follows its
own layer), which couples them.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from infoflow.config.experiment import ExperimentConfig
from infoflow.estimators.draws import resolve_conditional
from infoflow.sweeps.executor import RunOutcome, RunTask, is_complete, run_tasks

# The hidden folder beside a run folder that holds its seeds' cells while they run.
CELLS_SUFFIX = ".infoflow-seeds"


def cells_folder(run_dir: str | os.PathLike[str]) -> Path:
    """Return the folder of ``run_dir``'s per-seed cells: ``PARENT/.NAME.infoflow-seeds``."""
    run_dir = Path(run_dir)
    return run_dir.parent / f".{run_dir.name}{CELLS_SUFFIX}"


def splits_by_seed(config: ExperimentConfig, run_dir: str | os.PathLike[str]) -> bool:
    """Return True if ``config`` into ``run_dir`` runs as one task per seed (module docstring)."""
    run_dir = Path(run_dir)
    if len(config.seeds) < 2 or any(limits == "auto" for limits in config.density.limits):
        return False
    return not run_dir.exists() or (run_dir.is_dir() and not any(run_dir.iterdir()))


def seed_config(config: ExperimentConfig, seed: int) -> ExperimentConfig:
    """Return ``config`` restricted to one of its seeds."""
    return dataclasses.replace(config, seeds=(int(seed),))


def _cost(config: ExperimentConfig) -> float:
    """A rough relative cost of one seed, to start the longest cells first."""
    estimation = config.estimation
    n_conditional = resolve_conditional(estimation.n_conditional, estimation.n_inputs, list(config.network.widths))
    per_epoch = estimation.n_samples + estimation.n_inputs * n_conditional
    return (config.training.epochs + 1) * config.network.n_layers * per_epoch


def run_experiments(
    tasks: Sequence[RunTask],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    command: str | None = None,
    plot: bool = False,
    name: str = "reproduce",
    after: Callable[[RunOutcome], object] | None = None,
) -> list[RunOutcome]:
    """Run experiments (each a run folder of all its seeds), one Dask task per seed; return one outcome per task.

    Arguments as for :func:`infoflow.sweeps.executor.run_tasks`. A merged experiment's outcome
    has status "complete" and ``seconds`` the sum of its seeds' task times. Each experiment is
    merged and its figures (``plot``) drawn here as soon as its last cell settles, while the other
    cells still run (on the worker for an experiment run as one task when nothing is split);
    ``after(outcome)``, the caller's own follow-up (a paper's claim checks), runs then too.
    """
    cells: list[RunTask] = []
    owners: list[int] = []  # the experiment of each cell
    split: set[int] = set()
    for index, task in enumerate(tasks):
        if not is_complete(task.run_dir) and splits_by_seed(task.config, task.run_dir):
            split.add(index)
            root = cells_folder(task.run_dir)
            for seed in task.config.seeds:
                cells.append(RunTask(f"{task.label} seed {seed}", seed_config(task.config, seed), root / f"seed-{seed}"))
                owners.append(index)
        else:
            cells.append(task)
            owners.append(index)
    # Longest cells first (the same order for every seed), so no long cell starts last.
    order = sorted(range(len(cells)), key=lambda i: -_cost(cells[i].config))
    by_cell: dict[int, RunOutcome] = {}
    results: dict[int, RunOutcome] = {}
    errors: list[BaseException] = []
    after_errors: list[BaseException] = []

    def settled(position: int, outcome: RunOutcome) -> None:
        # Merge and draw an experiment as soon as its last cell settles, while the cluster runs
        # the others' cells (the figures of all but the last experiment cost no wall time).
        cell = order[position]
        by_cell[cell] = outcome
        index = owners[cell]
        mine = [number for number in range(len(cells)) if owners[number] == index]
        if errors or not all(number in by_cell for number in mine):
            return
        try:
            outcomes = [by_cell[number] for number in mine]
            results[index] = _finish(tasks[index], outcomes, index in split, plot, bool(split), command)
        except Exception as error:  # noqa: BLE001 - raised below, once every cell has settled (as before)
            errors.append(error)
            return
        if after is not None:
            try:
                after(results[index])
            except Exception as error:  # noqa: BLE001 - raised below; the other experiments still merge
                after_errors.append(error)

    run_tasks(
        [cells[i] for i in order],
        scheduler=scheduler,
        workers=workers,
        progress=progress,
        command=command,
        plot=plot and not split,
        name=name,
        on_settled=settled,
    )
    if errors or after_errors:
        raise (errors + after_errors)[0]
    return [results[index] for index in range(len(tasks))]


def _finish(
    task: RunTask, mine: list[RunOutcome], is_split: bool, plot: bool, some_split: bool, command: str | None
) -> RunOutcome:
    """Return the outcome of one experiment whose cells have all settled: merged and drawn as asked.

    ``some_split``: some experiment of the call is split, so no worker draws figures (drawn here).
    """
    if not is_split:
        outcome = mine[0]
        if plot and some_split and outcome.status == "complete":
            _plot(task.run_dir)
        return outcome
    failed = [outcome for outcome in mine if outcome.status == "failed"]
    seconds = sum(outcome.seconds or 0.0 for outcome in mine)
    if failed:
        message = "; ".join(f"{outcome.label}: {outcome.message}" for outcome in failed)
        return RunOutcome(task.label, task.run_dir, "failed", seconds, message)
    try:
        merge_seed_runs(task.config, _cell_dirs(task), task.run_dir, command=command)
    except (OSError, ValueError) as error:
        message = " ".join(f"merging the seeds: {type(error).__name__}: {error}".split())
        return RunOutcome(task.label, task.run_dir, "failed", seconds, message)
    if plot:
        _plot(task.run_dir)
    return RunOutcome(task.label, task.run_dir, "complete", seconds)


def _cell_dirs(task: RunTask) -> list[Path]:
    root = cells_folder(task.run_dir)
    return [root / f"seed-{seed}" for seed in task.config.seeds]


def _plot(run_dir: Path) -> None:
    from infoflow.plots.run_figures import plot_run

    plot_run(run_dir)


def merge_seed_runs(
    config: ExperimentConfig,
    cell_dirs: Sequence[str | os.PathLike[str]],
    run_dir: str | os.PathLike[str],
    *,
    command: str | None = None,
) -> Path:
    """Write the run folder of ``config`` (all its seeds) from one complete cell folder per seed; return it.

    The cells are removed once the run folder is complete (they are this module's own folders).

    Raises
    ------
    ValueError
        A cell is not complete, or its run is not the one ``config`` makes for its seed.
    FileExistsError
        ``run_dir`` is neither absent nor empty.
    """
    from infoflow.config.loading import config_comparison
    from infoflow.runs.folder import OpenRunFolder
    from infoflow.training.experiment import run_writer

    run_dir = Path(run_dir)
    cell_dirs = [Path(cell) for cell in cell_dirs]
    if len(cell_dirs) != len(config.seeds):
        raise ValueError(f"{len(cell_dirs)} cell folders for {len(config.seeds)} seeds")
    states = [_cell_state(config, seed, cell) for seed, cell in zip(config.seeds, cell_dirs)]
    folder = OpenRunFolder(run_dir, config_comparison(config), force=False, resume=False, missing_ok=False, notify=_notify)
    try:
        writer = run_writer(config, run_dir, command)
        writer.records.load_state(_merged_records(states))
        writer.timings = {
            "total": sum(float(state["timings"]["total"]) for state in states),
            "per_seed": [float(state["timings"]["total"]) for state in states],
            "epoch_seconds": sum(float(state["timings"]["epoch_seconds"]) for state in states),
            "epochs_timed": sum(int(state["timings"]["epochs_timed"]) for state in states),
        }
        writer.manifest["started_utc"] = min(str(state["started_utc"]) for state in states)
        writer.write_config()
        writer.write_checkpoint(len(config.seeds), None)
        writer.write_records()
        writer.finish("complete")
        writer.write_manifest()
        folder.commit()
    finally:
        folder.close()
    for cell in cell_dirs:
        shutil.rmtree(cell, ignore_errors=True)
    try:
        cells_folder(run_dir).rmdir()  # only when empty: never another's files
    except OSError:
        pass
    return run_dir


def _cell_state(config: ExperimentConfig, seed: int, cell: Path) -> dict[str, Any]:
    """Return a complete cell's checkpoint, checked to be the run of ``config`` on ``seed``."""
    from infoflow.training.experiment import resolved_config_text

    if not is_complete(cell):
        raise ValueError(f"{cell} is not a complete run")
    state = torch.load(cell / "checkpoint.pt", weights_only=True)
    if state.get("config_toml") != resolved_config_text(seed_config(config, seed)):
        raise ValueError(f"{cell} holds another run than seed {seed} of {config.name}")
    return state


def _merged_records(states: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Return the records state of all seeds from one state per seed, in seed order."""
    records = [state["records"] for state in states]
    grids = records[0]["grids"]
    for other in records[1:]:
        same = (grids is None) == (other["grids"] is None) and (
            grids is None or all(torch.equal(a, b) for a, b in zip(grids, other["grids"]))
        )
        if not same:
            raise ValueError("the seeds' density grids differ; they cannot share one densities.npz")
    keys, densities = [], []
    for seed_index, record in enumerate(records):
        for key, layers in zip(record["density_keys"].tolist(), record["densities"]):
            keys.append([seed_index, int(key[1])])
            densities.append(layers)
    return {
        "metrics": torch.cat([record["metrics"] for record in records]),
        "density_keys": torch.tensor(keys, dtype=torch.int64).reshape(-1, 2),
        "densities": densities,
        "grids": grids,
    }


def _notify(text: str) -> None:
    sys.stderr.write(f"infoflow: {text}\n")
    sys.stderr.flush()


def run_seeds(
    config: ExperimentConfig,
    run_dir: str | os.PathLike[str],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    command: str | None = None,
) -> Path:
    """Run every seed of ``config`` into ``run_dir`` on Dask, one task per seed, and draw its figures.

    For ``infoflow run CONFIG --seeds K``: the same run folder as ``run_experiment`` (byte for
    byte in metrics.csv and densities.npz), K seeds at once. ``run_dir`` must be absent or empty.

    Raises
    ------
    RunsFailed
        A seed failed; its message names it (the other seeds' cells stay for a rerun).
    """
    from infoflow.config.limits import check_config_limits
    from infoflow.runs.folder import check_resumable
    from infoflow.sweeps.executor import RunsFailed
    from infoflow.training.data_checks import check_dataset_inputs
    from infoflow.training.trainer import TrainingDiverged

    run_dir = Path(run_dir)
    # What run_experiment refuses before touching a folder is refused here too, in one line.
    check_config_limits(config)
    check_dataset_inputs(config)
    if run_dir.exists():
        check_resumable(config, run_dir)
    task = RunTask(config.name, config, run_dir)
    (outcome,) = run_experiments(
        [task], scheduler=scheduler, workers=workers, progress=progress, command=command, plot=True, name=config.name
    )
    if outcome.status == "failed":
        # A diverged seed is the user's to fix (exit 2, as for one seed); anything else a failed run.
        if "TrainingDiverged:" in outcome.message:
            raise TrainingDiverged(f"{config.name}: {outcome.message}")
        raise RunsFailed(f"{config.name}: {outcome.message}")
    return run_dir
