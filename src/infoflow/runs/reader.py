"""Reading a run folder: read_run returns everything a run folder holds, as arrays."""

from __future__ import annotations

import csv
import json
import os
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from infoflow.runs.format import (
    BOUND_COLUMNS,
    CONFIG_FILE,
    DENSITIES_FILE,
    MANIFEST_FILE,
    METRICS_FILE,
    METRICS_OPTIONAL,
    METRICS_REQUIRED,
    density_key,
    estimator_of_column,
    grid_key,
)

# ----------------------------------------------------------------------------------------------
# Reading a run folder
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRecord:
    """Everything a run folder holds, as arrays.

    Attributes
    ----------
    run_dir : Path
    name : str
        The config's ``name`` (e.g. "fig2").
    config : dict
        The resolved config.toml.
    manifest : dict
        manifest.json, or {} when absent.
    seeds : ndarray of shape (K,), int64
    epochs : ndarray of shape (E,), int64
        Every epoch with a row in metrics.csv, sorted.
    mi : ndarray of shape (K, E, L)
        I(X;T_l) in nats; NaN where not measured.
    true_mi, mi_label : ndarray of shape (K, E, L) or None
        Exact I(X;T_l) and I(T_l;Y) in nats; None when the column is absent or all empty.
    estimator_mi : dict of str to ndarray of shape (K, E, L)
        Other estimators' I(X;T_l) (columns ``mi_<name>_nats``), keyed by ``<name>``.
    accuracy, loss, lr : ndarray of shape (K, E)
    density_seeds : ndarray of shape (K_d,) or None
    density_epochs : ndarray of shape (E_d,) or None
    grids : tuple of ndarray of shape (G_l,) or (K_d, E_d, G_l)
        Density grid of each layer (empty when densities.npz is absent): one grid for every seed
        and epoch, or, for a grid that followed its layer, the grid of each (seed, epoch) (NaN
        where nothing was recorded). :meth:`layer_grids` gives either as (E_d, G_l) per seed.
    densities : tuple of ndarray of shape (K_d, E_d, d_l, G_l)
        Density of each unit of T_l per seed and recorded epoch.
    metrics : pandas.DataFrame
        metrics.csv as a tidy table: one row per (seed, epoch, layer), every column (NaN = not
        measured), total standard errors (``std_error_nats``) and bounds included.
    bounds : dict of str to ndarray of shape (K, E, L)
        The bound columns of metrics.csv present with a value (``mi_lower_nats``,
        ``mi_upper_nats``, ``resolved`` as 1.0/0.0, and the ``mi_label_*``/``label_resolved``
        ones), keyed by column name; NaN where not measured; empty for a run with bounds off.
    """

    run_dir: Path
    name: str
    config: dict[str, Any]
    manifest: dict[str, Any]
    seeds: np.ndarray
    epochs: np.ndarray
    mi: np.ndarray
    true_mi: np.ndarray | None
    mi_label: np.ndarray | None
    estimator_mi: dict[str, np.ndarray]
    accuracy: np.ndarray
    loss: np.ndarray
    lr: np.ndarray
    density_seeds: np.ndarray | None
    density_epochs: np.ndarray | None
    grids: tuple[np.ndarray, ...]
    densities: tuple[np.ndarray, ...]
    metrics: pd.DataFrame = field(repr=False, compare=False, default_factory=pd.DataFrame)
    bounds: dict[str, np.ndarray] = field(repr=False, compare=False, default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"RunRecord({str(self.run_dir)!r}, name={self.name!r}, seeds={self.seeds.tolist()}, "
            f"epochs={len(self.epochs)}, layers={self.n_layers}, densities={self.has_densities})"
        )

    @property
    def n_layers(self) -> int:
        """Number of layers L."""
        return int(self.mi.shape[2])

    @property
    def has_densities(self) -> bool:
        """Whether densities.npz was present."""
        return self.density_epochs is not None

    def mi_series(self, seed_index: int, layer: int, values: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return (epochs, nats) of one seed's layer, measured epochs only.

        Parameters
        ----------
        seed_index : int
            Index into ``seeds``.
        layer : int
            Layer number, from 1.
        values : ndarray of shape (K, E, L), optional
            Which MI array (default ``mi``).
        """
        array = self.mi if values is None else values
        column = array[seed_index, :, layer - 1]
        measured = np.isfinite(column)
        return self.epochs[measured], column[measured]

    def layer_densities(self, seed: int, layer: int) -> np.ndarray:
        """Return the densities of T_layer for one seed, shape (E_d, d_l, G_l)."""
        if not self.has_densities:
            raise ValueError(f"{self.run_dir}: densities.npz is missing; the density checks need it")
        matches = np.flatnonzero(self.density_seeds == seed)
        if matches.size == 0:
            raise ValueError(f"{self.run_dir}: densities.npz has no seed {seed} (has {self.density_seeds.tolist()})")
        return self.densities[layer - 1][matches[0]]

    def layer_grids(self, seed: int, layer: int) -> np.ndarray:
        """Return the grid of each recorded epoch of T_layer for one seed, shape (E_d, G_l)."""
        if not self.has_densities:
            raise ValueError(f"{self.run_dir}: densities.npz is missing; the density checks need it")
        matches = np.flatnonzero(self.density_seeds == seed)
        if matches.size == 0:
            raise ValueError(f"{self.run_dir}: densities.npz has no seed {seed} (has {self.density_seeds.tolist()})")
        grid = self.grids[layer - 1]
        if grid.ndim == 3:
            return grid[matches[0]]
        return np.broadcast_to(grid, (self.density_epochs.size, grid.size))


def _read_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise ValueError(f"{run_dir}: not a run folder ({CONFIG_FILE} is missing)")
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML ({error})") from None


def _read_metrics(path: Path) -> tuple[list[str], np.ndarray]:
    """Return the numeric columns we use and their values, shape (rows, columns), NaN for empty."""
    if not path.is_file():
        raise ValueError(f"{path.parent}: not a run folder ({METRICS_FILE} is missing)")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            rows = [row for row in reader if row]
    except (csv.Error, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: unreadable CSV ({error})") from None
    missing = [name for name in METRICS_REQUIRED if name not in header]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; has {', '.join(header) or 'none'}")
    # Only columns we understand are parsed: readers must tolerate extra (possibly text) columns.
    wanted = [
        name
        for name in header
        if name in METRICS_REQUIRED
        or name in METRICS_OPTIONAL
        or estimator_of_column(name) is not None
    ]
    positions = [header.index(name) for name in wanted]
    table = np.full((len(rows), len(wanted)), np.nan)
    for row_number, row in enumerate(rows):
        for column, position in enumerate(positions):
            cell = row[position].strip() if position < len(row) else ""
            if not cell:
                continue
            try:
                table[row_number, column] = float(cell)
            except ValueError:
                raise ValueError(
                    f"{path}: line {row_number + 2}, column {wanted[column]!r}: {cell!r} is not a number"
                ) from None
    return wanted, table


def read_run(run_dir: str | Path) -> RunRecord:
    """Return the contents of a run folder as arrays (see :class:`RunRecord`).

    Raises
    ------
    ValueError
        When config.toml or metrics.csv is missing or malformed, or densities.npz lacks a key.
    """
    if not isinstance(run_dir, (str, os.PathLike)):
        raise ValueError(f"run_dir must be the path of a run folder; got {type(run_dir).__name__}")
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"run folder {run_dir} does not exist")
    config = _read_config(run_dir)
    columns, table = _read_metrics(run_dir / METRICS_FILE)
    if table.shape[0] == 0:
        raise ValueError(f"{run_dir / METRICS_FILE}: no rows")
    column = {name: table[:, index] for index, name in enumerate(columns)}
    for name in ("seed", "epoch", "layer"):
        if not np.all(np.isfinite(column[name])):
            raise ValueError(f"{run_dir / METRICS_FILE}: column {name!r} has empty cells")
    seed_col = column["seed"].astype(np.int64)
    epoch_col = column["epoch"].astype(np.int64)
    layer_col = column["layer"].astype(np.int64)
    if layer_col.min() < 1:
        raise ValueError(f"{run_dir / METRICS_FILE}: layers are numbered from 1, found {layer_col.min()}")
    seeds = np.unique(seed_col)
    epochs = np.unique(epoch_col)
    n_layers = int(layer_col.max())
    seed_index = np.searchsorted(seeds, seed_col)
    epoch_index = np.searchsorted(epochs, epoch_col)
    shape = (seeds.size, epochs.size, n_layers)

    def per_layer(name: str) -> np.ndarray | None:
        if name not in column or not np.any(np.isfinite(column[name])):
            return None
        array = np.full(shape, np.nan)
        array[seed_index, epoch_index, layer_col - 1] = column[name]
        return array

    def per_epoch(name: str) -> np.ndarray:
        array = np.full(shape[:2], np.nan)
        if name in column:
            # The value repeats on each layer's row; keep the finite ones.
            finite = np.isfinite(column[name])
            array[seed_index[finite], epoch_index[finite]] = column[name][finite]
        return array

    mi = per_layer("mi_nats")
    if mi is None:
        mi = np.full(shape, np.nan)
    estimator_mi = {}
    for name in columns:
        estimator = estimator_of_column(name)
        if estimator is not None:
            values = per_layer(name)
            if values is not None:
                estimator_mi[estimator] = values

    density_seeds = density_epochs = None
    grids: list[np.ndarray] = []
    densities: list[np.ndarray] = []
    density_path = run_dir / DENSITIES_FILE
    if density_path.is_file():
        try:
            archive_file = np.load(density_path, allow_pickle=False)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
            raise ValueError(f"{density_path}: unreadable ({error})") from None
        with archive_file as archive:
            keys = set(archive.files)
            needed = {"seeds", "epochs"} | {grid_key(layer) for layer in range(1, n_layers + 1)}
            needed |= {density_key(layer) for layer in range(1, n_layers + 1)}
            if not needed <= keys:
                raise ValueError(f"{density_path}: missing key(s) {', '.join(sorted(needed - keys))}")
            density_seeds = np.asarray(archive["seeds"], dtype=np.int64)
            density_epochs = np.asarray(archive["epochs"], dtype=np.int64)
            for layer in range(1, n_layers + 1):
                grid = np.asarray(archive[grid_key(layer)], dtype=np.float64)
                density = np.asarray(archive[density_key(layer)])
                expected = (density_seeds.size, density_epochs.size)
                points = grid.shape[-1] if grid.ndim else 0
                if grid.ndim not in (1, 3) or (grid.ndim == 3 and grid.shape[:2] != expected):
                    raise ValueError(
                        f"{density_path}: {grid_key(layer)} has shape {grid.shape}, expected (G,) or "
                        f"({expected[0]}, {expected[1]}, G)"
                    )
                if density.ndim != 4 or density.shape[:2] != expected or density.shape[3] != points:
                    raise ValueError(
                        f"{density_path}: {density_key(layer)} has shape {density.shape}, expected "
                        f"({expected[0]}, {expected[1]}, d_{layer}, {points})"
                    )
                grids.append(grid)
                densities.append(density)

    manifest: dict[str, Any] = {}
    manifest_path = run_dir / MANIFEST_FILE
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{manifest_path}: not valid JSON ({error})") from None

    return RunRecord(
        run_dir=run_dir,
        name=str(config.get("name", run_dir.name)),
        config=config,
        manifest=manifest,
        seeds=seeds,
        epochs=epochs,
        mi=mi,
        true_mi=per_layer("true_mi_nats"),
        mi_label=per_layer("mi_label_nats"),
        estimator_mi=estimator_mi,
        accuracy=per_epoch("accuracy"),
        loss=per_epoch("loss"),
        lr=per_epoch("lr"),
        density_seeds=density_seeds,
        density_epochs=density_epochs,
        grids=tuple(grids),
        densities=tuple(densities),
        metrics=pd.read_csv(run_dir / METRICS_FILE),
        bounds={name: values for name in BOUND_COLUMNS if (values := per_layer(name)) is not None},
    )
