"""InformationProbe: measure a noisy network at any epoch of any training loop.

    probe = infoflow.InformationProbe(model, inputs, run_dir="runs/mine", n_samples=1000)
    for epoch in range(epochs + 1):
        if epoch:
            train_one_epoch(model)
        probe.record(epoch, accuracy=acc, loss=loss, lr=lr)

The probe knows nothing of the loop (as an Ignite/Lightning handler): ``record`` measures the
model as it stands — I(X;T_l), I(T_l;Y), optionally the exact I(X;T_l), other estimators, and
the density of every T_l on a fixed grid from the very samples SP drew — and, with ``run_dir``,
appends it to the run folder (metrics.csv, densities.npz, config.toml, manifest.json) that
``infoflow plot`` draws and ``infoflow.read_run`` loads. ``state_dict``/``load_state_dict``
carry everything needed to resume. The reference trainer measures through the same class.
"""

from __future__ import annotations

import json
import math
import platform
import warnings
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from infoflow.data.distributions import InputDistribution
from infoflow.entropy import smoothed_density
from infoflow.estimators.bounds import binned_entropy
from infoflow.estimators.sample_propagation import InformationMeasurement, check_estimators, measure_information
from infoflow.estimators.truth import UnsupportedForTruth, true_mutual_information
from infoflow.files import write_atomically
from infoflow.models.noise import model_device, noise_modules
from infoflow.runs.lock import RunFolderLock
from infoflow.runs.records import EpochRecord, RunRecords
from infoflow.validation import integer_at_least

# A density grid chosen from the data spans the first measured samples plus this many times their
# range on each side (and at least DENSITY_MARGIN_BETAS noise s.d.): representations usually
# spread during training. The mass that still falls outside is recorded (density_outside).
DENSITY_SPAN_MARGIN = 1.0
DENSITY_MARGIN_BETAS = 6.0
# A warning is given once per layer when more than this fraction of a unit's mass is off the grid.
DENSITY_OUTSIDE_WARNING = 0.01


