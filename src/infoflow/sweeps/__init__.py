"""Sweeps over seeds and any config field, run by Dask on this machine or any Dask cluster.

Modules: ``spec`` (the spec TOML, validated), ``cells`` (grid points x seeds, each a resolved
config and a run folder), ``executor`` (run folders on a dask.distributed cluster), ``gather``
(summary.csv, cells.csv, seed-band figures), ``sweep`` (``run_sweep``: all of it).
"""

from __future__ import annotations

import importlib
from typing import Any

from infoflow.sweeps.cells import Cell, expand_cells
from infoflow.sweeps.executor import RunOutcome, RunsFailed, RunTask, run_tasks
from infoflow.sweeps.spec import SpecError, SweepSpec, load_spec, parse_spec

# Imported on first use: gathering needs pandas and matplotlib, which the CLI loads only when drawing.
_LAZY = {"run_sweep": "infoflow.sweeps.sweep", "SweepResult": "infoflow.sweeps.sweep"}

__all__ = [
    "Cell",
    "RunOutcome",
    "RunTask",
    "RunsFailed",
    "SpecError",
    "SweepResult",
    "SweepSpec",
    "expand_cells",
    "load_spec",
    "parse_spec",
    "run_sweep",
    "run_tasks",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
