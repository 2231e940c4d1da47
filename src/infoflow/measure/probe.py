"""InformationProbe: measure a noisy network at any epoch of any training loop.

    probe = infoflow.InformationProbe(model, inputs, run_dir="runs/mine", settings=infoflow.MeasurementSettings())
    for epoch in range(epochs + 1):
        if epoch:
            train_one_epoch(model)
        probe.record(epoch, accuracy=acc, loss=loss, lr=lr)

The probe knows nothing of the loop (as an Ignite/Lightning handler): ``record`` measures the
model as it stands — I(X;T_l), I(T_l;Y), optionally the exact I(X;T_l), other estimators, and
the density of every T_l on a grid (fixed, or following the layer) from the very samples SP
drew — and, with ``run_dir``, appends it to the run folder through
:class:`~infoflow.runs.writer.RunWriter` (the format of ``runs/format.py``) that ``infoflow
plot`` draws and ``infoflow.read_run`` loads. ``state_dict``/``load_state_dict`` carry
everything needed to resume. The reference trainer is handed a probe like any loop.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from infoflow.data.distributions import InputDistribution
from infoflow.estimators.bounds import binned_entropy
from infoflow.estimators.sample_propagation import InformationMeasurement, check_estimators, measure_information
from infoflow.estimators.truth import UnsupportedForTruth, true_mutual_information
from infoflow.measure.densities import (
    DENSITY_OUTSIDE_WARNING,
    DENSITY_REGRID_OUTSIDE,
    fixed_grid,
    grid_from_samples,
    layer_density,
    mass_outside,
    widened_grid,
)
from infoflow.measure.settings import AUTO, KEEP, MeasurementSettings, measurement_settings
from infoflow.models.noise import model_device, noise_modules
from infoflow.runs.contents import check_output_folder
from infoflow.runs.format import utc_now
from infoflow.runs.lock import RunFolderLock
from infoflow.runs.records import EpochRecord
from infoflow.runs.writer import RunWriter
from infoflow.validation import integer_at_least

PROBE_COMMAND = "infoflow.InformationProbe (Python API)"


class InformationProbe:
    """Measures I(X;T_l) (and more) of a noisy network whenever :meth:`record` is called.

    Parameters
    ----------
    model : torch.nn.Module
        A noisy network (forward through ``GaussianNoise`` layers); measured in place, not copied.
    inputs : InputDistribution
        The distribution of X (a FiniteDataset with labels also gives I(T_l;Y)).
    run_dir : path, optional
        Folder to write the run into (created; it must be absent or empty unless ``resume``).
    settings : MeasurementSettings, optional
        What is measured and how precisely (default ``MeasurementSettings()``).
    labels : callable, optional
        Labelling rule for I(T_l;Y) (e.g. ``ThresholdLabels``) when the inputs carry no labels.
    seed : int
        Fixes the probe's random stream (all its records together).
    generator : torch.Generator, optional
        Use this generator (on the model's device) instead of one seeded with ``seed``.
    n_samples, n_conditional, n_inputs, bin_size, target_std_error, stratified, bounds, target_error,
    clustering_bin_size, label_information, true_information, dropout, densities, density_points,
    density_limits : optional
        Override the field of ``settings`` of the same name (left out: keep it); see
        :class:`~infoflow.measure.settings.MeasurementSettings`. A ``density_limits`` entry None
        means "auto".
    estimator : str or sequence of str, optional
        The estimators, the first being the primary one (as in :func:`infoflow.measure_information`);
        default: ``settings.estimators`` (sample propagation first).
    run_seed : int
        The value of the ``seed`` column in metrics.csv (default ``seed``).
    name : str
        The run's name (written to config.toml).
    resume : bool
        Allow a non-empty ``run_dir`` (a probe run to be continued with :meth:`load_state_dict`).
    """

    def __init__(
        self,
        model: nn.Module,
        inputs: InputDistribution,
        *,
        run_dir: str | Path | None = None,
        settings: MeasurementSettings | None = None,
        labels: Callable[[torch.Tensor], Any] | None = None,
        seed: int = 0,
        generator: torch.Generator | None = None,
        estimator: str | Sequence[str] | None = None,
        n_samples: int = KEEP,
        n_conditional: int | str = KEEP,
        n_inputs: int = KEEP,
        bin_size: float = KEEP,
        target_std_error: float = KEEP,
        stratified: bool = KEEP,
        bounds: bool = KEEP,
        target_error: float | None = KEEP,
        clustering_bin_size: float | None = KEEP,
        label_information: bool = KEEP,
        true_information: bool = KEEP,
        dropout: bool = KEEP,
        densities: bool = KEEP,
        density_points: int = KEEP,
        density_limits: Sequence[Sequence[float] | str | None] | None = KEEP,
        run_seed: int | None = None,
        name: str = "probe",
        resume: bool = False,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module with GaussianNoise layers; got {type(model).__name__}")
        self.model = model
        self.inputs = inputs
        self.labels = labels
        if density_limits is not None and density_limits is not KEEP:
            density_limits = tuple(AUTO if limits is None else _pair_or_auto(limits) for limits in density_limits)
        self.settings = measurement_settings(
            settings,
            n_samples=n_samples,
            n_conditional=n_conditional,
            n_inputs=n_inputs,
            bin_size=bin_size,
            target_std_error=target_std_error,
            stratified=stratified,
            bounds=bounds,
            target_error=target_error,
            clustering_bin_size=clustering_bin_size,
            label_information=label_information,
            true_information=true_information,
            dropout=dropout,
            densities=densities,
            density_points=density_points,
            density_limits=density_limits,
        )
        # The primary estimator is the first; the settings put sample propagation first.
        self.estimators = self.settings.estimators if estimator is None else check_estimators(estimator)
        self.seed = integer_at_least("seed", seed, 0)
        self.run_seed = self.seed if run_seed is None else integer_at_least("run_seed", run_seed, 0)
        if generator is None:
            generator = torch.Generator(device=model_device(model))
            generator.manual_seed(self.seed)
        self.generator = generator
        # Each layer's current grid; None (whole list or an entry) = chosen from the first record's
        # samples, then widened whenever the layer leaves it (an "auto" grid follows its layer).
        self.grids: list[np.ndarray | None] | None = None
        if self.settings.density_limits is not None:
            self.grids = [
                None if limits == AUTO else fixed_grid(limits, self.settings.density_points, index)
                for index, limits in enumerate(self.settings.density_limits)
            ]
        self.name = str(name)
        self.warned_layers: set[int] = set()
        self.writer: RunWriter | None = None
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.started_utc = utc_now()
        self.lock: RunFolderLock | None = None
        if self.run_dir is not None:
            check_output_folder(
                self.run_dir,
                may_reuse=resume,
                advice="choose a new folder, or pass resume=True and load_state_dict() to continue a probe run",
            )
            self.run_dir.mkdir(parents=True, exist_ok=True)
            # Exclusive while this probe lives (released by close(), garbage collection or exit):
            # a second probe or run on the folder gets one clear error.
            self.lock = RunFolderLock(self.run_dir)

    # -- measuring ------------------------------------------------------------------------------

    def schedule(self, epochs: int) -> Any:
        """Return the epochs to record in a loop of ``epochs`` epochs (``settings.schedule``)."""
        return self.settings.schedule_for(epochs)

    def measure(
        self, epoch: int, *, accuracy: float = math.nan, loss: float = math.nan, lr: float = math.nan
    ) -> EpochRecord:
        """Return the record of the model as it stands (nothing written).

        Raises
        ------
        ValueError
            Bad settings, a model without noise layers, inputs that do not fit the model, or
            outputs so large that no entropy can be measured.
        """
        epoch = integer_at_least("epoch", epoch, 0)
        settings = self.settings
        measurement = measure_information(
            self.model,
            self.inputs,
            self.labels if settings.label_information else None,
            generator=self.generator,
            estimator=self.estimators,
            **settings.estimator_kwargs(),
        )
        measurement_label = measurement.mi_label if settings.label_information else None
        labelled = measurement_label is not None
        densities, outside = self._densities(measurement, epoch) if settings.densities else (None, None)
        return EpochRecord(
            epoch=epoch,
            accuracy=float(accuracy),
            loss=float(loss),
            learning_rate=float(lr),
            mi_input=[float(value) for value in measurement.mi_input],
            mi_label=None if measurement_label is None else [float(value) for value in measurement_label],
            true_mi=self._true_information() if settings.true_information else None,
            estimator_mi={
                name: [float(v) for v in measurement.mi_input_by_estimator[name]] for name in self.estimators[1:]
            },
            densities=densities,
            mi_std_error=[float(value) for value in measurement.mi_input_std_error],
            mi_lower=_floats(measurement.mi_input_lower),
            mi_upper=_floats(measurement.mi_input_upper),
            resolved=_flags(measurement.mi_input_resolved),
            mi_label_lower=_floats(measurement.mi_label_lower) if labelled else None,
            mi_label_upper=_floats(measurement.mi_label_upper) if labelled else None,
            label_resolved=_flags(measurement.mi_label_resolved) if labelled else None,
            density_outside=outside,
            density_grids=None if densities is None else list(self.grids or []),
            binned_entropy=None
            if settings.clustering_bin_size is None
            else [
                float(binned_entropy(samples.unsqueeze(0), settings.clustering_bin_size)[0])
                for samples in measurement.clean_samples
            ],
        )

    def _densities(self, measurement: InformationMeasurement, epoch: int) -> tuple[list[np.ndarray], list[float]]:
        """Return each layer's density (d_l, G_l) and the mass outside its grid ("auto" grids chosen or widened now)."""
        n_layers = len(measurement.clean_samples)
        known = self.grids if self.grids is not None else [None] * n_layers
        if len(known) != n_layers:
            raise ValueError(f"density_limits gives {len(known)} layers; the model has {n_layers}")
        grids = []
        for index, (grid, samples, beta) in enumerate(zip(known, measurement.clean_samples, measurement.betas)):
            if grid is None:
                grid = grid_from_samples(samples, beta, self.settings.density_points)
            elif self.follows(index) and mass_outside(samples, grid[0], grid[-1], beta) > DENSITY_REGRID_OUTSIDE:
                grid = widened_grid(grid, samples, beta)
            grids.append(grid)
        self.grids = grids
        densities, outside = [], []
        for layer, (samples, grid, beta) in enumerate(
            zip(measurement.clean_samples, self.grids, measurement.betas), start=1
        ):
            density, lost = layer_density(samples, grid, beta)
            densities.append(density)
            outside.append(lost)
            if lost > DENSITY_OUTSIDE_WARNING and layer not in self.warned_layers:
                self.warned_layers.add(layer)
                warnings.warn(
                    f"{self.name}: {lost:.1%} of a unit's density mass of T_{layer} lies outside the density "
                    f"grid [{grid[0]:.3g}, {grid[-1]:.3g}] at epoch {epoch}; widen density_limits "
                    "(recorded per epoch in metrics.csv's density_outside)",
                    stacklevel=3,
                )
        return densities, outside

    def follows(self, index: int) -> bool:
        """Whether layer ``index`` (from 0)'s grid follows the layer: its limits are "auto" (or not given)."""
        limits = self.settings.density_limits
        return limits is None or index >= len(limits) or limits[index] == AUTO

    def _true_information(self) -> list[float] | None:
        try:
            return [float(value) for value in true_mutual_information(self.model, self.inputs)]
        except UnsupportedForTruth:
            return None

    def record(
        self, epoch: int, *, accuracy: float = math.nan, loss: float = math.nan, lr: float = math.nan
    ) -> EpochRecord:
        """Measure the model now and, with ``run_dir``, append the record to the run folder.

        Parameters
        ----------
        epoch : int
            The epoch number written with the record (0 = before training).
        accuracy, loss, lr : float, optional
            The loop's own numbers for this epoch, written beside the information.

        Returns
        -------
        EpochRecord
        """
        started = time.perf_counter()
        record = self.measure(epoch, accuracy=accuracy, loss=loss, lr=lr)
        if self.run_dir is not None:
            writer = self._writer(len(record.mi_input or []))
            writer.add(self.run_seed, record, time.perf_counter() - started)
            writer.write_all()
        return record

    def _writer(self, n_layers: int) -> RunWriter:
        """Return the run folder's writer, made at the first record (when the layers are known)."""
        if self.writer is None:
            assert self.run_dir is not None
            self.writer = RunWriter(
                self.run_dir,
                name=self.name,
                seeds=[self.run_seed],
                n_layers=n_layers,
                extra_estimators=self.estimators[1:],
                grids=self.grids,
                config_text=self.config_text(),
                command=PROBE_COMMAND,
            )
            self.writer.manifest["started_utc"] = self.started_utc
        return self.writer

    def close(self) -> None:
        """Mark the run folder complete (its files are up to date after every record) and release its lock."""
        if self.writer is not None:
            self.writer.finish("complete")
            self.writer.write_all()
        self._release()

    def _release(self) -> None:
        lock = getattr(self, "lock", None)
        if lock is not None:
            lock.release()

    def __del__(self) -> None:
        self._release()

    def __enter__(self) -> InformationProbe:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if exc_info[0] is None:
            self.close()

    def config_text(self) -> str:
        """Return the text of a probe run's config.toml: the model, the inputs and the settings."""
        settings = self.settings
        lines = [
            "# Written by infoflow.InformationProbe: the measurement settings of this run.",
            f"name = {json.dumps(self.name)}",
            f"description = {json.dumps('InformationProbe run of ' + type(self.model).__name__)}",
            f"seeds = [{self.run_seed}]",
            "",
            "[network]",
            f"model = {json.dumps(type(self.model).__name__)}",
        ]
        noises = noise_modules(self.model)
        if noises:
            lines.append(f"beta = {float(noises[0].beta)!r}")
        lines += [
            "",
            "[inputs]",
            f"kind = {json.dumps(type(self.inputs).__name__)}",
            f"dim = {int(self.inputs.dim)}",
            "",
            "[estimation]",
            'schedule = "probe"',
            f"n_samples = {settings.n_samples}",
            f"n_conditional = {json.dumps(settings.n_conditional)}",
            f"n_inputs = {settings.n_inputs}",
            f"seed = {self.seed}",
            "estimators = [" + ", ".join(json.dumps(name) for name in self.estimators) + "]",
            f"target_std_error = {float(settings.target_std_error)!r}",
            f"bounds = {'true' if settings.bounds else 'false'}",
            *([] if settings.target_error is None else [f"target_error = {float(settings.target_error)!r}"]),
            f"true_information = {'true' if settings.true_information else 'false'}",
            f"dropout = {'true' if settings.dropout else 'false'}",
            "",
        ]
        return "\n".join(lines)

    # -- resume ---------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Return the probe's state (generator, grids, records): tensors and plain values only."""
        records = None if self.writer is None else self.writer.records
        return {
            "generator": self.generator.get_state(),
            "grids": None
            if self.grids is None
            else [None if grid is None else torch.from_numpy(grid.copy()) for grid in self.grids],
            "records": None if records is None else records.state(),
            "n_layers": None if records is None else records.n_layers,
            "started_utc": self.started_utc,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`; the run folder's files are rewritten from it."""
        self.generator.set_state(state["generator"])
        grids = state["grids"]
        self.grids = None if grids is None else [None if grid is None else grid.numpy().copy() for grid in grids]
        self.started_utc = state.get("started_utc", self.started_utc)
        if state["records"] is not None and self.run_dir is not None:
            writer = self._writer(int(state["n_layers"]))
            writer.records.grids = None if self.grids is None else list(self.grids)
            writer.records.load_state(state["records"])
            writer.manifest["started_utc"] = self.started_utc
            writer.write_all()


def _floats(values: Sequence[float] | None) -> list[float] | None:
    """Return ``values`` as a list of Python floats (None stays None)."""
    return None if values is None else [float(value) for value in values]


def _flags(values: Sequence[bool] | None) -> list[bool] | None:
    """Return ``values`` as a list of Python bools (None stays None)."""
    return None if values is None else [bool(value) for value in values]


def _pair_or_auto(limits: Sequence[float] | str) -> tuple[float, float] | str:
    """Return a density_limits entry as a tuple (or "auto"), for validation."""
    if isinstance(limits, str):
        return limits
    try:
        return tuple(limits)  # type: ignore[return-value]
    except TypeError:
        raise ValueError(f"density_limits entries must be [low, high] pairs or 'auto'; got {limits!r}") from None
