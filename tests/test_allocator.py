"""The allocator settings of the processes infoflow starts: applied, and they stop the page faults."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from infoflow.allocator import MALLOC_ENVIRONMENT, MMAP_THRESHOLD
from infoflow.sweeps.executor import WORKER_ENVIRONMENT

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# Allocates, fills and frees a 20 MB tensor 30 times; prints the page faults of the last 27 (the
# heap settles in the first rounds).
FAULTS = """
import resource, sys, torch
from infoflow.allocator import tune_this_process
if sys.argv[1] == "tuned":
    assert tune_this_process()
def once():
    tensor = torch.empty(2_500_000, dtype=torch.float64)
    tensor.fill_(1.0)
    del tensor
for _ in range(3):
    once()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(27):
    once()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str, extra_environment: dict[str, str]) -> int:
    # Only the given malloc settings: this process may carry others (Dask's nanny leaves the
    # workers' environment in os.environ once a local cluster has started).
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")}
    environment = {**inherited, **extra_environment}
    out = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, env=environment, check=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only")
def test_tuned_processes_reuse_their_memory_instead_of_faulting_it_in_again() -> None:
    # 20 MB is 4883 pages of 4 KiB: mapped afresh each time, 27 rounds fault ~130,000 times.
    # Dask's worker default (a trim threshold of 64 KiB) maps every such tensor afresh ...
    mapped = faults("plain", {"MALLOC_TRIM_THRESHOLD_": "65536"})
    assert mapped > 27 * 4000
    # ... the tuned process keeps it in its heap: at most a few hundred faults in all.
    assert faults("tuned", {"MALLOC_TRIM_THRESHOLD_": "65536"}) < 1000
    # The same settings given as the environment (as the local workers get them).
    assert faults("plain", MALLOC_ENVIRONMENT) < 1000


def test_local_workers_start_with_the_settings() -> None:
    assert {key: WORKER_ENVIRONMENT[key] for key in MALLOC_ENVIRONMENT} == MALLOC_ENVIRONMENT
    assert 20 * 10**6 < MMAP_THRESHOLD  # a fig5 table of 500 x 1000 x 8 powers (32 MB) stays below it
