"""How accurate is sample propagation on the seed's own networks? Bias and spread against the exact MI.

The study (issue "Ground truth and estimator accuracy"):

1. :func:`snapshot_networks` trains each shipped experiment (its shipped config, seed 0) and keeps
   deep copies of the network at a few epochs chosen to cover the phases the seed's claims are
   about (``PHASE_EPOCHS``: a peak of I(X;T_l), a merge or split, the end state).
2. :func:`accuracy_study` estimates I(X;T_l) by SP on every snapshot ``n_repeats`` times (estimation
   seeds 0..n_repeats-1) for every sample size n, with ``n_samples = n_conditional = n``, and
   compares the estimates with the exact I(X;T_l) of ``truth.true_mutual_information``:
   bias = mean - exact, SD over the repeats, RMSE, seconds per estimate.
3. :func:`samples_needed` turns the rows into the answer to "how many samples do the seed's claims
   need?": for every claim's key MI difference (``CLAIM_EFFECTS``, its size taken from the exact
   MI at the snapshots) the smallest n from which the RMSE of that estimated difference stays
   below a quarter of it (:func:`difference_rmse`).
4. :func:`infoflow.estimators.coverage.coverage_study` (generic, not this paper's): how often the
   bounds of ``measure_information`` hold the truth on cases with exact truth, and how wide they are.
5. :func:`write_accuracy_outputs` writes ``accuracy.csv`` (tidy), ``accuracy.md`` (tables and
   answer), ``accuracy.png`` / ``.svg`` and ``coverage.csv``; :func:`run_accuracy_study` does 1-5
   for the CLI.

What the error contains. For a continuous X (fig4, fig5) E_X h(T_l|X), l >= 2, is the mean over
the config's ``n_inputs`` Monte-Carlo draws of X (500), so its Monte-Carlo error is part of the
measured error and does not shrink with n: it is the floor of the SD at large n for those layers.
Layer 1's conditional entropy is closed form, and a discrete X (fig2, fig3) is averaged exactly
over its support, so there the error is SP's alone.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from infoflow.estimators.coverage import coverage_study
from infoflow.papers.kong2019.accuracy.outputs import (
    CSV_COLUMNS,
    OUTPUT_FILES,
    StudySettings,
    check_output_folder,
    write_accuracy_outputs,
)
from infoflow.papers.kong2019.accuracy.requirements import (
    CLAIM_EFFECTS,
    EFFECT_FRACTION,
    ClaimEffect,
    ClaimRequirement,
    difference_rmse,
    samples_needed,
)
from infoflow.papers.kong2019.accuracy.snapshots import (
    DEFAULT_EXPERIMENTS,
    DEFAULT_FRACTIONS,
    PHASE_EPOCHS,
    STUDY_THREADS,
    Snapshot,
    snapshot_networks,
)
from infoflow.papers.kong2019.accuracy.study import (
    DEFAULT_REPEATS,
    DEFAULT_SAMPLE_SIZES,
    QUICK_REPEATS,
    QUICK_SAMPLE_SIZES,
    AccuracyRow,
    ErrorSummary,
    accuracy_study,
    summarize_errors,
)
from infoflow.threads import torch_threads

__all__ = [
    "CLAIM_EFFECTS",
    "CSV_COLUMNS",
    "DEFAULT_COVERAGE_SEEDS",
    "DEFAULT_EXPERIMENTS",
    "DEFAULT_FRACTIONS",
    "DEFAULT_REPEATS",
    "DEFAULT_SAMPLE_SIZES",
    "EFFECT_FRACTION",
    "OUTPUT_FILES",
    "PHASE_EPOCHS",
    "QUICK_COVERAGE_CASES",
    "QUICK_COVERAGE_SEEDS",
    "QUICK_EXPERIMENTS",
    "QUICK_REPEATS",
    "QUICK_SAMPLE_SIZES",
    "AccuracyRow",
    "ClaimEffect",
    "ClaimRequirement",
    "ErrorSummary",
    "Snapshot",
    "StudySettings",
    "accuracy_study",
    "check_output_folder",
    "difference_rmse",
    "run_accuracy_study",
    "samples_needed",
    "snapshot_networks",
    "summarize_errors",
    "write_accuracy_outputs",
]

# The quick study (CLI --quick, tests): seconds. fig2 is a one-layer network on a discrete X,
# fig4 a two-layer network on a continuous X, so both kinds of conditional entropy are exercised.
QUICK_EXPERIMENTS = ("fig2", "fig4")
# The coverage study: every case of infoflow.estimators.coverage.CASES at DEFAULT_COVERAGE_SEEDS
# estimation seeds; the quick study takes three fast cases (a continuous and a discrete scalar
# chain, a linear net on a Gaussian X) at QUICK_COVERAGE_SEEDS, unless coverage_seeds says otherwise.
DEFAULT_COVERAGE_SEEDS = 20
QUICK_COVERAGE_SEEDS = 2
QUICK_COVERAGE_CASES = ("tanh-tanh", "leaky-discrete", "linear-3-6-4")


def _stderr_line(text: str) -> None:
    print(f"accuracy: {text}", file=sys.stderr, flush=True)


def run_accuracy_study(
    out_dir: str | os.PathLike[str],
    *,
    quick: bool = False,
    force: bool = False,
    progress: bool = True,
    coverage_seeds: int | None = None,
) -> Path:
    """Run the default (or quick) accuracy study and write its outputs into ``out_dir``; return it.

    Parameters
    ----------
    out_dir : path
        A new or empty folder (or any folder with ``force``; see :func:`check_output_folder`).
    quick : bool
        The quick study: ``QUICK_EXPERIMENTS``, n in ``QUICK_SAMPLE_SIZES``, ``QUICK_REPEATS``
        repeats (seconds). Default: ``DEFAULT_EXPERIMENTS``, ``DEFAULT_SAMPLE_SIZES``,
        ``DEFAULT_REPEATS`` (about a minute or two on one core).
    force : bool
        Replace the study's files in a non-empty folder.
    progress : bool
        Print a line per step on stderr (and a tqdm bar during the coverage study).
    coverage_seeds : int, optional
        Estimation seeds per case of the coverage study; 0 skips it (coverage.csv then holds its
        header only). Default: ``DEFAULT_COVERAGE_SEEDS`` on every case, or with ``quick``
        ``QUICK_COVERAGE_SEEDS`` on ``QUICK_COVERAGE_CASES``.
    """
    if coverage_seeds is not None and (
        isinstance(coverage_seeds, bool) or not isinstance(coverage_seeds, int) or coverage_seeds < 0
    ):
        raise ValueError(f"coverage_seeds must be an integer >= 0 (0 skips the coverage study), got {coverage_seeds!r}")
    # Checked before the work, and again before writing, so a bad --out fails in a second.
    check_output_folder(out_dir, force=force)
    experiments = QUICK_EXPERIMENTS if quick else DEFAULT_EXPERIMENTS
    sizes = QUICK_SAMPLE_SIZES if quick else DEFAULT_SAMPLE_SIZES
    repeats = QUICK_REPEATS if quick else DEFAULT_REPEATS
    report = _stderr_line if progress else None
    with torch_threads(STUDY_THREADS):
        started = time.perf_counter()
        snapshots = snapshot_networks(experiments, progress=report)
        trained = time.perf_counter()
        rows = accuracy_study(snapshots, sizes, repeats, progress=report)
        estimated = time.perf_counter()
        if coverage_seeds is None:
            coverage_seeds = QUICK_COVERAGE_SEEDS if quick else DEFAULT_COVERAGE_SEEDS
        coverage = []
        if coverage_seeds > 0:
            cases = list(QUICK_COVERAGE_CASES) if quick else None
            if report is not None:
                report(f"coverage study: {coverage_seeds} estimation seeds per case")
            coverage = coverage_study(cases, coverage_seeds, progress=progress)
        covered = time.perf_counter()
    settings = StudySettings(
        experiments=tuple(experiments),
        sample_sizes=tuple(sizes),
        n_repeats=repeats,
        training_seed=0,
        n_inputs_by_experiment={
            s.experiment: s.n_inputs for s in snapshots if not s.inputs.is_discrete and s.net.n_layers > 1
        },
        seconds_training=trained - started,
        seconds_estimating=estimated - trained,
        quick=quick,
        seconds_coverage=covered - estimated,
    )
    write_accuracy_outputs(rows, out_dir, settings, force=force, coverage=coverage)
    if report is not None:
        report(f"done in {covered - started:.1f} s; wrote {', '.join(OUTPUT_FILES)} into {out_dir}")
    return Path(out_dir)
