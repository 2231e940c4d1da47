"""Running an experiment: one straight line from a config to a run folder.

    config ─► network + inputs + labels ─► trainer (handed a probe) ─► records ─► run folder

``run_experiment`` refuses whatever can be refused before touching the disk, opens the run
folder (``runs/folder.py``: fresh, ``resume`` or ``force``, under an exclusive lock), and for
every seed builds a trainer (``training/build.py``), iterates it and hands each record to the
one run writer (``runs/writer.py``; the format is ``runs/format.py``). Figures are drawn from the
finished folder by ``infoflow plot`` (the CLI's ``run`` draws them at the end).

Safety rules: an invalid config, or one too large for this machine's memory, creates nothing
on disk; a non-empty folder is never written into unless resumed, and replaced (``force``) only
when it is an infoflow run holding nothing but a run's own files, the old run coming back if the
new one does not complete (``runs/replace.py``); every file is written atomically; the checkpoint
(taken after an epoch, at most once a second by default, and at the end of every seed) holds the
network, the learning rate schedule, every random generator's state and every record so far, so
a run killed at any moment and resumed ends with the same metrics.csv and densities.npz, byte for
byte, as a run never interrupted.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from infoflow.config.limits import check_config_limits
from infoflow.config.schema import ExperimentConfig, config_comparison, config_to_toml
from infoflow.runs import folder as run_folder
from infoflow.runs.folder import OpenRunFolder, RunStart
from infoflow.runs.writer import RunWriter, best_effort
from infoflow.threads import torch_threads
from infoflow.training.build import (
    build_inputs,
    build_labels,
    build_network,
    build_trainer,
    training_settings,
    training_split,
)
from infoflow.training.data_checks import check_dataset_inputs
from infoflow.training.progress import RunProgress
from infoflow.training.trainer import TrainingDiverged
from infoflow.version import __version__

__all__ = [
    "build_inputs",
    "build_labels",
    "build_network",
    "build_trainer",
    "check_resumable",
    "resolved_config_text",
    "run_experiment",
    "training_settings",
    "training_split",
]

# Runs use one intra-op thread: for networks this small, threads cost more than they save (ten
# times slower on a busy two-core machine), and one thread makes every number independent of
# the machine's core count.
RUN_THREADS = 1
# A checkpoint (with fsync) costs milliseconds on a busy disk, more than an epoch of these small
# networks; taking one at most once a second bounds that cost and the work a kill can lose.
CHECKPOINT_INTERVAL_S = 1.0


# ----------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------
# Running an experiment
# ----------------------------------------------------------------------------------------------


def resolved_config_text(config: ExperimentConfig) -> str:
    """Return the text of a run's config.toml: a comment line, then :func:`config_to_toml`."""
    return (
        f"# Resolved config of experiment {config.name!r} (infoflow {__version__}); every default filled in.\n"
        + config_to_toml(config)
    )


