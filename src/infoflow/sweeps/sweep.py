"""``run_sweep``: a spec's cells run on Dask into one sweep folder, then gathered.

A sweep folder::

    DIR/sweep.toml              the spec as run (written first; it marks DIR as a sweep folder)
    DIR/cells.csv               one row per cell: folder, grid values, seed, status, seconds, message
    DIR/summary.csv             every complete cell's metrics rows, grid values and folder in front
    DIR/bounds.csv              the bounds over seeds per grid point, layer, epoch (mean, envelope, resolved)
    DIR/figures/mi_bands.png    I(X;T_l) per grid point: median and interquartile range over seeds
    DIR/figures/accuracy_bands.png
    DIR/<point>/seed=<s>/       one run folder per cell (the layout of ``infoflow run``)

Nothing on disk is overwritten that the sweep did not write: DIR must be absent, empty, or a
sweep folder; a cell folder that exists must hold a run of that cell's config (resumed if
partial, reused if complete); every problem is found before anything is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from infoflow.files import write_atomically
from infoflow.runs.contents import check_output_folder
from infoflow.sweeps.cells import Cell, expand_cells
from infoflow.sweeps.executor import RunOutcome, RunTask, run_tasks
from infoflow.sweeps.gather import plot_bands, write_tables
from infoflow.sweeps.spec import SweepSpec, load_spec
from infoflow.training.experiment import check_resumable

SPEC_FILE = "sweep.toml"


@dataclass(frozen=True)
class SweepResult:
    """What a sweep produced: its folder, tables, figures and each cell's outcome (cells' order)."""

    out_dir: Path
    summary: Path
    cells_csv: Path
    figures: tuple[Path, ...]
    cells: tuple[Cell, ...]
    outcomes: tuple[RunOutcome, ...]

    @property
    def failed(self) -> list[RunOutcome]:
        """The outcomes of cells that failed."""
        return [outcome for outcome in self.outcomes if outcome.status == "failed"]


def check_sweep_folder(out_dir: Path) -> None:
    """Raise FileExistsError unless ``out_dir`` is absent, empty, or a sweep folder."""
    advice = f"it is not a sweep folder (it has no {SPEC_FILE}); refusing to write into it"
    check_output_folder(out_dir, may_reuse=lambda folder: (folder / SPEC_FILE).is_file(), advice=advice)


def run_sweep(
    spec: SweepSpec | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    command: str | None = None,
) -> SweepResult:
    """Run every cell of a sweep spec on Dask into ``out_dir``, then write its tables and figures.

    Parameters
    ----------
    spec : SweepSpec or path
        A validated spec, or the path of its TOML file (validated here).
    out_dir : path
        The sweep folder: absent, empty, or a sweep folder from an earlier run (whose complete
        cells are reused and partial ones resumed). A rerun with more seeds or grid values adds
        cells; the tables and figures cover this spec's cells.
    scheduler : str, optional
        A running Dask scheduler's address (``tcp://host:8786``) or scheduler file; its workers
        must see ``out_dir`` at the same path and have infoflow installed. None: a LocalCluster.
    workers : int, optional
        LocalCluster workers (default: one per CPU core); not with ``scheduler``.
    progress : bool
        Show cells done / running / failed with an ETA on stderr.
    command : str, optional
        The command line, recorded in each cell's manifest.

    Returns
    -------
    SweepResult
        A failed cell does not raise: see ``result.failed`` (and cells.csv).

    Raises
    ------
    SpecError
        An invalid spec (one line).
    FileExistsError, ValueError
        ``out_dir`` is not a sweep folder, or a cell folder holds a different run.
    ConnectionError
        The scheduler cannot be reached.
    """
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    out = Path(out_dir)
    check_sweep_folder(out)
    if workers is not None and scheduler is not None:
        raise ValueError("--workers sizes the local cluster; with --scheduler the cluster's own workers run the cells")
    cells = expand_cells(spec)
    for cell in cells:
        if not (out / cell.folder).exists():
            continue  # a new cell
        try:
            check_resumable(cell.config, out / cell.folder)
        except (ValueError, OSError) as error:
            raise type(error)(f"cell {cell.folder}: {error}") from None

    out.mkdir(parents=True, exist_ok=True)
    write_atomically(out / SPEC_FILE, spec.to_toml().encode("utf-8"))
    grid_keys = list(spec.grid)
    write_tables(out, cells, [None] * len(cells), grid_keys)
    tasks = [RunTask(cell.folder, cell.config, out / cell.folder) for cell in cells]
    outcomes = run_tasks(tasks, scheduler=scheduler, workers=workers, progress=progress, command=command)
    cells_csv, summary_path, summary = write_tables(out, cells, outcomes, grid_keys)
    figures = plot_bands(out, summary, grid_keys, spec.base_config.name)
    return SweepResult(out, summary_path, cells_csv, tuple(figures), tuple(cells), tuple(outcomes))
