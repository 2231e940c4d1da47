"""Checks of arguments at the public boundary, each raising one ValueError that names the argument."""

from __future__ import annotations

import operator
import os
from typing import Any


def integer_at_least(name: str, value: Any, minimum: int) -> int:
    """Return ``value`` as an int if it is an integer >= ``minimum`` (bools refused), else raise ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {number}")
    return number


# A projected peak above this share of the machine's memory is refused before allocating.
MEMORY_SHARE = 0.5
# Used when the machine's memory cannot be read.
FALLBACK_MEMORY_BYTES = 8 * 2**30
# Seeds are stored exactly in metrics.csv's float64 table (and as int64 in densities.npz).
MAX_SEED = 2**53 - 1


def machine_memory() -> int:
    """Return the bytes of memory this process may use: MemTotal, or a smaller cgroup limit.

    Reads /proc/meminfo (else ``os.sysconf``); :data:`FALLBACK_MEMORY_BYTES` when neither works.
    """
    total = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    total = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        total = 0
    if not total:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (OSError, ValueError, AttributeError):
            total = 0
    total = total or FALLBACK_MEMORY_BYTES
    # A container's limit is the real one where it is lower (cgroup v2, then v1).
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, encoding="ascii") as handle:
                text = handle.read().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:
            total = int(text)
    return total


def memory_budget() -> int:
    """Return the largest projected peak, in bytes, that a computation may reach: half the memory."""
    return int(MEMORY_SHARE * machine_memory())


def format_bytes(size: float) -> str:
    """Return ``size`` in bytes as '1.5 GiB' (B, KiB, ... EiB; larger as powers of ten of EiB)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.3g} EiB"


def check_memory(name: str, value: Any, projected_bytes: float, what: str = "") -> None:
    """Raise ValueError naming ``name`` if ``projected_bytes`` exceeds :func:`memory_budget`.

    Parameters
    ----------
    name : str
        The argument or field to blame; ``value`` its value, shown in the message.
    projected_bytes : float
        The projected peak memory of what ``value`` asks for.
    what : str
        What needs that memory (for the message), e.g. "the network's parameters".
    """
    budget = memory_budget()
    if projected_bytes > budget:
        needs = f"{what} would need" if what else "this would need"
        raise ValueError(
            f"{name} = {_short(value)} is too large: {needs} about {format_bytes(projected_bytes)} of memory, "
            f"more than the {format_bytes(budget)} allowed (half of this machine's {format_bytes(machine_memory())})"
        )


def _short(value: Any) -> str:
    text = repr(list(value) if isinstance(value, tuple) else value)
    return text if len(text) <= 60 else text[:57] + "..."
