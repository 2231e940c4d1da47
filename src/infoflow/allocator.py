"""glibc malloc settings for the processes infoflow owns: its command line and its local Dask workers.

A measurement allocates and frees tensors of a few MB to ~30 MB many times per record. glibc's
defaults adapt the size above which a block is mapped afresh from the kernel (128 KiB up to
32 MiB, after frees) and return the heap's top to the kernel past twice that, so how often a run
page-faults depends on the order of its allocations: ``infoflow run fig4`` took from 0.3 to 2.6
million page faults and 0.4 to 5 s of system time from run to run (33.5-41.2 s wall). With the
mapping threshold fixed at its largest value and the heap kept (up to 1 GiB of free top), the same
run takes ~88 thousand faults and 0.3 s every time (32.4-37.0 s).

Only processes infoflow starts are changed (the CLI's own, through ``mallopt``, and the local
workers, through their environment); importing infoflow changes nothing. Elsewhere than glibc
the settings are skipped.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

#: Blocks above this are mapped afresh (glibc's largest allowed value, 32 MiB).
MMAP_THRESHOLD = 32 * 2**20
#: Free memory at the heap's top kept for the next allocations, up to this (1 GiB).
TRIM_THRESHOLD = 2**30
#: Extra memory taken with each heap extension (64 MiB).
TOP_PAD = 64 * 2**20

#: The same settings as environment variables, read by glibc when a process starts.
MALLOC_ENVIRONMENT = {
    "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD),
    "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD),
    "MALLOC_TOP_PAD_": str(TOP_PAD),
}

# mallopt's parameter numbers (malloc.h).
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3


def tune_this_process() -> bool:
    """Apply the settings to the running process (glibc only); return whether they were applied."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        settings = ((_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD), (_M_TOP_PAD, TOP_PAD))
        return all(libc.mallopt(ctypes.c_int(number), ctypes.c_int(value)) == 1 for number, value in settings)
    except (OSError, AttributeError):
        return False