def run_experiment(
    config: ExperimentConfig,
    run_dir: str | os.PathLike[str],
    *,
    force: bool = False,
    resume: bool = False,
    progress: bool = True,
    command: str | None = None,
    checkpoint_interval_s: float = CHECKPOINT_INTERVAL_S,
    missing_ok: bool = False,
) -> Path:
    """Run every seed of ``config`` into the run folder ``run_dir`` and return its path.

    Parameters
    ----------
    config : ExperimentConfig
        From :func:`load_config` (or :func:`parse_config`).
    run_dir : path
        The output folder. It must be absent or empty, unless ``resume`` or ``force``.
    force : bool
        Replace an existing infoflow run in ``run_dir``: never a folder that is not one, nor one
        holding files that no run wrote (refused, naming them). The old run is moved aside and
        deleted once the new run is complete; if the new run does not complete, the old one is
        put back (at once, or at the next start on ``run_dir`` after a kill).
    resume : bool
        Continue the run in ``run_dir`` from its last checkpoint (the config must be the same);
        start it if the folder is empty; do nothing if it is complete. An absent ``run_dir``
        is refused (a mistyped path must not start a new run) unless ``missing_ok``.
    progress : bool
        Show a progress line on stderr.
    command : str, optional
        The command line, recorded in the manifest.
    checkpoint_interval_s : float
        Least seconds between checkpoints (and rewrites of metrics.csv and densities.npz), >= 0;
        0 checkpoints every epoch. Otherwise the interval also stretches to ten times the last
        checkpoint's write time, so a long run's growing records cost at most ~10% of its time.
        A checkpoint is also taken at the end of every seed. Where it is taken changes nothing
        in the results: a resumed run matches an uninterrupted one.
    missing_ok : bool
        With ``resume``: start a new run when ``run_dir`` does not exist.

    Returns
    -------
    Path of the run folder.

    Raises
    ------
    FileExistsError
        ``run_dir`` is not empty and neither option allows using it.
    FileNotFoundError
        ``resume`` of an absent ``run_dir``.
    ValueError
        Bad arguments, a config too large for this machine's memory (``ConfigError``, naming
        the field), a resume that does not match the folder's run, or another process working
        in ``run_dir`` (``RunFolderBusy``: every run holds an exclusive lock on its folder).
    TrainingDiverged
        Training produced NaN/inf; the run folder keeps every epoch recorded before it and its
        manifest says ``"failed"``.
    """
    if not isinstance(config, ExperimentConfig):
        raise ValueError(f"config must be an ExperimentConfig (see load_config); got {type(config).__name__}")
    if force and resume:
        raise ValueError("--force and --resume exclude each other: replace the run, or continue it")
    if not (isinstance(checkpoint_interval_s, (int, float)) and checkpoint_interval_s >= 0):
        raise ValueError(f"checkpoint_interval_s must be a number >= 0; got {checkpoint_interval_s!r}")
    run_dir = Path(run_dir)
    # Everything that can be refused is refused before the folder is touched.
    check_config_limits(config)
    check_dataset_inputs(config)  # a data set file is read and checked against the config here
    build_network(config.network, config.seeds[0])
    build_labels(config.labels)
    bar = RunProgress(progress, config.name, config.seeds, config.training.epochs)
    compare = config_comparison(config)
    folder = OpenRunFolder(run_dir, compare, force=force, resume=resume, missing_ok=missing_ok, notify=_notify)
    try:
        if folder.start.already_complete:
            bar.message(f"{config.name}: the run in {run_dir} is already complete")
            return run_dir
        writer = run_writer(config, run_dir, command)
        try:
            with torch_threads(RUN_THREADS):
                _write_run(config, writer, folder.start, bar, checkpoint_interval_s)
        except TrainingDiverged as error:
            note = folder.roll_back()
            where = f"{note} (the failed run is discarded)" if note else f"the epochs before it are in {run_dir}"
            raise TrainingDiverged(f"{config.name}: {error}; {where}") from None
        except BaseException:
            # A replacement that did not complete never costs the run it was replacing.
            note = folder.roll_back()
            if note:
                _notify(f"{note}: the --force run did not complete")
            raise
        folder.commit()
    finally:
        bar.close()
        folder.close()
    return run_dir


def check_resumable(config: ExperimentConfig, run_dir: str | os.PathLike[str], *, missing_ok: bool = False) -> None:
    """Raise (ValueError / OSError) unless ``run_experiment(config, run_dir, resume=True)`` may run.

    Changes nothing on disk; lets a caller with several runs refuse before starting any.
    ``missing_ok``: an absent ``run_dir`` is fine (a new run starts there).
    """
    run_folder.check_resumable(config_comparison(config), run_dir, missing_ok=missing_ok)


def run_writer(config: ExperimentConfig, run_dir: Path, command: str | None = None) -> RunWriter:
    """Return the writer of ``config``'s run folder: every seed, its layers, estimators and fixed grids."""
    density = config.density
    return RunWriter(
        run_dir,
        name=config.name,
        seeds=config.seeds,
        n_layers=config.network.n_layers,
        extra_estimators=config.estimation.extra_estimators,
        # Fixed grids are known now; an "auto" one is chosen by the first seed's probe.
        grids=[
            None if limits == "auto" else np.linspace(limits[0], limits[1], density.points) for limits in density.limits
        ],
        config_text=resolved_config_text(config),
        command=command if command is not None else "infoflow.run_experiment (Python API)",
    )


