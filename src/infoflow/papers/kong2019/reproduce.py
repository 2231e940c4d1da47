"""The seed reproduction: run fig2..fig6, draw their figures, check claims C1-C7, write the report.

``reproduce(["fig2", ...], "runs/seed")`` writes ``runs/seed/fig2`` ... (each a run folder) and
``runs/seed/report.md`` + ``report.html``. The runs go through the sweep machinery
(:func:`infoflow.sweeps.executor.run_tasks`: a Dask LocalCluster, or a running Dask cluster):
one task per (experiment, seed), merged into one run folder per experiment
(:mod:`infoflow.sweeps.seeds`), so the claims (checked per run folder, seed by seed) report k of
K seeds. Run folders already complete are reused, partial ones are resumed from their
checkpoints, so an interrupted reproduction is finished by running the same command again;
nothing already on disk is overwritten, and a report infoflow did not write stays (the new one
goes beside it, :mod:`infoflow.own_files`). The report states this command's wall time and each
run's compute time, as measured.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from infoflow.config.schema import load_config, shipped_experiments, with_seeds
from infoflow.papers.kong2019.claims import CLAIMS_BY_EXPERIMENT, ClaimResult, check_claims
from infoflow.papers.kong2019.report import write_report
from infoflow.plots.run_figures import plot_run
from infoflow.sweeps.executor import RunOutcome, RunsFailed, RunTask, is_complete
from infoflow.sweeps.seeds import run_experiments
from infoflow.training.experiment import check_resumable

# A run's figure the report shows inline; a reused run lacking it gets its figures drawn again.
OVERVIEW_FIGURE = Path("figures") / "overview.png"


def reproduce(
    names: Sequence[str] | None,
    out_dir: str | os.PathLike[str],
    *,
    seeds: int | None = None,
    progress: bool = True,
    command: str | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
) -> Path:
    """Run the named shipped experiments and write figures, claim checks and the report.

    Parameters
    ----------
    names : sequence of str or None
        Shipped experiment names; None or empty runs the seed's figures, ``fig2`` ... ``fig6``.
    out_dir : path
        Parent folder: each experiment goes to ``out_dir/NAME``, the report to ``out_dir``.
    seeds : int, optional
        Run seeds 0..seeds-1 instead of each config's own seeds.
    progress : bool
        Report each experiment's start and end on stderr.
    command : str, optional
        The command line, recorded in each run's manifest.
    jobs : int, optional
        Workers of the local Dask cluster, each running one experiment at a time on one thread
        (default: one per CPU core). Results do not depend on it: every run uses one thread.
    scheduler : str, optional
        Run on this running Dask cluster instead (its address or scheduler file); its workers
        must see ``out_dir`` at the same path.

    Returns
    -------
    Path of ``report.md``.

    Raises
    ------
    RunsFailed
        Some experiments failed (diverged, say); the report covers the others.
    """
    started = time.perf_counter()  # the wall time the report states
    available = shipped_experiments()
    # By default the seed's figures (the experiments with claims); other shipped ones when named.
    names = list(names) if names else [name for name in CLAIMS_BY_EXPERIMENT if name in available]
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
        if (out / name).exists():  # an absent folder is a new run
            check_resumable(config, out / name)

    if progress:
        where = scheduler or f"{min(len(configs), jobs or os.cpu_count() or 1)} local workers"
        print(f"running {', '.join(configs)} on {where} into {out}", file=sys.stderr, flush=True)
    tasks = [RunTask(name, config, out / name) for name, config in configs.items()]
    results_by_name: dict[str, list[ClaimResult]] = {}

    def check(outcome: RunOutcome) -> None:
        # Each experiment's claims are checked as soon as it is finished, while the cluster runs
        # the others (10 seeds: ~1.5 s per experiment, no longer after the last cell).
        if outcome.status == "failed":
            return  # no complete records to check; its folder keeps what it has for a rerun
        if outcome.status == "reused" and not (outcome.run_dir / OVERVIEW_FIGURE).is_file():
            plot_run(outcome.run_dir)
        results_by_name[outcome.label] = check_claims(outcome.run_dir)

    outcomes = run_experiments(
        tasks,
        scheduler=scheduler,
        workers=jobs,
        progress=progress,
        command=command,
        plot=True,
        name="reproduce",
        after=check,
    )
    failed = [outcome for outcome in outcomes if outcome.status == "failed"]

    # The report covers every finished experiment in ``out``, so reproducing a subset into a folder
    # that holds the others adds to its report instead of shrinking it.
    for name in available:
        if name not in configs and is_complete(out / name):
            results_by_name[name] = check_claims(out / name)
    order = [name for name in available if name in results_by_name]
    run_dirs = {name: out / name for name in order}
    results = [result for name in order for result in results_by_name[name]]
    # Times as measured: this command's wall time, and each run's compute time from its manifest.
    markdown, _ = write_report(out, run_dirs, results, wall_seconds=time.perf_counter() - started)
    if progress:
        passed = sum(result.passed for result in results)
        print(
            f"{passed}/{len(results)} claim checks pass; report: {markdown} ({time.perf_counter() - started:.1f} s)",
            file=sys.stderr,
        )
    if failed:
        details = "; ".join(f"{outcome.label}: {outcome.message}" for outcome in failed)
        raise RunsFailed(f"{len(failed)} of {len(tasks)} experiments failed ({details}); the report covers the others")
    return markdown
