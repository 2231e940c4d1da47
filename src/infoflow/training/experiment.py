"""Experiments: the config schema, the shipped experiments, run folders, checkpoints and resume.

This module wires a validated config to objects (network, inputs, labels), hands them to the
trainer, and writes what the trainer records into a run folder (docs/DESIGN.md):

    RUN/config.toml     the resolved config (every default filled in)
    RUN/metrics.csv     tidy, one row per (seed, epoch, layer)
    RUN/densities.npz   the density of every T_l on a fixed grid per measured epoch
    RUN/manifest.json   versions, command, seeds, timings, status
    RUN/checkpoint.pt   the latest state, for resume (torch.load(weights_only=True))

Safety rules: an invalid config, or one too large for this machine's memory, creates nothing
on disk; one process at a time works in a run folder (an exclusive lock, ``runs/lock.py``); a
non-empty folder is never written into unless resumed, and replaced (``force``) only when it is
an infoflow run holding nothing but a run's own files, the old run coming back if the new one
does not complete (``runs/replace.py``); every file is
written atomically (temporary file, fsync, ``os.replace``); the checkpoint (taken after an epoch,
at most once a second by default, and at the end of every seed) holds the network, the learning
rate schedule, every random generator's state and every record so far, so a run killed at any
moment and resumed ends with the same metrics.csv and densities.npz, byte for byte, as a run
never interrupted.

"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch

from infoflow.config.limits import check_config_limits
from infoflow.config.schema import (
    CHECKPOINT_INTERVAL_S,
    RUN_THREADS,
    ExperimentConfig,
    InputsConfig,
    LabelsConfig,
    NetworkConfig,
    config_to_toml,
)
from infoflow.data.dataset import FiniteDataset
from infoflow.data.distributions import DiscreteUniform, Gaussian, GaussianMixture, InputDistribution, Uniform
from infoflow.data.labels import SumThresholdLabels, ThresholdLabels
from infoflow.data.szt import N_PATTERNS, szt_dataset, szt_test_rows
from infoflow.models.mlp import NoisyMLP
from infoflow.models.rnn import NoisyElman
from infoflow.papers.kong2019.networks import seed_network
from infoflow.runs.folder import OpenRunFolder, _Start
from infoflow.runs.records import EpochRecord
from infoflow.runs.writer import RunWriter, best_effort, utc_now, write_file
from infoflow.threads import torch_threads
from infoflow.training.data_checks import check_dataset_inputs
from infoflow.training.settings import RecordingSettings, TrainingSettings, derived_generator
from infoflow.training.trainer import Trainer, TrainingDiverged

# ----------------------------------------------------------------------------------------------


def build_network(config: NetworkConfig, seed: int) -> NoisyMLP | NoisyElman:
    """Return the initialised network; "default" initialisation draws from the run's ``seed``."""
    if config.init == "seed":
        assert config.preset is not None
        return seed_network(config.preset, config.beta)
    net: NoisyMLP | NoisyElman
    if config.kind == "elman":
        assert config.steps is not None and config.hidden is not None
        net = NoisyElman(
            config.steps,
            config.hidden,
            config.activations[0],
            config.beta,
            input_size=config.widths[0] // config.steps,
        )
        linears = [net.input, net.recurrent, net.readout]
    else:
        net = NoisyMLP(config.widths, list(config.activations), config.beta)
        linears = list(net.linears)
    generator = derived_generator(seed, "init")
    with torch.no_grad():
        for linear in linears:
            for parameter in (linear.weight, linear.bias):
                if parameter is None:
                    continue  # the Elman recurrence has no bias of its own
                if config.init == "zeros":
                    parameter.zero_()
                    continue
                # PyTorch's own default, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases,
                # but drawn from the run's seed instead of the global generator.
                bound = 1.0 / math.sqrt(linear.in_features)
                uniform = torch.rand(parameter.shape, generator=generator, dtype=parameter.dtype)
                parameter.copy_((2.0 * uniform - 1.0) * bound)
    return net


def build_inputs(config: InputsConfig) -> InputDistribution:
    """Return the input distribution of X (a data set is read from its file here)."""
    if config.kind == "discrete_uniform":
        return DiscreteUniform(config.values)
    if config.kind == "gaussian":
        return Gaussian(config.mean, config.var)
    if config.kind == "uniform":
        return Uniform(config.low, config.high)
    if config.kind == "dataset":
        return FiniteDataset.from_file(config.path, label_column=config.label_column)
    if config.kind == "szt":
        return szt_dataset("all")
    return GaussianMixture(config.means, config.variances, config.weights)


