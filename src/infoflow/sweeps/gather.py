"""Gathering a sweep: one tidy table of every cell's metrics, the cell index, seed-band figures.

``DIR/summary.csv``: every complete cell's metrics.csv rows, with one column per grid key (named by
its dotted key) and ``cell`` (the run folder) in front, bound columns included.
``DIR/bounds.csv``: per grid point, layer and epoch, the bounds' statistics over seeds (mean
estimate, mean lower and upper bound, the least lower and largest upper bound, the fraction of
seeds resolved; the same for I(T_l;Y)). ``DIR/cells.csv``: one row per cell, its
folder, grid values, seed, status, wall time and message. ``DIR/figures/mi_bands`` and
``accuracy_bands`` (PNG and SVG): per grid point, the median over seeds and the band between the
25th and 75th percentiles (the interquartile range: robust to one odd seed, unlike min-max); the
seeds' median lower and upper bounds dashed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from infoflow.files import write_atomically
from infoflow.plots.run_figures import save_figure
from infoflow.runs.format import BOUND_COLUMNS
from infoflow.sweeps.cells import Cell, value_text
from infoflow.sweeps.executor import RunOutcome, is_complete

BAND_QUANTILES = (0.25, 0.5, 0.75)


def _column_value(value: Any) -> Any:
    """Return a grid value as a table cell: scalars as they are, lists as their TOML text."""
    return value if isinstance(value, (bool, int, float, str)) else value_text(value)


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def cells_table(cells: Sequence[Cell], outcomes: Sequence[RunOutcome | None], grid_keys: Sequence[str]) -> pd.DataFrame:
    """Return the cell index: folder, grid values, seed, status, seconds, message (one row per cell)."""
    rows = []
    for cell, outcome in zip(cells, outcomes):
        row: dict[str, Any] = {"cell": cell.folder}
        row.update({key: _column_value(cell.point[key]) for key in grid_keys})
        row.update(
            seed=cell.seed,
            status="pending" if outcome is None else outcome.status,
            seconds=None if outcome is None or outcome.seconds is None else round(outcome.seconds, 3),
            message="" if outcome is None else outcome.message,
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=["cell", *grid_keys, "seed", "status", "seconds", "message"])


def summary_table(out_dir: Path, cells: Sequence[Cell], grid_keys: Sequence[str]) -> pd.DataFrame:
    """Return every complete cell's metrics rows, with its grid values and folder in front.

    Cells whose run did not complete are left out (their rows are partial); cells.csv lists them.
    """
    frames = []
    for cell in cells:
        run_dir = out_dir / cell.folder
        if not is_complete(run_dir):
            continue
        metrics = pd.read_csv(run_dir / "metrics.csv")
        front = {key: _column_value(cell.point[key]) for key in grid_keys}
        front["cell"] = cell.folder
        for position, (key, value) in enumerate(front.items()):
            metrics.insert(position, key, [value] * len(metrics))
        frames.append(metrics)
    if not frames:
        return pd.DataFrame(columns=[*grid_keys, "cell", "seed", "epoch", "layer", "mi_nats"])
    # Cells may differ in optional columns (estimators); concat keeps the union, NaN elsewhere.
    return pd.concat(frames, ignore_index=True, sort=False)


# bounds.csv's statistics: (column, source column in summary.csv, aggregation over seeds).
BOUND_STATISTICS = (
    ("mi_mean", "mi_nats", "mean"),
    ("mi_lower_mean", "mi_lower_nats", "mean"),
    ("mi_upper_mean", "mi_upper_nats", "mean"),
    ("mi_lower_min", "mi_lower_nats", "min"),
    ("mi_upper_max", "mi_upper_nats", "max"),
    ("resolved_fraction", "resolved", "mean"),
    ("mi_label_mean", "mi_label_nats", "mean"),
    ("mi_label_lower_mean", "mi_label_lower_nats", "mean"),
    ("mi_label_upper_mean", "mi_label_upper_nats", "mean"),
    ("mi_label_lower_min", "mi_label_lower_nats", "min"),
    ("mi_label_upper_max", "mi_label_upper_nats", "max"),
    ("label_resolved_fraction", "label_resolved", "mean"),
)


def bound_statistics(summary: pd.DataFrame, grid_keys: Sequence[str]) -> pd.DataFrame:
    """Return the bounds' statistics over seeds per grid point, layer and epoch (bounds.csv).

    Columns: the grid keys, ``layer``, ``epoch``, ``seeds`` (how many seeds have bounds there)
    and :data:`BOUND_STATISTICS` (nats; fractions in [0, 1]; NaN where no seed has the column).
    Rows without bounds (a run with bounds off, an unmeasured epoch) are left out.
    """
    columns = [*grid_keys, "layer", "epoch", "seeds", *(name for name, _, _ in BOUND_STATISTICS)]
    if summary.empty or "mi_lower_nats" not in summary.columns:
        return pd.DataFrame(columns=columns)
    frame = summary.dropna(subset=["mi_lower_nats"])
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame = frame.assign(**{name: np.nan for name in BOUND_COLUMNS if name not in frame.columns})
    keys = [*grid_keys, "layer", "epoch"]
    grouped = frame.groupby(keys, sort=True, dropna=False)
    table = grouped.agg(
        seeds=("mi_lower_nats", "count"),
        **{name: (source, how) for name, source, how in BOUND_STATISTICS},
    ).reset_index()
    return table[columns]


def write_tables(
    out_dir: Path, cells: Sequence[Cell], outcomes: Sequence[RunOutcome | None], grid_keys: Sequence[str]
) -> tuple[Path, Path, pd.DataFrame]:
    """Write DIR/cells.csv, DIR/summary.csv and DIR/bounds.csv atomically; return the first two and the summary."""
    cells_path, summary_path = out_dir / "cells.csv", out_dir / "summary.csv"
    write_atomically(cells_path, _csv_bytes(cells_table(cells, outcomes, grid_keys)))
    summary = summary_table(out_dir, cells, grid_keys)
    write_atomically(summary_path, _csv_bytes(summary))
    write_atomically(out_dir / "bounds.csv", _csv_bytes(bound_statistics(summary, grid_keys)))
    return cells_path, summary_path, summary


# ----------------------------------------------------------------------------------------------
# Seed bands
# ----------------------------------------------------------------------------------------------


def seed_bands(summary: pd.DataFrame, grid_keys: Sequence[str], value: str, by_layer: bool) -> pd.DataFrame:
    """Return the 25th, 50th and 75th percentiles over seeds of ``value`` per grid point and epoch.

    Parameters
    ----------
    summary : DataFrame
        The sweep's summary table.
    grid_keys : sequence of str
        Its grid columns; each distinct combination is one band.
    value : str
        The metric column, e.g. ``"mi_nats"``.
    by_layer : bool
        One band per layer (I(X;T_l)); False: the first layer's rows only (per-epoch columns such
        as accuracy repeat on every layer's row).

    Returns
    -------
    DataFrame with columns ``point`` (the grid point's label), ``layer``, ``epoch``, ``q25``,
    ``median``, ``q75``; epochs where no seed has a value are left out.
    """
    columns = ["point", "layer", "epoch", "q25", "median", "q75"]
    if summary.empty or value not in summary.columns:
        return pd.DataFrame(columns=columns)
    frame = summary if by_layer else summary[summary["layer"] == summary["layer"].min()]
    frame = frame.dropna(subset=[value])
    if frame.empty:
        return pd.DataFrame(columns=columns)
    labels = (
        [
            ", ".join(f"{key}={value_text(row[key])}" for key in grid_keys) or "all seeds"
            for _, row in frame[list(grid_keys)].iterrows()
        ]
        if grid_keys
        else ["all seeds"] * len(frame)
    )
    frame = frame.assign(point=labels)
    grouped = frame.groupby(["point", "layer", "epoch"], sort=False)[value]
    quantiles = grouped.quantile(list(BAND_QUANTILES)).unstack()
    quantiles.columns = ["q25", "median", "q75"]
    return quantiles.reset_index()[columns]


def _draw_bands(axes: Any, bands: pd.DataFrame, points: Sequence[str], edges: Sequence[pd.DataFrame] = ()) -> None:
    """Median and IQR per grid point; ``edges`` (seed_bands of the bounds): their medians, dashed."""
    for index, point in enumerate(points):
        band = bands[bands["point"] == point].sort_values("epoch")
        if band.empty:
            continue
        colour = f"C{index % 10}"
        axes.plot(band["epoch"], band["median"], color=colour, linewidth=1.4, label=point)
        axes.fill_between(band["epoch"], band["q25"], band["q75"], color=colour, alpha=0.25, linewidth=0)
        for edge in edges:
            line = edge[edge["point"] == point].sort_values("epoch")
            axes.plot(line["epoch"], line["median"], color=colour, linewidth=0.6, linestyle="--")


def plot_bands(out_dir: Path, summary: pd.DataFrame, grid_keys: Sequence[str], title: str) -> list[Path]:
    """Draw DIR/figures/mi_bands and accuracy_bands (median and IQR over seeds); return the files."""
    mi = seed_bands(summary, grid_keys, "mi_nats", by_layer=True)
    if mi.empty:
        return []
    figures_dir = out_dir / "figures"
    figures_dir.mkdir(exist_ok=True)
    points = list(dict.fromkeys(mi["point"]))
    layers = sorted(int(layer) for layer in mi["layer"].unique())
    bounds = [seed_bands(summary, grid_keys, name, by_layer=True) for name in ("mi_lower_nats", "mi_upper_nats")]
    caption = f"{title}: median and interquartile range over seeds ({summary['cell'].nunique()} runs)"
    if any(not bound.empty for bound in bounds):
        caption += "; dashed: median bounds"
    written: list[Path] = []

    columns = min(3, len(layers))
    rows = int(np.ceil(len(layers) / columns))
    figure = Figure(figsize=(4.2 * columns, 3.2 * rows + 0.6), layout="constrained")
    for position, layer in enumerate(layers, start=1):
        axes = figure.add_subplot(rows, columns, position)
        edges = [bound[bound["layer"] == layer] for bound in bounds if not bound.empty]
        _draw_bands(axes, mi[mi["layer"] == layer], points, edges)
        axes.set_title(f"I(X;T_{layer})", fontsize="medium")
        axes.set_xlabel("epoch")
        axes.set_ylabel("nats")
    figure.axes[0].legend(fontsize="small")
    figure.suptitle(caption, fontsize="medium")
    written += save_figure(figure, figures_dir / "mi_bands")

    accuracy = seed_bands(summary, grid_keys, "accuracy", by_layer=False)
    if not accuracy.empty:
        figure = Figure(figsize=(6.0, 4.0), layout="constrained")
        axes = figure.add_subplot()
        _draw_bands(axes, accuracy, points)
        axes.set_xlabel("epoch")
        axes.set_ylabel("test accuracy")
        axes.legend(fontsize="small")
        axes.set_title(caption, fontsize="small")
        written += save_figure(figure, figures_dir / "accuracy_bands")
    return written
