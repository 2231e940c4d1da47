"""A sweep on a separately started Dask cluster (scheduler + 2 worker processes), one worker killed mid-sweep."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import infoflow.sweeps.executor as executor_module
from infoflow.cli import main
from infoflow.config.loading import load_config
from infoflow.training.experiment import run_experiment

distributed = pytest.importorskip("distributed")

# Long enough (seconds per cell) that a worker is killed while its cell runs, past a checkpoint.
SPEC = """
experiment = "tiny.toml"
seeds = [0, 1]
[set]
"training.epochs" = 500
[grid]
"network.beta" = [0.05, 0.1]
"""
CELLS = [f"network.beta={beta}/seed={seed}" for beta in (0.05, 0.1) for seed in (0, 1)]
START_TIMEOUT_S = 60.0


def _start(arguments: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen([sys.executable, "-m", "dask", *arguments], stdout=handle, stderr=subprocess.STDOUT)


def _wait_for(condition, timeout: float, what: str) -> None:  # noqa: ANN001 - any zero-argument predicate
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture()
def cluster(tmp_path: Path) -> Iterator[tuple[str, object, dict[str, subprocess.Popen[bytes]]]]:
    """A scheduler and two one-thread workers ("w0", "w1"), each its own process; yields (address, client, workers)."""
    scheduler_file = tmp_path / "scheduler.json"
    processes = [
        _start(
            [
                "scheduler",
                "--scheduler-file",
                str(scheduler_file),
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
            ],
            tmp_path / "scheduler.log",
        )
    ]
    client = None
    try:
        _wait_for(scheduler_file.is_file, START_TIMEOUT_S, "the scheduler file")
        workers = {}
        for name in ("w0", "w1"):
            # No nanny: the worker is the process we kill (a nanny would restart it).
            workers[name] = _start(
                [
                    "worker",
                    "--scheduler-file",
                    str(scheduler_file),
                    "--name",
                    name,
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--local-directory",
                    str(tmp_path / f"dask-{name}"),
                ],
                tmp_path / f"{name}.log",
            )
            processes.append(workers[name])
        client = distributed.Client(scheduler_file=str(scheduler_file), timeout=START_TIMEOUT_S)
        client.wait_for_workers(2, timeout=START_TIMEOUT_S)
        address = json.loads(scheduler_file.read_text())["address"]
        yield address, client, workers
    finally:
        if client is not None:
            client.close()
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)


def _busy_cell(client, worker_name: str) -> str | None:  # noqa: ANN001 - a distributed.Client
    """The cell the named worker is running now, if any (task keys end with ':<cell folder>')."""
    names = {address: info.get("name") for address, info in client.scheduler_info()["workers"].items()}
    for address, keys in client.processing().items():
        if names.get(address) == worker_name and keys:
            return str(keys[0]).rsplit(":", 1)[1]
    return None


def test_a_sweep_on_a_cluster_finishes_every_cell_when_a_worker_is_killed(
    cluster, tiny_experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    address, client, workers = cluster
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    out = tmp_path / "sweep"
    sweep = subprocess.Popen(
        [sys.executable, "-m", "infoflow", "sweep", str(spec), "--out", str(out), "--scheduler", address],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # Kill w0 once the cell it runs has a checkpoint: the retried cell must resume from it.
        killed: list[str] = []

        def w0_is_past_a_checkpoint() -> bool:
            cell = _busy_cell(client, "w0")
            if cell is not None and (out / cell / "checkpoint.pt").is_file():
                killed.append(cell)
                return True
            return False

        _wait_for(w0_is_past_a_checkpoint, 120.0, "w0 to run a cell past its first checkpoint")
        workers["w0"].send_signal(signal.SIGKILL)
        workers["w0"].wait(timeout=30)
        stdout, stderr = sweep.communicate(timeout=300)
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()
    assert sweep.returncode == 0, stderr.decode()
    assert stdout.decode().strip() == str(out / "summary.csv")
    assert "4/4 done, 0 running, 0 failed" in stderr.decode()

    cells = pd.read_csv(out / "cells.csv")
    assert list(cells["cell"]) == CELLS and set(cells["status"]) == {"complete"}
    assert len(pd.read_csv(out / "summary.csv")) == 4 * 501
    # The killed cell finished on the other worker, resumed from its checkpoint, and its numbers
    # are those of a run never interrupted.
    killed_dir = out / killed[0]
    assert json.loads((killed_dir / "manifest.json").read_text())["resumed"] >= 1
    uninterrupted = run_experiment(load_config(killed_dir / "config.toml"), tmp_path / "plain", progress=False)
    for name in ("metrics.csv", "densities.npz"):
        assert (killed_dir / name).read_bytes() == (uninterrupted / name).read_bytes()

    # A rerun reuses every cell: fast, nothing rewritten.
    before = {cell: (out / cell / "metrics.csv").stat().st_mtime_ns for cell in CELLS}
    started = time.perf_counter()
    assert main(["sweep", str(spec), "--out", str(out), "--scheduler", address, "--no-progress"]) == 0
    assert time.perf_counter() - started < 10.0
    assert {cell: (out / cell / "metrics.csv").stat().st_mtime_ns for cell in CELLS} == before
    capsys.readouterr()


def test_an_unreachable_scheduler_is_one_line_exit_2(
    tiny_experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executor_module, "CONNECT_TIMEOUT_S", 2)
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace("500", "2"))
    # A port nothing listens on (the OS gives it, then it is closed).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = main(["sweep", str(spec), "--out", str(tmp_path / "out"), "--scheduler", f"tcp://127.0.0.1:{port}"])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and error.startswith("infoflow: error: cannot reach the Dask scheduler at tcp://127.0.0.1:")
