"""A sweep's cells: one (grid point, seed) each, with its resolved config and its run folder.

A cell's folder under the sweep folder is readable and stable: the grid point's ``key=value``
pairs (keys sorted, joined by ``__``), then ``seed=N``, e.g. ``network.beta=0.05/seed=0``; with no
grid, just ``seed=N``. A value whose text is not safe in a file name (or is long) is shortened and
tagged with a hash of its exact text, so distinct values never share a folder. The sweep folder's
``cells.csv`` maps every folder to its values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from infoflow.config.experiment import ExperimentConfig
from infoflow.sweeps.spec import SweepSpec, toml_value

# Characters kept as they are in a folder name (safe on POSIX and Windows, no separators).
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=,\[\]-]")
MAX_NAME_CHARS = 80


@dataclass(frozen=True)
class Cell:
    """One run of a sweep.

    Attributes
    ----------
    folder : str
        The run folder, relative to the sweep folder, with ``/`` separators.
    point : dict of str to value
        The grid values of this cell, dotted key -> value ({} without a grid).
    seed : int
    config : ExperimentConfig
        The resolved config, run on ``seed`` alone.
    """

    folder: str
    point: dict[str, Any]
    seed: int
    config: ExperimentConfig


def point_folder(point: dict[str, Any]) -> str:
    """Return the folder name of a grid point ("" without a grid); equal points, equal names."""
    if not point:
        return ""
    text = "__".join(f"{key}={value_text(point[key])}" for key in sorted(point))
    safe = _UNSAFE.sub("_", text)
    if safe != text or len(safe) > MAX_NAME_CHARS:
        # Lossy: a hash of the exact text keeps two values that look alike in separate folders.
        digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
        safe = f"{safe[:MAX_NAME_CHARS]}-{digest}"
    return safe


def value_text(value: Any) -> str:
    """Return a grid value as text: a string as it is, anything else as TOML writes it."""
    return value if isinstance(value, str) else toml_value(value)


def expand_cells(spec: SweepSpec) -> list[Cell]:
    """Return every cell of ``spec``: each grid point (in the spec's order) for each seed."""
    cells = []
    for point in spec.points():
        config = spec.resolve(point)
        prefix = point_folder(point)
        for seed in spec.seeds:
            folder = f"{prefix}/seed={seed}" if prefix else f"seed={seed}"
            cells.append(Cell(folder, point, seed, dataclasses.replace(config, seeds=(seed,))))
    return cells
