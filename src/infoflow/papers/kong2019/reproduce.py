"""The seed reproduction: run fig2..fig6, draw their figures, check claims C1-C7, write the report.

``reproduce(["fig2", ...], "runs/seed")`` writes ``runs/seed/fig2`` ... (each a run folder) and
``runs/seed/report.md`` + ``report.html``. Run folders already complete are reused, partial ones
are resumed from their checkpoints, so an interrupted reproduction is finished by running the same
command again; nothing already on disk is overwritten.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from infoflow.config.schema import ExperimentConfig, load_config, shipped_experiments, with_seeds
from infoflow.papers.kong2019.claims import ClaimResult, check_claims
from infoflow.papers.kong2019.report import write_report
from infoflow.plots.run_figures import plot_run
from infoflow.runs.folder import check_resumable
from infoflow.training.experiment import run_experiment


def _run_one(
    config: ExperimentConfig, run_dir: Path, command: str | None, progress: bool = False
) -> tuple[list[ClaimResult], float]:
    """Run (or finish) one experiment, draw its figures and check its claims; the wall time in s."""
    begun = time.perf_counter()
    run_experiment(config, run_dir, resume=True, progress=progress, command=command)
    plot_run(run_dir)
    return check_claims(run_dir), time.perf_counter() - begun


def _is_finished_run(run_dir: Path) -> bool:
    """True if ``run_dir`` holds a run whose manifest says it completed."""
    try:
        return json.loads((run_dir / "manifest.json").read_text(encoding="utf-8")).get("status") == "complete"
    except (OSError, ValueError, AttributeError):
        return False


def _epochs_done(run_dir: Path) -> int | None:
    """The last epoch written to ``run_dir/metrics.csv`` so far (it is rewritten about once a second)."""
    try:
        with (run_dir / "metrics.csv").open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 256))
            last = handle.read().decode("utf-8", "replace").strip().splitlines()[-1]
        return int(last.split(",")[1])
    except (OSError, IndexError, ValueError):
        return None


def _status_line(running: dict[str, ExperimentConfig], out: Path, elapsed: float) -> str:
    parts = []
    for name, config in running.items():
        epoch = _epochs_done(out / name)
        parts.append(f"{name} {'-' if epoch is None else epoch}/{config.training.epochs}")
    return f"  {' | '.join(parts)}  ({elapsed:.0f} s)"


def reproduce(
    names: Sequence[str] | None,
    out_dir: str | os.PathLike[str],
    *,
    seeds: int | None = None,
    progress: bool = True,
    command: str | None = None,
    jobs: int | None = None,
) -> Path:
    """Run the named shipped experiments and write figures, claim checks and the report.

    Parameters
    ----------
    names : sequence of str or None
        Shipped experiment names (``fig2`` ... ``fig6``); None or empty runs all of them.
    out_dir : path
        Parent folder: each experiment goes to ``out_dir/NAME``, the report to ``out_dir``.
    seeds : int, optional
        Run seeds 0..seeds-1 instead of each config's own seeds.
    progress : bool
        Report each experiment's start and end on stderr.
    command : str, optional
        The command line, recorded in each run's manifest.
    jobs : int, optional
        Experiments run at once, each in its own process on one thread (default: one per CPU
        core). Results do not depend on it: every run uses one thread whatever ``jobs`` is.

    Returns
    -------
    Path of ``report.md``.
    """
    available = shipped_experiments()
    names = list(names) if names else available
    for name in names:
        if name not in available:
            raise ValueError(f"unknown experiment {name!r}; shipped: {', '.join(available)}")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be an integer >= 1; got {jobs!r}")
    configs = {name: load_config(name) for name in names}
    if seeds is not None:
        configs = {name: with_seeds(config, seeds) for name, config in configs.items()}
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")
    for name, config in configs.items():
        check_resumable(config, out / name)

    started = time.perf_counter()
    workers = min(len(configs), jobs or os.cpu_count() or 1)
    outcomes: dict[str, tuple[list[ClaimResult], float]] = {}

    def announce(name: str) -> None:
        if progress:
            done = len(outcomes)
            print(
                f"[{done}/{len(configs)}] {name} done in {outcomes[name][1]:.1f} s "
                f"({time.perf_counter() - started:.1f} s elapsed)",
                file=sys.stderr,
                flush=True,
            )

    if progress:
        print(f"running {', '.join(configs)} ({workers} at a time) into {out}", file=sys.stderr, flush=True)
    if workers == 1:
        for name, config in configs.items():
            outcomes[name] = _run_one(config, out / name, command, progress)
            announce(name)
    else:
        # Separate processes, each on one thread: the runs stay bit-identical to serial ones.
        live = progress and sys.stderr.isatty()
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_run_one, config, out / name, command): name for name, config in configs.items()}
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                if live:
                    print("\r\033[K", end="", file=sys.stderr)
                for future in finished:
                    name = futures[future]
                    outcomes[name] = future.result()
                    announce(name)
                if live and pending:
                    # The experiments not finished yet, oldest first: those are the ones running.
                    running = {futures[f]: configs[futures[f]] for f in futures if f in pending}
                    running = dict(list(running.items())[:workers])
                    print(
                        _status_line(running, out, time.perf_counter() - started), end="", file=sys.stderr, flush=True
                    )

    # The report covers every finished experiment in ``out``, so reproducing a subset into a folder
    # that holds the others adds to its report instead of shrinking it.
    earlier = [name for name in available if name not in configs and _is_finished_run(out / name)]
    for name in earlier:
        outcomes[name] = (check_claims(out / name), float("nan"))
    order = [name for name in available if name in outcomes]
    run_dirs = {name: out / name for name in order}
    results = [result for name in order for result in outcomes[name][0]]
    timings = {name: outcomes[name][1] for name in configs}
    markdown, _ = write_report(out, run_dirs, results, timings=timings)
    if progress:
        passed = sum(result.passed for result in results)
        print(
            f"{passed}/{len(results)} claim checks pass; report: {markdown} ({time.perf_counter() - started:.1f} s)",
            file=sys.stderr,
        )
    return markdown