def _mass_outside(samples: torch.Tensor, low: float, high: float, beta: float) -> float:
    """Return the largest fraction, over units, of the mixture P_hat(S) * N(0, beta^2) outside [low, high].

    Exact (normal tails per sample), so a coarse grid does not misreport it. samples: (n, d).
    """
    values = samples.detach().to("cpu", torch.float64)
    below = torch.special.ndtr((low - values) / beta)
    above = torch.special.ndtr((values - high) / beta)
    return float((below + above).mean(dim=0).max())


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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
    labels : callable, optional
        Labelling rule for I(T_l;Y) (e.g. ``ThresholdLabels``) when the inputs carry no labels.
    n_samples, n_conditional, n_inputs, seed, estimator, bin_size, target_std_error, stratified :
        As in :func:`infoflow.measure_information`; the first estimator is the primary one.
        ``seed`` fixes the probe's random stream (all its records together).
    generator : torch.Generator, optional
        Use this generator (on the model's device) instead of one seeded with ``seed``.
    clustering_bin_size : float, optional
        Also record H(Bin(S_l)), the plug-in entropy of the clean samples binned in cubes of this
        side (nats; a clustering statistic: lower = more clustered).
    label_information : bool
        Measure I(T_l;Y) when labels are available.
    true_information : bool
        Also record the exact I(X;T_l) where :func:`infoflow.true_mutual_information` supports the
        model and inputs (NaN elsewhere).
    densities : bool
        Record the density of every unit of T_l on a grid per record.
    density_points : int
        Grid points per layer.
    density_limits : sequence of (low, high) per layer, optional
        Grid range per layer; None chooses them from the first record's samples (see
        ``DENSITY_SPAN_MARGIN``). The mass outside is recorded either way.
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
        labels: Callable[[torch.Tensor], Any] | None = None,
        n_samples: int = 1000,
        n_conditional: int = 1000,
        n_inputs: int = 500,
        seed: int = 0,
        generator: torch.Generator | None = None,
        estimator: str | Sequence[str] = "sp",
        bin_size: float = 0.05,
        target_std_error: float = 0.01,
        stratified: bool = False,
        clustering_bin_size: float | None = None,
        label_information: bool = True,
        true_information: bool = False,
        densities: bool = True,
        density_points: int = 300,
        density_limits: Sequence[Sequence[float]] | None = None,
        run_seed: int | None = None,
        name: str = "probe",
        resume: bool = False,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module with GaussianNoise layers; got {type(model).__name__}")
        self.model = model
        self.inputs = inputs
        self.labels = labels
        self.estimators = check_estimators(estimator)
        self.settings = {
            "n_samples": integer_at_least("n_samples", n_samples, 1),
            "n_conditional": integer_at_least("n_conditional", n_conditional, 1),
            "n_inputs": integer_at_least("n_inputs", n_inputs, 1),
            "bin_size": bin_size,
            "target_std_error": target_std_error,
            "stratified": bool(stratified),
        }
        self.seed = integer_at_least("seed", seed, 0)
        self.run_seed = self.seed if run_seed is None else integer_at_least("run_seed", run_seed, 0)
        if generator is None:
            generator = torch.Generator(device=model_device(model))
            generator.manual_seed(self.seed)
        self.generator = generator
        if clustering_bin_size is not None and not (
            isinstance(clustering_bin_size, (int, float)) and 0 < clustering_bin_size < math.inf
        ):
            raise ValueError(
                f"clustering_bin_size must be a positive finite number or None; got {clustering_bin_size!r}"
            )
        self.clustering_bin_size = None if clustering_bin_size is None else float(clustering_bin_size)
        self.label_information = bool(label_information)
        self.true_information = bool(true_information)
        self.record_densities = bool(densities)
        self.density_points = integer_at_least("density_points", density_points, 2)
        # One grid per layer; None (whole list or an entry) = chosen from the first record's samples.
        self.grids: list[np.ndarray | None] | None = None
        if density_limits is not None:
            self.grids = [
                None if limits is None or limits == "auto" else self._grid(limits, index)
                for index, limits in enumerate(density_limits)
            ]
        self.name = str(name)
        self.warned_layers: set[int] = set()
        self.records: RunRecords | None = None
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.started_utc = _utc_now()
        if self.run_dir is not None:
            self._prepare_folder(resume)

    # -- set-up ---------------------------------------------------------------------------------

    def _grid(self, limits: Sequence[float], index: int) -> np.ndarray:
        try:
            low, high = (float(value) for value in limits)
        except (TypeError, ValueError):
            raise ValueError(f"density_limits[{index}] must be a pair [low, high]; got {limits!r}") from None
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"density_limits[{index}] must be finite with low < high; got {limits!r}")
        return torch.linspace(low, high, self.density_points, dtype=torch.float64).numpy()

    def _prepare_folder(self, resume: bool) -> None:
        assert self.run_dir is not None
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise ValueError(f"run_dir {self.run_dir} exists and is not a folder")
        if self.run_dir.exists() and any(self.run_dir.iterdir()) and not resume:
            raise ValueError(
                f"run_dir {self.run_dir} is not empty; choose a new folder, or pass resume=True and "
                "load_state_dict() to continue a probe run"
            )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # Exclusive while this probe lives (released by close(), garbage collection or exit):
        # a second probe or run on the folder gets one clear error.
        self._lock = RunFolderLock(self.run_dir)

    def _choose_grids(self, measurement: InformationMeasurement) -> list[np.ndarray]:
        """Return the grids, choosing each unknown one from this measurement's samples."""
        known = self.grids if self.grids is not None else [None] * len(measurement.clean_samples)
        if len(known) != len(measurement.clean_samples):
            raise ValueError(
                f"density_limits gives {len(known)} layers; the model has {len(measurement.clean_samples)}"
            )
        grids = []
        for grid, samples, beta in zip(known, measurement.clean_samples, measurement.betas):
            if grid is None:
                values = samples.detach().to("cpu", torch.float64)
                low, high = float(values.min()), float(values.max())
                margin = max(DENSITY_SPAN_MARGIN * (high - low), DENSITY_MARGIN_BETAS * beta)
                grid = torch.linspace(low - margin, high + margin, self.density_points, dtype=torch.float64).numpy()
            grids.append(grid)
        return grids

    # -- measuring ------------------------------------------------------------------------------

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
        measurement = measure_information(
            self.model,
            self.inputs,
            self.labels if self.label_information else None,
            generator=self.generator,
            estimator=self.estimators,
            **self.settings,
        )
        measurement_label = measurement.mi_label if self.label_information else None
        densities = outside = None
        if self.record_densities:
            if self.grids is None or any(grid is None for grid in self.grids):
                self.grids = self._choose_grids(measurement)
            densities, outside = [], []
            for layer, (samples, grid, beta) in enumerate(
                zip(measurement.clean_samples, self.grids, measurement.betas), start=1
            ):
                grid_tensor = torch.from_numpy(grid).to(samples.device)
                density = smoothed_density(samples.to(torch.float64), grid_tensor, beta).cpu().numpy()
                lost = _mass_outside(samples, grid[0], grid[-1], beta)
                outside.append(lost)
                densities.append(density.astype(np.float32))
                if lost > DENSITY_OUTSIDE_WARNING and layer not in self.warned_layers:
                    self.warned_layers.add(layer)
                    warnings.warn(
                        f"{self.name}: {lost:.1%} of a unit's density mass of T_{layer} lies outside the density "
                        f"grid [{grid[0]:.3g}, {grid[-1]:.3g}] at epoch {epoch}; widen density_limits "
                        "(recorded per epoch in metrics.csv's density_outside)",
                        stacklevel=2,
                    )
        return EpochRecord(
            epoch=epoch,
            accuracy=float(accuracy),
            loss=float(loss),
            learning_rate=float(lr),
            mi_input=[float(value) for value in measurement.mi_input],
            mi_label=None if measurement_label is None else [float(value) for value in measurement_label],
            true_mi=self._true_information() if self.true_information else None,
            estimator_mi={
                name: [float(v) for v in measurement.mi_input_by_estimator[name]] for name in self.estimators[1:]
            },
            densities=densities,
            mi_std_error=[float(value) for value in measurement.mi_input_std_error],
            density_outside=outside,
            binned_entropy=None
            if self.clustering_bin_size is None
            else [
                float(binned_entropy(samples.unsqueeze(0), self.clustering_bin_size)[0])
                for samples in measurement.clean_samples
            ],
        )

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
        record = self.measure(epoch, accuracy=accuracy, loss=loss, lr=lr)
        if self.run_dir is not None:
            if self.records is None:
                self.records = RunRecords([self.run_seed], len(record.mi_input or []), self.estimators[1:], self.grids)
            self.records.add(self.run_seed, record)
            self._write(status="running")
        return record

    def close(self) -> None:
        """Mark the run folder complete (its files are up to date after every record) and release its lock."""
        if self.run_dir is not None and self.records is not None:
            self._write(status="complete")
        self._release()

    def _release(self) -> None:
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.release()

    def __del__(self) -> None:
        self._release()

    def __enter__(self) -> InformationProbe:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if exc_info[0] is None:
            self.close()

    # -- files ----------------------------------------------------------------------------------

    def _config_text(self) -> str:
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
            f"n_samples = {self.settings['n_samples']}",
            f"n_conditional = {self.settings['n_conditional']}",
            f"n_inputs = {self.settings['n_inputs']}",
            f"seed = {self.seed}",
            "estimators = [" + ", ".join(json.dumps(name) for name in self.estimators) + "]",
            f"target_std_error = {float(self.settings['target_std_error'])!r}",
            f"true_information = {'true' if self.true_information else 'false'}",
            "",
        ]
        return "\n".join(lines)

    def _write(self, status: str) -> None:
        from infoflow import __version__

        assert self.run_dir is not None and self.records is not None
        write_atomically(self.run_dir / "config.toml", self._config_text().encode("utf-8"))
        write_atomically(self.run_dir / "metrics.csv", self.records.csv_text().encode("utf-8"))
        npz = self.records.npz_bytes()
        if npz is not None:
            write_atomically(self.run_dir / "densities.npz", npz)
        manifest = {
            "infoflow_version": __version__,
            "torch_version": torch.__version__,
            "numpy_version": np.__version__,
            "python_version": platform.python_version(),
            "platform": platform.platform(),
            "command": "infoflow.InformationProbe (Python API)",
            "name": self.name,
            "seeds": [self.run_seed],
            "started_utc": self.started_utc,
            "finished_utc": _utc_now() if status == "complete" else None,
            "status": status,
            "message": "",
        }
        write_atomically(self.run_dir / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))

    # -- resume ---------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Return the probe's state (generator, grids, records): tensors and plain values only."""
        return {
            "generator": self.generator.get_state(),
            "grids": None
            if self.grids is None
            else [None if grid is None else torch.from_numpy(grid.copy()) for grid in self.grids],
            "records": None if self.records is None else self.records.state(),
            "n_layers": None if self.records is None else self.records.n_layers,
            "started_utc": self.started_utc,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`; the run folder's files are rewritten from it."""
        self.generator.set_state(state["generator"])
        grids = state["grids"]
        self.grids = None if grids is None else [None if grid is None else grid.numpy().copy() for grid in grids]
        self.started_utc = state.get("started_utc", self.started_utc)
        if state["records"] is not None:
            self.records = RunRecords([self.run_seed], int(state["n_layers"]), self.estimators[1:], self.grids)
            self.records.load_state(state["records"])
            if self.run_dir is not None:
                self._write(status="running")
