"""The torch thread count for a block of work.

Runs and studies use one thread: on a shared 2-core machine two OpenMP threads made small
operations ~10x slower under contention, and one thread makes results independent of the core count.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def torch_threads(n_threads: int) -> Iterator[None]:
    """Run the block with ``n_threads`` torch threads, restoring the previous count after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