def _training_split(config: InputsConfig) -> float | tuple[np.ndarray, np.ndarray] | None:
    """Return how a data set's rows divide into training and test sets (see ``Trainer``)."""
    if config.kind == "szt":
        # The published split: 819 held-out patterns (Goldfeld et al.'s experiments).
        test = szt_test_rows()
        return np.setdiff1d(np.arange(N_PATTERNS), test), test
    return getattr(config, "split", None)


def build_labels(config: LabelsConfig) -> ThresholdLabels | None:
    """Return the labelling rule (None: the data set's own labels)."""
    if config.kind == "dataset":
        return None
    if config.kind == "sum_sign":
        return SumThresholdLabels(0.0, config.below, config.above)
    return ThresholdLabels(config.threshold, config.below, config.above)


def training_settings(config: ExperimentConfig) -> TrainingSettings:
    """Return the trainer's settings for ``config``."""
    return TrainingSettings(**dataclasses.asdict(config.training))


def recording_settings(config: ExperimentConfig) -> RecordingSettings:
    """Return what the trainer measures, and when, for ``config``."""
    estimation = config.estimation
    return RecordingSettings(
        n_samples=estimation.n_samples,
        n_conditional=estimation.n_conditional,
        n_inputs=estimation.n_inputs,
        schedule=estimation.schedule,
        every=estimation.every,
        points=estimation.points,
        label_information=estimation.label_information,
        true_information=estimation.true_information,
        target_std_error=estimation.target_std_error,
        stratified=estimation.stratified,
        clustering_bin_size=estimation.clustering_bin_size,
        estimators=tuple(name for name in estimation.estimators if name != "sp"),
        bin_size=estimation.binning_bin_size,
        density_limits=config.density.limits,
        density_points=config.density.points,
    )


def build_trainer(config: ExperimentConfig, seed: int) -> Trainer:
    """Return a trainer for one seed of ``config``, with a freshly initialised network."""
    return Trainer(
        build_network(config.network, seed),
        build_inputs(config.inputs),
        build_labels(config.labels),
        training_settings(config),
        recording_settings(config),
        seed=seed,
        split=_training_split(config.inputs),
    )


# ----------------------------------------------------------------------------------------------


class _Progress:
    """A one-line progress bar on stderr: seed, epoch, latest I(X;T_l), accuracy, elapsed time.

    On a terminal the line is redrawn in place (at most 10 times a second); elsewhere (logs)
    a line is printed at every tenth of a seed's epochs.
    """

    def __init__(
        self, enabled: bool, name: str, seeds: Sequence[int], epochs: int, stream: TextIO | None = None
    ) -> None:
        self.enabled = enabled
        self.name = name
        self.seeds = list(seeds)
        self.epochs = epochs
        self.stream = stream if stream is not None else sys.stderr
        self.is_terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last_draw = 0.0
        self.last_mi: list[float] | None = None
        self.started = time.perf_counter()
        self.last_tenth = -1

    def start_seed(self, seed: int) -> None:
        self.last_mi = None
        self.last_tenth = -1
        self.started = time.perf_counter()

    def update(self, seed: int, record: EpochRecord) -> None:
        if not self.enabled:
            return
        if record.mi_input is not None:
            self.last_mi = record.mi_input
        done = record.epoch >= self.epochs
        now = time.perf_counter()
        if self.is_terminal:
            if done or now - self.last_draw >= 0.1:
                self.last_draw = now
                end = "\n" if done else ""
                self.stream.write("\r" + self._line(seed, record, now) + "\033[K" + end)
                self.stream.flush()
        else:
            tenth = (10 * record.epoch) // max(1, self.epochs)
            if tenth > self.last_tenth:
                self.last_tenth = tenth
                self.stream.write(self._line(seed, record, now) + "\n")
                self.stream.flush()

    def _line(self, seed: int, record: EpochRecord, now: float) -> str:
        width = 20
        filled = (width * record.epoch) // max(1, self.epochs)
        bar = "#" * filled + "-" * (width - filled)
        position = f"seed {seed} ({self.seeds.index(seed) + 1}/{len(self.seeds)})"
        mi = " ".join(f"{value:.3f}" for value in self.last_mi) if self.last_mi else "-"
        return (
            f"{self.name} {position} [{bar}] {record.epoch:>{len(str(self.epochs))}}/{self.epochs}"
            f"  I(X;T) {mi}  acc {record.accuracy:.3f}  {now - self.started:.1f}s"
        )

    def message(self, text: str) -> None:
        if self.enabled:
            self.stream.write(text + "\n")
            self.stream.flush()


# ----------------------------------------------------------------------------------------------
# Running an experiment
# ----------------------------------------------------------------------------------------------