def _notify(text: str) -> None:
    """Tell the user about something done to their folders (whatever ``progress`` says)."""
    sys.stderr.write(f"infoflow: {text}\n")
    sys.stderr.flush()


def _write_run(
    config: ExperimentConfig, writer: RunWriter, start: RunStart, bar: RunProgress, checkpoint_interval_s: float
) -> None:
    """Train every seed not yet done, writing the run folder as it goes; the manifest says how it ended."""
    first_seed_index, trainer_state = 0, None
    if start.checkpoint is not None:
        writer.restore(start.checkpoint, start.manifest)
        first_seed_index, trainer_state = int(start.checkpoint["seed_index"]), start.checkpoint["trainer"]
        bar.message(f"{config.name}: resuming {writer.run_dir} at seed index {first_seed_index}")
    writer.write_all()
    try:
        for seed_index in range(first_seed_index, len(config.seeds)):
            _run_seed(config, writer, bar, seed_index, trainer_state, checkpoint_interval_s)
            trainer_state = None
            writer.write_manifest()
    except TrainingDiverged as error:
        writer.finish("failed", str(error))
        best_effort(writer.write_records, writer.write_manifest)
        raise
    except Exception as error:
        writer.finish("failed", f"{type(error).__name__}: {error}")
        best_effort(writer.write_records, writer.write_manifest)
        raise
    except BaseException:
        writer.manifest["message"] = "interrupted; continue with --resume"
        best_effort(writer.write_manifest)
        raise
    writer.finish("complete")
    writer.write_records()
    writer.write_manifest()


def _run_seed(
    config: ExperimentConfig,
    writer: RunWriter,
    bar: RunProgress,
    seed_index: int,
    trainer_state: dict[str, Any] | None,
    checkpoint_interval_s: float,
) -> None:
    """Train one seed, checkpointing (and writing the records) at most every ``checkpoint_interval_s``."""
    seed = config.seeds[seed_index]
    trainer = build_trainer(config, seed)
    records, probe = writer.records, trainer.probe
    if records.grids is not None and probe.grids is not None:
        # Grids chosen from the data ("auto") are chosen once, by the first seed, for every seed to
        # start from (each seed's then follows its own layer).
        probe.grids = [
            own if limits != "auto" else chosen
            for own, chosen, limits in zip(probe.grids, records.grids, config.density.limits)
        ]
    if trainer_state is not None:
        trainer.load_state_dict(trainer_state)
        # A grid that follows its layer continues from where this seed's last record left it.
        latest = records.latest_grids(seed)
        if latest is not None and probe.grids is not None:
            probe.grids = [
                chosen if limits == "auto" and chosen is not None else own
                for own, chosen, limits in zip(probe.grids, latest, config.density.limits)
            ]
    bar.start_seed(seed)
    epoch_started = last_checkpoint = time.perf_counter()
    interval = checkpoint_interval_s
    for record in trainer.run():
        if records.grids is not None and any(grid is None for grid in records.grids) and probe.grids:
            records.grids = [chosen if grid is None else grid for grid, chosen in zip(records.grids, probe.grids)]
        now = time.perf_counter()
        writer.add(seed, record, now - epoch_started)
        epoch_started = now
        if now - last_checkpoint >= interval and not trainer.finished:
            # The checkpoint first: a kill after it leaves files that resume rewrites from it.
            writer.write_checkpoint(seed_index, trainer.state_dict())
            writer.write_records()
            last_checkpoint = time.perf_counter()
            if checkpoint_interval_s > 0:
                # The files grow with the epochs done; rewriting them must not come to dominate.
                interval = max(checkpoint_interval_s, 10.0 * (last_checkpoint - now))
        bar.update(seed, record)
    writer.write_checkpoint(seed_index + 1, None)
    writer.write_records()
