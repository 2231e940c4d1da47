"""Atomic file writes: readers see the old file or the new one, never half of one."""

from __future__ import annotations

import os
from pathlib import Path

# Marks a temporary file beside its target while it is being written.
TEMPORARY_MARK = ".tmp-"


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder, fsync and ``os.replace``."""
    path = Path(path)
    temporary = path.with_name(f"{path.name}{TEMPORARY_MARK}{os.getpid()}")
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