def resolved_config_text(config: ExperimentConfig) -> str:
    """Return the text of a run's config.toml: a comment line, then :func:`config_to_toml`."""
    from infoflow import __version__

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
    config_text = resolved_config_text(config)
    bar = _Progress(progress, config.name, config.seeds, config.training.epochs)
    folder = OpenRunFolder(run_dir, config, force=force, resume=resume, missing_ok=missing_ok, notify=_notify)
    try:
        start = folder.start
        if start.already_complete:
            bar.message(f"{config.name}: the run in {run_dir} is already complete")
            return run_dir
        try:
            with torch_threads(RUN_THREADS):
                _execute(run_dir, config, config_text, command, start, bar, checkpoint_interval_s)
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
        folder.close()
    return run_dir


def _notify(text: str) -> None:
    """Tell the user about something done to their folders (whatever ``progress`` says)."""
    sys.stderr.write(f"infoflow: {text}\n")
    sys.stderr.flush()


def _execute(
    run_dir: Path,
    config: ExperimentConfig,
    config_text: str,
    command: str | None,
    start: _Start,
    bar: _Progress,
    checkpoint_interval_s: float,
) -> None:
    """Train every seed not yet done, writing the run folder as it goes."""
    writer = RunWriter(run_dir, config, config_text, command)
    first_seed_index, trainer_state = 0, None
    if start.checkpoint is not None:
        writer.restore(start.checkpoint, start.manifest)
        first_seed_index, trainer_state = int(start.checkpoint["seed_index"]), start.checkpoint["trainer"]
        bar.message(f"{config.name}: resuming {run_dir} at seed index {first_seed_index}")
    write_file(run_dir / "config.toml", config_text.encode("utf-8"))
    writer.write_records()
    writer.write_manifest()

    try:
        for seed_index in range(first_seed_index, len(config.seeds)):
            _run_seed(writer, bar, seed_index, trainer_state, checkpoint_interval_s)
            trainer_state = None
            writer.write_manifest()
    except TrainingDiverged as error:
        writer.manifest.update(status="failed", message=str(error), finished_utc=utc_now())
        best_effort(writer.write_records, writer.write_manifest)
        raise
    except Exception as error:
        writer.manifest.update(status="failed", message=f"{type(error).__name__}: {error}", finished_utc=utc_now())
        best_effort(writer.write_records, writer.write_manifest)
        raise
    except BaseException:
        writer.manifest["message"] = "interrupted; continue with --resume"
        best_effort(writer.write_manifest)
        raise
    writer.manifest.update(status="complete", message="", finished_utc=utc_now())
    writer.write_records()
    writer.write_manifest()


def _run_seed(
    writer: RunWriter,
    bar: _Progress,
    seed_index: int,
    trainer_state: dict[str, Any] | None,
    checkpoint_interval_s: float,
) -> None:
    """Train one seed, checkpointing (and writing the records) at most every ``checkpoint_interval_s``."""
    config = writer.config
    seed = config.seeds[seed_index]
    trainer = build_trainer(config, seed)
    records = writer.records
    if records.grids is not None and trainer.probe.grids is not None:
        # Grids chosen from the data ("auto") are chosen once, by the first seed, for every seed.
        trainer.probe.grids = [
            own if limits != "auto" else chosen
            for own, chosen, limits in zip(trainer.probe.grids, records.grids, config.density.limits)
        ]
    if trainer_state is not None:
        trainer.load_state_dict(trainer_state)
    bar.start_seed(seed)
    epoch_started = last_checkpoint = time.perf_counter()
    interval = checkpoint_interval_s
    for record in trainer.run():
        if records.grids is not None and any(grid is None for grid in records.grids) and trainer.probe.grids:
            records.grids = [
                chosen if grid is None else grid for grid, chosen in zip(records.grids, trainer.probe.grids)
            ]
        records.add(seed, record)
        now = time.perf_counter()
        elapsed, epoch_started = now - epoch_started, now
        writer.timings["total"] += elapsed
        writer.timings["per_seed"][seed_index] += elapsed
        writer.timings["epoch_seconds"] += elapsed
        writer.timings["epochs_timed"] += 1
        if now - last_checkpoint >= interval and not trainer.finished:
            # The checkpoint first: a kill after it leaves files that resume rewrites from it.
            writer.write_checkpoint(seed_index, trainer)
            writer.write_records()
            last_checkpoint = time.perf_counter()
            if checkpoint_interval_s > 0:
                # The files grow with the epochs done; rewriting them must not come to dominate.
                interval = max(checkpoint_interval_s, 10.0 * (last_checkpoint - now))
        bar.update(seed, record)
    writer.write_checkpoint(seed_index + 1, None)
    writer.write_records()
