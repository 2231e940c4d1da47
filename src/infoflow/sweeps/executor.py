"""Running many run folders on Dask: a LocalCluster on this machine, or any running Dask cluster.

Each task is :func:`run_cell` (a top-level function, so a remote worker imports it by name) with a
pickled config and an absolute run folder; the folders must be on a file system every worker
sees. A task calls ``run_experiment(config, run_dir, resume=True)``, so:

- a folder already complete is skipped before anything is submitted (a rerun is fast);
- a task whose worker dies is rescheduled by Dask on another worker (the scheduler's
  ``allowed-failures``) and continues from the run's last checkpoint, giving the same numbers,
  byte for byte, as a run never interrupted;
- a run that fails (training diverged, bad data) is reported as failed and the others finish;
  Dask does not retry it, since a failure that is not a lost worker happens again.

Every run uses one torch thread (``run_experiment`` sets it), so a run's numbers are the same on
any worker, in any order, and equal those of ``infoflow run``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infoflow.allocator import MALLOC_ENVIRONMENT
from infoflow.config.experiment import ExperimentConfig
from infoflow.sweeps.progress import CellProgress

# Dask's task retries, for an exception raised outside the run (a worker that cannot unpickle the
# task, say); a lost worker is handled by the scheduler's allowed-failures, not by these.
TASK_RETRIES = 1
CONNECT_TIMEOUT_S = 20

#: The environment a local worker process starts with. Dask's default sets
#: ``MALLOC_TRIM_THRESHOLD_=65536``, which fixes glibc's mmap threshold at 128 KiB: every tensor
#: larger than that is then mapped and unmapped afresh (page faults, zeroing), and the seed
#: reproduction's fig4 took 47 s instead of 34 s per seed in one process (~69 s with two workers
#: faulting at once). Runs hold a few MB to ~30 MB of tensors, not Dask's many small objects:
#: the workers get :mod:`infoflow.allocator`'s settings instead, and one BLAS/OpenMP thread each
#: (runs are single-threaded).
WORKER_ENVIRONMENT = {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1, **MALLOC_ENVIRONMENT}


class RunsFailed(RuntimeError):
    """Some runs failed; the message names each with its reason (the others finished)."""


@dataclass(frozen=True)
class RunTask:
    """One run folder to fill: ``config`` (all its seeds) into ``run_dir``, shown as ``label``."""

    label: str
    config: ExperimentConfig
    run_dir: Path


@dataclass(frozen=True)
class RunOutcome:
    """What became of a task: status "complete" | "reused" | "failed", its wall time, why it failed."""

    label: str
    run_dir: Path
    status: str
    seconds: float | None
    message: str = ""
    worker: str = ""


def is_complete(run_dir: str | os.PathLike[str]) -> bool:
    """Return True if ``run_dir`` holds a run whose manifest says it completed."""
    try:
        manifest = json.loads((Path(run_dir) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("status") == "complete"


def run_cell(config: ExperimentConfig, run_dir: str, command: str | None = None, plot: bool = False) -> dict[str, Any]:
    """Run (or finish) one run folder on a worker; return its outcome as a plain dict.

    Runs ``run_experiment(config, run_dir, resume=True, progress=False)`` (a fresh run when the
    folder is absent) and, with ``plot``, draws
    the run's figures. An exception of the run is returned as ``status="failed"`` rather than
    raised, so Dask does not retry a run that would fail again.
    """
    from infoflow.training.experiment import run_experiment

    worker = f"{socket.gethostname()}:{os.getpid()}"
    started = time.perf_counter()
    try:
        # Resume whatever the folder holds (a retried task continues from the checkpoint); an absent
        # folder is a fresh start.
        resume = Path(run_dir).exists()
        run_experiment(config, run_dir, resume=resume, progress=False, command=command)
        if plot:
            from infoflow.plots.run_figures import plot_run

            plot_run(run_dir)
    except Exception as error:  # noqa: BLE001 - any failure of one run is reported, the others go on
        message = " ".join(f"{type(error).__name__}: {error}".split())
        return {"status": "failed", "seconds": time.perf_counter() - started, "message": message, "worker": worker}
    return {"status": "complete", "seconds": time.perf_counter() - started, "message": "", "worker": worker}


# ----------------------------------------------------------------------------------------------
# The client
# ----------------------------------------------------------------------------------------------


def _client(scheduler: str | None, workers: int, *, name: str) -> tuple[Any, Any]:
    """Return (client, local cluster or None): connected to ``scheduler``, or to a new LocalCluster."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            return Client(scheduler, timeout=CONNECT_TIMEOUT_S, name=name), None
        except (OSError, TimeoutError, ValueError) as error:
            reason = " ".join(str(error).split()) or type(error).__name__
            raise ConnectionError(f"cannot reach the Dask scheduler at {scheduler}: {reason}") from None
    # One thread per worker: runs are single-threaded. One worker runs in this process (no
    # start-up cost); several need processes, since a run holds the GIL.
    import dask

    with dask.config.set({"distributed.nanny.pre-spawn-environ": WORKER_ENVIRONMENT}):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=workers > 1,
            dashboard_address=":0",  # any free port: never clash with another cluster's 8787
            silence_logs=logging.ERROR,
        )
    try:
        return Client(cluster, name=name), cluster
    except BaseException:
        cluster.close()
        raise


def _running_keys(client: Any, keys: set[str]) -> int:
    """Return how many of ``keys`` workers are running now (0 when the scheduler cannot say).

    A worker is sent a little more than it has threads for (Dask's worker saturation), so the
    tasks it is processing are capped at its thread count: the rest are waiting on it.
    """
    try:
        processing = client.processing()
        threads = client.nthreads()
    except Exception:  # noqa: BLE001 - a progress count is never worth failing a sweep
        return 0
    return sum(
        min(threads.get(worker, 1), sum(1 for key in worker_keys if key in keys))
        for worker, worker_keys in processing.items()
    )


