"""What a run records: the tidy metrics table and the densities, all seeds together (format.py).

One writer for every producer: the reference trainer (many seeds, checkpoints) and a user's own
loop through ``InformationProbe`` both add :class:`EpochRecord` objects here, and the text and
arrays written to ``metrics.csv`` and ``densities.npz`` come from here only. Memory and file
sizes grow with the epochs recorded, never with the epochs configured.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from infoflow.runs.format import FLAG_COLUMNS, INTEGER_COLUMNS, density_key, grid_key, metric_columns


@dataclass(frozen=True)
class EpochRecord:
    """What was measured at one epoch.

    Attributes
    ----------
    epoch : int
        0 before any training; e after e passes over the training set.
    accuracy, loss, learning_rate : float
        Test accuracy in [0, 1], mean training loss of the epoch's pass, step size used in it
        (NaN where the producer does not know them).
    mi_input : list of float or None
        I(X;T_l) in nats by sample propagation, l = 1..L; None when not measured this epoch.
    mi_label : list of float or None
        I(T_l;Y) in nats; None when not measured.
    true_mi : list of float or None
        Exact I(X;T_l) in nats; None when not computed or not computable.
    estimator_mi : dict of str to list of float
        I(X;T_l) in nats by each other estimator; empty when not measured.
    densities : list of ndarray or None
        Per layer, float32 array of shape (d_l, G_l): the density of each unit of T_l on the
        layer's grid; None when not measured.
    mi_std_error : list of float or None
        Total standard error of ``mi_input`` per layer, nats.
    mi_lower, mi_upper : list of float or None
        Bounds on I(X;T_l) per layer, nats, holding the truth (jointly with the label bounds)
        with >= 95 % confidence; None when bounds were off.
    resolved : list of bool or None
        Whether ``mi_input`` is within the target error of both bounds, per layer.
    mi_label_lower, mi_label_upper, label_resolved : list or None
        The same for I(T_l;Y) (None without labels or bounds).
    density_outside : list of float or None
        Per layer, the largest fraction of a unit's density mass outside its grid.
    density_grids : list of ndarray or None
        Per layer, the grid (G_l,) ``densities`` are on (None: the run's grid of each layer).
    binned_entropy : list of float or None
        Per layer, the plug-in entropy (nats) of the clean samples S_l binned in cubes of a fixed
        side: a clustering statistic (lower = more clustered).
    train_accuracy : float
        Accuracy on the training set (NaN where not measured).
    """

    epoch: int
    accuracy: float
    loss: float
    learning_rate: float
    mi_input: list[float] | None = None
    mi_label: list[float] | None = None
    true_mi: list[float] | None = None
    estimator_mi: dict[str, list[float]] = field(default_factory=dict)
    densities: list[np.ndarray] | None = None
    mi_std_error: list[float] | None = None
    mi_lower: list[float] | None = None
    mi_upper: list[float] | None = None
    resolved: list[bool] | None = None
    mi_label_lower: list[float] | None = None
    mi_label_upper: list[float] | None = None
    label_resolved: list[bool] | None = None
    density_outside: list[float] | None = None
    binned_entropy: list[float] | None = None
    density_grids: list[np.ndarray] | None = None
    train_accuracy: float = math.nan

    @property
    def is_measured(self) -> bool:
        """True when information was measured at this epoch."""
        return self.mi_input is not None


def same_grid(grid: np.ndarray, other: np.ndarray) -> bool:
    """Whether two grids are the same points up to rounding (1e-9 of their span).

    A grid given as limits is made by numpy in one place and by torch in another; their points
    differ in the last bits.
    """
    if grid.shape != other.shape:
        return False
    span = float(np.ptp(other)) or 1.0
    return bool(np.all(np.abs(np.asarray(grid, dtype=np.float64) - other) <= 1e-9 * span))


def _flags(values: list[bool] | None) -> list[float] | None:
    """Return 0/1 flags as floats (None stays None)."""
    return None if values is None else [1.0 if value else 0.0 for value in values]


def _format_cell(value: float, integer: bool) -> str:
    if math.isnan(value):
        return ""
    # repr gives the shortest text that reads back as the same float64.
    return str(int(value)) if integer else repr(float(value))


class RunRecords:
    """Every record of a run so far: metric rows and density arrays, all seeds together.

    Parameters
    ----------
    seeds : sequence of int
        The run's seeds, in order (rows of densities.npz).
    n_layers : int
    extra_estimators : sequence of str
        Estimators recorded beside SP (their columns ``mi_<name>_nats``).
    grids : sequence of (ndarray of shape (G_l,) or None), or None
        The run's density grid of each layer; None (or an entry None) until known (then the
        first record's grid). A record made on another grid (one that followed its layer) keeps
        its own, and densities.npz then holds the grid of every (seed, epoch).
    """

    def __init__(
        self,
        seeds: Sequence[int],
        n_layers: int,
        extra_estimators: Sequence[str] = (),
        grids: Sequence[np.ndarray] | None = None,
    ) -> None:
        self.seeds = [int(seed) for seed in seeds]
        self.n_layers = int(n_layers)
        self.extra_estimators = list(extra_estimators)
        self.columns = metric_columns(self.extra_estimators)
        # Columns written as integers: seed, epoch, layer and the 0/1 flags.
        self.integer = [index < len(INTEGER_COLUMNS) or name in FLAG_COLUMNS for index, name in enumerate(self.columns)]
        # None, or an entry None: not known yet (a grid chosen from the data at the first record).
        self.grids = None if grids is None else [None if g is None else np.asarray(g, dtype=np.float64) for g in grids]
        self.rows: list[np.ndarray] = []
        self.lines: list[str] = []
        # (seed index, epoch) -> per-layer float32 arrays (d_l, G_l)
        self.density_records: dict[tuple[int, int], list[np.ndarray]] = {}
        # (seed index, epoch) -> per-layer grid the densities are on; None: the run's grid.
        self.grid_records: dict[tuple[int, int], list[np.ndarray | None]] = {}

    def add(self, seed: int, record: EpochRecord) -> None:
        """Add one epoch's record of ``seed``."""
        if seed not in self.seeds:
            raise ValueError(f"seed {seed} is not one of the run's seeds {self.seeds}")
        nan_layers = [math.nan] * self.n_layers
        measured = [
            nan_layers if record.mi_input is None else record.mi_input,
            nan_layers if record.true_mi is None else record.true_mi,
            nan_layers if record.mi_label is None else record.mi_label,
        ]
        estimators = [record.estimator_mi.get(name, nan_layers) for name in self.extra_estimators]
        trailing = [
            nan_layers if values is None else values
            for values in (
                record.mi_std_error,
                record.mi_lower,
                record.mi_upper,
                _flags(record.resolved),
                record.mi_label_lower,
                record.mi_label_upper,
                _flags(record.label_resolved),
            )
        ] + [
            nan_layers if record.density_outside is None else record.density_outside,
            nan_layers if record.binned_entropy is None else record.binned_entropy,
        ]
        for values in (*measured, *estimators, *trailing):
            if len(values) != self.n_layers:
                raise ValueError(f"a record has {len(values)} layers; the run has {self.n_layers}")
        rows = np.empty((self.n_layers, len(self.columns)), dtype=np.float64)
        for layer in range(self.n_layers):
            rows[layer] = [
                seed,
                record.epoch,
                layer + 1,
                *(column[layer] for column in measured),
                record.accuracy,
                record.loss,
                record.learning_rate,
                *(column[layer] for column in estimators),
                *(column[layer] for column in trailing),
                record.train_accuracy,
            ]
        self._append_rows(rows)
        if record.densities is not None:
            key = (self.seeds.index(seed), int(record.epoch))
            self.density_records[key] = [np.asarray(density, dtype=np.float32) for density in record.densities]
            self.grid_records[key] = self._own_grids(record.density_grids)

    def _own_grids(self, grids: Sequence[np.ndarray] | None) -> list[np.ndarray | None]:
        """Return a record's grids as stored: None where it is the run's grid (which the first known one becomes)."""
        if grids is None:
            return [None] * self.n_layers
        if len(grids) != self.n_layers:
            raise ValueError(f"a record has {len(grids)} density grids; the run has {self.n_layers} layers")
        if self.grids is None:
            self.grids = [None] * self.n_layers
        own: list[np.ndarray | None] = []
        for layer, grid in enumerate(grids):
            grid = np.asarray(grid, dtype=np.float64)
            run_grid = self.grids[layer]
            if run_grid is None:
                self.grids[layer] = grid
                own.append(None)
            else:
                own.append(None if same_grid(grid, run_grid) else grid)
        return own

    def record_grid(self, key: tuple[int, int], layer: int) -> np.ndarray | None:
        """Return the grid of the densities recorded at ``key`` = (seed index, epoch) for ``layer`` (from 0)."""
        own = self.grid_records.get(key, [None] * self.n_layers)[layer]
        return own if own is not None else (None if self.grids is None else self.grids[layer])

    def latest_grids(self, seed: int) -> list[np.ndarray | None] | None:
        """Return the grids of ``seed``'s latest density record (None before its first): where its probe stands."""
        index = self.seeds.index(seed)
        keys = [key for key in self.density_records if key[0] == index]
        if not keys:
            return None
        latest = max(keys, key=lambda key: key[1])
        return [self.record_grid(latest, layer) for layer in range(self.n_layers)]

    def _append_rows(self, rows: np.ndarray) -> None:
        self.rows.append(rows)
        for row in rows:
            cells = (_format_cell(value, integer) for value, integer in zip(row, self.integer))
            self.lines.append(",".join(cells))

    def csv_text(self) -> str:
        """Return metrics.csv's text."""
        return "\n".join([",".join(self.columns), *self.lines]) + "\n"

    def density_arrays(self) -> dict[str, np.ndarray] | None:
        """Return densities.npz's arrays, or None when no density was recorded or no grid is known.

        ``epochs`` is every epoch at which any seed recorded densities, sorted; a seed that did
        not record an epoch has NaN there. A layer whose records all used the run's grid has
        ``grid_layer<l>`` of shape (G,); one whose grid followed it, of shape (K, E, G): the grid
        of every (seed, epoch), NaN where nothing was recorded.
        """
        if self.grids is None or any(grid is None for grid in self.grids) or not self.density_records:
            return None
        epochs = sorted({epoch for _, epoch in self.density_records})
        epoch_index = {epoch: index for index, epoch in enumerate(epochs)}
        arrays: dict[str, np.ndarray] = {
            "seeds": np.asarray(self.seeds, dtype=np.int64),
            "epochs": np.asarray(epochs, dtype=np.int64),
        }
        example = next(iter(self.density_records.values()))
        for layer, grid in enumerate(self.grids):
            width = example[layer].shape[0]
            density = np.full((len(self.seeds), len(epochs), width, len(grid)), np.nan, dtype=np.float32)
            for (seed_index, epoch), layers in self.density_records.items():
                density[seed_index, epoch_index[epoch]] = layers[layer]
            if any(own[layer] is not None for own in self.grid_records.values()):
                grids = np.full((len(self.seeds), len(epochs), len(grid)), np.nan, dtype=np.float64)
                for seed_index, epoch in self.density_records:
                    grids[seed_index, epoch_index[epoch]] = self.record_grid((seed_index, epoch), layer)
                arrays[grid_key(layer + 1)] = grids
            else:
                arrays[grid_key(layer + 1)] = grid
            arrays[density_key(layer + 1)] = density
        return arrays

    def npz_bytes(self) -> bytes | None:
        """Return densities.npz's bytes (None when there is nothing to write)."""
        arrays = self.density_arrays()
        return None if arrays is None else npz_bytes(arrays)

    def state(self) -> dict[str, Any]:
        """Return the records as tensors and plain values, for a checkpoint (weights_only loadable)."""
        table = np.concatenate(self.rows) if self.rows else np.empty((0, len(self.columns)))
        keys = sorted(self.density_records)
        # The grids records used besides the run's, each once, and per (record, layer) its index (-1: the run's).
        seen: dict[bytes, int] = {}
        own_grids: list[torch.Tensor] = []
        index = torch.full((len(keys), self.n_layers), -1, dtype=torch.int64)
        for row, key in enumerate(keys):
            for layer, grid in enumerate(self.grid_records.get(key, [None] * self.n_layers)):
                if grid is not None:
                    if grid.tobytes() not in seen:
                        seen[grid.tobytes()] = len(own_grids)
                        own_grids.append(torch.from_numpy(grid.copy()))
                    index[row, layer] = seen[grid.tobytes()]
        return {
            "metrics": torch.from_numpy(table.copy()),
            "density_keys": torch.tensor(keys, dtype=torch.int64).reshape(-1, 2),
            "densities": [[torch.from_numpy(array.copy()) for array in self.density_records[key]] for key in keys],
            "grids": None
            if self.grids is None
            else [None if grid is None else torch.from_numpy(grid.copy()) for grid in self.grids],
            "record_grids": own_grids,
            "record_grid_index": index,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore records from :meth:`state`."""
        table = state["metrics"].numpy()
        if table.shape[1] != len(self.columns):
            raise ValueError("the checkpoint's records do not match the run's columns")
        self.rows, self.lines = [], []
        if len(table):
            self._append_rows(table)
        keys = [tuple(int(v) for v in key) for key in state["density_keys"].tolist()]
        self.density_records = {
            key: [array.numpy().copy() for array in layers] for key, layers in zip(keys, state["densities"])
        }
        if state["grids"] is not None:
            self.grids = [None if grid is None else grid.numpy().copy() for grid in state["grids"]]
        # A checkpoint written before grids followed their layers has no record grids: all the run's.
        own_grids = [grid.numpy().copy() for grid in state.get("record_grids", [])]
        index = state.get("record_grid_index")
        self.grid_records = {
            key: [None] * self.n_layers
            if index is None
            else [None if int(i) < 0 else own_grids[int(i)] for i in index[row].tolist()]
            for row, key in enumerate(keys)
        }


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """Return an .npz archive of ``arrays`` that np.load reads; same arrays, same bytes.

    np.savez stamps every member with the current time; fixed timestamps make the file a pure
    function of its contents, so an interrupted-and-resumed run matches an uninterrupted one.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()
