"""What a run records: the metrics table (tidy) and the densities, all seeds together."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from infoflow.config.schema import METRIC_COLUMNS, ExperimentConfig
from infoflow.training.trainer import (
    EpochRecord,
    measured_epochs,
)

# What a run records: the metrics table and the densities
# ----------------------------------------------------------------------------------------------


def metric_columns(config: ExperimentConfig) -> list[str]:
    """Return metrics.csv's columns, in order, for ``config``."""
    extra = [f"mi_{name}_nats" for name in config.estimation.estimators if name != "sp"]
    return [*METRIC_COLUMNS, *extra]


def _format_cell(value: float, integer: bool) -> str:
    if math.isnan(value):
        return ""
    # repr gives the shortest text that reads back as the same float64.
    return str(int(value)) if integer else repr(float(value))


class _RunRecords:
    """Every record of a run so far: metric rows and density arrays, all seeds together.

    Metric rows are kept as float64 numbers (NaN = not measured) and their CSV text; densities
    as one float32 array per layer of shape (K seeds, E measured epochs, d_l, G_l).
    """

    def __init__(self, config: ExperimentConfig) -> None:
        self.columns = metric_columns(config)
        self.extra_estimators = [name for name in config.estimation.estimators if name != "sp"]
        self.seeds = list(config.seeds)
        self.n_layers = config.network.n_layers
        self.grids = [np.linspace(low, high, config.density.points) for low, high in config.density.limits]
        estimation = config.estimation
        self.density_epochs = measured_epochs(
            estimation.schedule, config.training.epochs, every=estimation.every, points=estimation.points
        )
        self.density_index = {epoch: index for index, epoch in enumerate(self.density_epochs)}
        shape = (len(self.seeds), len(self.density_epochs))
        self.densities = [
            np.full((*shape, width, config.density.points), np.nan, dtype=np.float32)
            for width in config.network.widths[1:]
        ]
        self.rows: list[np.ndarray] = []
        self.lines: list[str] = []
        self.measured_count = [0] * len(self.seeds)

    def add(self, seed: int, record: EpochRecord) -> None:
        """Add one epoch's record of ``seed``."""
        nan_layers = [math.nan] * self.n_layers
        columns = [
            nan_layers if record.mi_input is None else record.mi_input,
            nan_layers if record.true_mi is None else record.true_mi,
            nan_layers if record.mi_label is None else record.mi_label,
        ] + [record.estimator_mi.get(name, nan_layers) for name in self.extra_estimators]
        rows = np.empty((self.n_layers, len(self.columns)), dtype=np.float64)
        for layer in range(self.n_layers):
            rows[layer] = [
                seed,
                record.epoch,
                layer + 1,
                columns[0][layer],
                columns[1][layer],
                columns[2][layer],
                record.accuracy,
                record.loss,
                record.learning_rate,
                *(column[layer] for column in columns[3:]),
            ]
        self._append_rows(rows)
        if record.densities is not None:
            seed_index = self.seeds.index(seed)
            epoch_index = self.density_index[record.epoch]
            for layer_density, density in zip(self.densities, record.densities):
                layer_density[seed_index, epoch_index] = density
            self.measured_count[seed_index] = max(self.measured_count[seed_index], epoch_index + 1)

    def _append_rows(self, rows: np.ndarray) -> None:
        self.rows.append(rows)
        for row in rows:
            self.lines.append(",".join(_format_cell(value, index < 3) for index, value in enumerate(row)))

    def csv_text(self) -> str:
        """Return metrics.csv's text."""
        return "\n".join([",".join(self.columns), *self.lines]) + "\n"

    def density_arrays(self) -> dict[str, np.ndarray]:
        """Return densities.npz's arrays (epochs cut at the last one measured by any seed)."""
        n_epochs = max(self.measured_count, default=0)
        arrays: dict[str, np.ndarray] = {
            "seeds": np.asarray(self.seeds, dtype=np.int64),
            "epochs": np.asarray(self.density_epochs[:n_epochs], dtype=np.int64),
        }
        for layer, (grid, density) in enumerate(zip(self.grids, self.densities), start=1):
            arrays[f"grid_layer{layer}"] = grid.astype(np.float64)
            arrays[f"density_layer{layer}"] = np.ascontiguousarray(density[:, :n_epochs])
        return arrays

    def state(self) -> dict[str, Any]:
        """Return the records as tensors, for the checkpoint."""
        table = np.concatenate(self.rows) if self.rows else np.empty((0, len(self.columns)))
        return {
            "metrics": torch.from_numpy(table.copy()),
            "densities": [torch.from_numpy(density.copy()) for density in self.densities],
            "measured_count": list(self.measured_count),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore records from :meth:`state`."""
        table = state["metrics"].numpy()
        if table.shape[1] != len(self.columns) or len(state["densities"]) != len(self.densities):
            raise ValueError("the checkpoint's records do not match the config's columns or layers")
        self.rows, self.lines = [], []
        if len(table):
            self._append_rows(table)
        self.densities = [density.numpy().copy() for density in state["densities"]]
        self.measured_count = list(state["measured_count"])


# ----------------------------------------------------------------------------------------------
# Files: atomic writes, npz without timestamps, the run folder's rules
# ----------------------------------------------------------------------------------------------
