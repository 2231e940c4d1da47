"""What a run folder holds: which entries are a run's own, whether a folder is a run, and the
one rule every producer of output folders follows before writing (:func:`check_output_folder`).

Producers: ``infoflow run`` (``runs/folder.py``), ``InformationProbe``, sweeps, studies. Nothing
a user put in a folder is ever overwritten: a folder is written into only when it is absent,
empty (a lock file or the temporary files of an interrupted write do not count), or one the
producer recognises as its own.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infoflow.files import TEMPORARY_MARK
from infoflow.runs.format import (
    CONFIG_FILE,
    FIGURE_EXTENSIONS,
    FIGURE_FILE,
    FIGURE_INDEX,
    FIGURES_DIR,
    MANIFEST_FILE,
    RUN_FILES,
)
from infoflow.runs.lock import LOCK_NAME


class FolderOccupied(FileExistsError, ValueError):
    """An output folder holds something and may not be written into (an OSError and a ValueError)."""


# Every name a run writes at its top level; figures/ holds infoflow's figure files only.
RUN_OWNED = (*RUN_FILES, LOCK_NAME)


def indexed_figures(figures_dir: Path) -> set[str]:
    """Return the file names that infoflow's figure index in ``figures_dir`` lists (empty if none)."""
    try:
        stems = (figures_dir / FIGURE_INDEX).read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError):
        return set()
    return {f"{stem}.{extension}" for stem in stems for extension in FIGURE_EXTENSIONS} | {FIGURE_INDEX}


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    """Return ``run_dir``'s manifest if it is a valid infoflow manifest, else None."""
    try:
        manifest = json.loads((run_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and "infoflow_version" in manifest else None


def manifest_problem(run_dir: Path) -> str:
    """Say why ``run_dir`` has no valid manifest, naming the file."""
    path = run_dir / MANIFEST_FILE
    if not path.exists():
        return "it has no manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return f"{path} is unreadable ({type(error).__name__}: {' '.join(str(error).split())})"
    return (
        f"{path} is not an infoflow manifest" if not isinstance(manifest, dict) else f"{path} has no infoflow_version"
    )


def is_scratch_file(name: str) -> bool:
    """Return True for the temporary file of an atomic write (``files.write_atomically``)."""
    return TEMPORARY_MARK in name


def run_entries(run_dir: Path) -> list[Path]:
    """The folder's entries that matter: everything but its lock file and temporary files."""
    if not run_dir.is_dir():
        return []
    return [entry for entry in run_dir.iterdir() if entry.name != LOCK_NAME and not is_scratch_file(entry.name)]


def foreign_entries(run_dir: str | os.PathLike[str]) -> list[str]:
    """Return, sorted, the entries of ``run_dir`` that no run wrote (``figures/x`` for one in figures/).

    A run's own name holding the wrong kind of thing (a folder called metrics.csv) counts too.
    """
    folder = Path(run_dir)
    found: list[str] = []
    for entry in run_entries(folder):
        if entry.name == FIGURES_DIR:
            if not entry.is_dir() or entry.is_symlink():
                found.append("figures")
                continue
            indexed = indexed_figures(entry)
            for figure in entry.iterdir():
                owned = FIGURE_FILE.fullmatch(figure.name) or figure.name in indexed or is_scratch_file(figure.name)
                if not (owned and figure.is_file() and not figure.is_symlink()):
                    found.append(f"figures/{figure.name}")
        elif entry.name not in RUN_OWNED or not entry.is_file() or entry.is_symlink():
            found.append(entry.name + ("/" if entry.is_dir() else ""))
    return sorted(found)


def is_run_folder(path: str | os.PathLike[str]) -> bool:
    """Return True if ``path`` is a folder that infoflow wrote a run into.

    That is: it has a valid manifest.json, or (a run killed before writing its manifest) it
    holds a config.toml and nothing but run files.
    """
    folder = Path(path)
    if not folder.is_dir():
        return False
    if read_manifest(folder) is not None:
        return True
    names = [entry.name for entry in run_entries(folder)]
    return CONFIG_FILE in names and all(name in RUN_OWNED for name in names)


def check_output_folder(
    folder: str | os.PathLike[str],
    *,
    may_reuse: bool | Callable[[Path], bool] = False,
    advice: str = "choose an empty or new folder",
) -> Path:
    """Return ``folder`` as a Path if a producer may write into it, else raise :class:`FolderOccupied`.

    Allowed: a folder that does not exist yet, an empty one (its lock file and temporary files
    aside), or a non-empty one that ``may_reuse`` allows (a bool, or a test of the folder).
    Changes nothing on disk.

    Parameters
    ----------
    folder : path
    may_reuse : bool or callable
        Whether a non-empty folder may be written into (the producer's own rule: ``--force``,
        a resumed run, a sweep folder).
    advice : str
        What the user can do instead; ends the message.
    """
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise FolderOccupied(f"{path} exists and is not a folder; {advice}")
    occupied = sorted(entry.name for entry in run_entries(path))
    if occupied and not (may_reuse(path) if callable(may_reuse) else may_reuse):
        shown = ", ".join(occupied[:3]) + (", ..." if len(occupied) > 3 else "")
        raise FolderOccupied(f"{path} is not empty ({shown}); {advice}")
    return path
