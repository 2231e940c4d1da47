"""The seed reproduction: run fig2..fig6, draw their figures, check claims C1-C7, write the report.

``reproduce(["fig2", ...], "runs/seed")`` writes ``runs/seed/fig2`` ... (each a run folder) and
``runs/seed/report.md`` + ``report.html``. Run folders already complete are reused, partial ones
are resumed from their checkpoints, so an interrupted reproduction is finished by running the same
command again; nothing already on disk is overwritten.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from infoflow.claims import ClaimResult, check_claims
from infoflow.experiments import load_config, run_experiment, shipped_experiments, with_seeds
from infoflow.plots import plot_run
from infoflow.report import write_report


def reproduce(
    names: Sequence[str] | None,
    out_dir: str | os.PathLike[str],
    *,
    seeds: int | None = None,
    progress: bool = True,
    command: str | None = None,
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
        Show progress on stderr.
    command : str, optional
        The command line, recorded in each run's manifest.

    Returns
    -------
    Path of ``report.md``.
    """
    available = shipped_experiments()
    names = list(names) if names else available
    for name in names:
        if name not in available:
            raise ValueError(f"unknown experiment {name!r}; shipped: {', '.join(available)}")
    configs = {name: load_config(name) for name in names}
    if seeds is not None:
        configs = {name: with_seeds(config, seeds) for name, config in configs.items()}
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")

    run_dirs: dict[str, Path] = {}
    results: list[ClaimResult] = []
    timings: dict[str, float] = {}
    started = time.perf_counter()
    for index, (name, config) in enumerate(configs.items(), start=1):
        if progress:
            print(f"[{index}/{len(configs)}] {name}: {config.description}", file=sys.stderr, flush=True)
        begun = time.perf_counter()
        run_dir = run_experiment(config, out / name, resume=True, progress=progress, command=command)
        timings[name] = time.perf_counter() - begun
        plot_run(run_dir)
        run_dirs[name] = run_dir
        results.extend(check_claims(run_dir))
    timings["total"] = time.perf_counter() - started
    markdown, _ = write_report(out, run_dirs, results, timings={name: timings[name] for name in run_dirs})
    if progress:
        passed = sum(result.passed for result in results)
        print(f"{passed}/{len(results)} claim checks pass; report: {markdown} ({timings['total']:.1f} s)", file=sys.stderr)
    return markdown