def _outcome_of(task: RunTask, future: Any) -> RunOutcome:
    """Return the outcome of a settled future: the task's own report, or why Dask gave up on it."""
    if future.status == "finished":
        result = future.result()
        return RunOutcome(
            task.label, task.run_dir, result["status"], result["seconds"], result["message"], result["worker"]
        )
    try:
        error = future.exception()
        message = " ".join(f"{type(error).__name__}: {error}".split())
    except Exception as problem:  # noqa: BLE001 - a cancelled future raises here
        message = " ".join(f"{type(problem).__name__}: {problem}".split()) or future.status
    return RunOutcome(task.label, task.run_dir, "failed", None, message)


def run_tasks(
    tasks: Sequence[RunTask],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    command: str | None = None,
    plot: bool = False,
    name: str = "sweep",
    on_settled: Callable[[int, RunOutcome], None] | None = None,
) -> list[RunOutcome]:
    """Run every task not already complete on Dask; return one outcome per task, in order.

    Parameters
    ----------
    tasks : sequence of RunTask
        The run folders to fill. Folders must be distinct; a complete one is reused untouched.
    scheduler : str, optional
        The address of a running Dask scheduler (``tcp://host:8786``), or a scheduler file
        (JSON, from ``dask scheduler --scheduler-file``). None: a LocalCluster on this machine.
    workers : int, optional
        Workers of the LocalCluster (default: one per CPU core, at most one per task to run).
        Not allowed with ``scheduler``: a running cluster has its own workers.
    progress : bool
        Show done / running / failed, elapsed time and ETA on stderr.
    command : str, optional
        The command line, recorded in each run's manifest.
    plot : bool
        Draw each run's figures (RUN/figures) on the worker after it ran.
    name : str
        What the progress line calls the work.
    on_settled : callable, optional
        Called in this process as ``on_settled(index, outcome)`` for each task as soon as it
        settles (reused ones first), while the others still run: the caller's follow-up work
        (merging, figures) overlaps the cluster's.

    Raises
    ------
    ValueError
        Bad ``workers``, or both ``workers`` and ``scheduler``.
    ConnectionError
        The scheduler cannot be reached.
    """
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be an integer >= 1; got {workers!r}")
    if workers is not None and scheduler is not None:
        raise ValueError("give either a scheduler (its cluster's workers run the cells) or a number of local workers")
    folders = [task.run_dir.resolve() for task in tasks]
    if len(set(folders)) != len(folders):
        raise ValueError("two tasks share a run folder")
    outcomes: dict[int, RunOutcome] = {}
    for index, task in enumerate(tasks):
        if is_complete(task.run_dir):
            outcomes[index] = RunOutcome(task.label, task.run_dir, "reused", None)
    to_run = [index for index in range(len(tasks)) if index not in outcomes]
    if on_settled is not None:
        for index, outcome in list(outcomes.items()):
            on_settled(index, outcome)
    bar = CellProgress(progress, name, len(tasks), len(outcomes))
    if not to_run:
        bar.update(len(tasks), 0, 0, final=True)
        return [outcomes[index] for index in range(len(tasks))]

    if scheduler is not None and os.path.isfile(scheduler):
        scheduler = _scheduler_address(scheduler)
    n_workers = min(len(to_run), workers or os.cpu_count() or 1)
    client, cluster = _client(scheduler, n_workers, name=f"infoflow-{name}")
    try:
        futures = {}
        tag = uuid.uuid4().hex[:8]
        for index in to_run:
            task = tasks[index]
            key = f"infoflow-{name}-{tag}-{index}:{task.label}"
            future = client.submit(
                run_cell,
                task.config,
                str(task.run_dir.resolve()),
                command,
                plot,
                key=key,
                pure=False,
                retries=TASK_RETRIES,
            )
            futures[future] = index
        _wait(client, futures, tasks, outcomes, bar, on_settled)
    finally:
        bar.close()
        client.close()
        if cluster is not None:
            cluster.close()
    return [outcomes[index] for index in range(len(tasks))]


def _wait(
    client: Any,
    futures: dict[Any, int],
    tasks: Sequence[RunTask],
    outcomes: dict[int, RunOutcome],
    bar: CellProgress,
    on_settled: Callable[[int, RunOutcome], None] | None = None,
) -> None:
    """Collect the futures as they settle, updating ``outcomes`` and the progress line."""
    pending = set(futures)
    keys = {future.key for future in futures}
    running = 0
    last_poll = 0.0
    while pending:
        settled = [future for future in pending if future.done()]
        for future in settled:
            pending.discard(future)
            keys.discard(future.key)
            index = futures[future]
            outcome = _outcome_of(tasks[index], future)
            outcomes[index] = outcome
            if outcome.status == "failed":
                bar.message(f"{bar.name}: {outcome.label} failed: {outcome.message}")
            if on_settled is not None:
                on_settled(index, outcome)
        now = time.perf_counter()
        if now - last_poll >= 1.0 or settled:
            running = _running_keys(client, keys) if pending else 0
            last_poll = now
        done = sum(outcome.status != "failed" for outcome in outcomes.values())
        failed = len(outcomes) - done
        bar.update(done, running, failed, final=not pending)
        if pending:
            time.sleep(0.2)


def _scheduler_address(scheduler_file: str) -> str:
    """Return the address written in a Dask scheduler file."""
    try:
        address = json.loads(Path(scheduler_file).read_text(encoding="utf-8"))["address"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{scheduler_file} is not a Dask scheduler file ({type(error).__name__}: {error})") from None
    return str(address)
