"""Run the SZT experiment into DIR/szt, draw its figures and write DIR/szt_report.md.

The report says, per layer, whether I(X;T_l) compresses (peak to end, against its standard
error), when, by how much, and whether the clustering statistic falls over the same window, and
checks that no estimate exceeds H(X) = log 4096 beyond its error. Whatever the answer is, it is
reported as measured.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from infoflow.analysis.claims import outcome_of, tally
from infoflow.config.loading import load_config, with_seeds
from infoflow.own_files import write_own_files
from infoflow.papers.goldfeld2019.analysis import (
    CLUSTERING_MIN_NATS,
    COMPRESSION_MIN_NATS,
    COMPRESSION_SE_MULTIPLE,
    H_X_NATS,
    LayerFinding,
    run_findings,
)
from infoflow.papers.goldfeld2019.figures import plot_szt
from infoflow.plots.run_figures import plot_run
from infoflow.runs.reader import read_run
from infoflow.training.experiment import run_experiment

REPORT_NAME = "szt_report.md"


def _verdict(finding: LayerFinding) -> str:
    if not finding.compresses:
        return "no compression"
    if finding.clusters:
        return "compresses, with clustering"
    return "compresses, without clustering"


def _bracket(lower: float, upper: float, resolved: bool | None) -> str:
    """Return "[lo, hi] resolved|unresolved" (or "n/a" for a run without bounds)."""
    if math.isnan(lower):
        return "n/a"
    state = "" if resolved is None else (" resolved" if resolved else " unresolved")
    return f"[{lower:.3f}, {upper:.3f}]{state}"


def report_text(run_dir: str | Path) -> str:
    """Return the markdown report of an SZT run folder."""
    run = read_run(run_dir)
    findings = run_findings(str(run_dir))
    accuracy = run.metrics.groupby("epoch")["accuracy"].mean()
    train = run.metrics.dropna(subset=["train_accuracy"]) if "train_accuracy" in run.metrics else None
    train_accuracy = (
        float(train.groupby("epoch")["train_accuracy"].mean().iloc[-1])
        if train is not None and len(train)
        else float("nan")
    )
    timings = run.manifest.get("timings_s", {})
    lines = [
        "# SZT experiment (Goldfeld et al. 2019, §6) — infoflow",
        "",
        f"Run folder `{Path(run_dir).name}`; seeds {run.seeds.tolist()}; {int(run.epochs.max())} epochs; "
        f"final accuracy: train {train_accuracy:.3f}, test {accuracy.iloc[-1]:.3f}; training and measuring took "
        f"{timings.get('total', float('nan')):.0f} s.",
        "",
        f"Compression: the MI's smoothed peak minus its end value, significant above "
        f"max({COMPRESSION_MIN_NATS} nats, {COMPRESSION_SE_MULTIPLE:g} s.e.). Clustering: H(Bin(S_l)) falls by "
        f">= {CLUSTERING_MIN_NATS} nats over the same window. Ceiling: H(X) = log 4096 = {H_X_NATS:.3f} nats.",
        "Bounds: I(X;T_l) lies in [lower, upper] (all layers jointly, >= 95 % confidence) at the peak "
        "epoch and over the end window; resolved: the estimate is within the target error of both bounds "
        "(README, docs/DESIGN.md \"Bounds that hold at any width\").",
        "",
        "| seed | layer | peak I(X;T) (epoch) | I(X;T) at peak in | end I(X;T) | I(X;T) at end in | compression (s.e.) "
        "| change of H(Bin(S)) | max I <= H(X)? | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for finding in findings:
        lines.append(
            f"| {finding.seed} | {finding.layer} | {finding.peak_nats:.3f} ({finding.peak_epoch}) | "
            f"{_bracket(finding.peak_lower, finding.peak_upper, finding.peak_resolved)} | {finding.end_nats:.3f} | "
            f"{_bracket(finding.end_lower, finding.end_upper, finding.end_resolved)} | "
            f"{finding.compression_nats:+.3f} ({finding.compression_std_error:.3f}) | "
            f"{finding.clustering_change_nats:+.3f} | "
            f"{'yes' if finding.within_ceiling else 'NO'} ({finding.max_nats:.3f} +- {finding.max_std_error:.3f}) | "
            f"{_verdict(finding)} |"
        )
    compressing, pairs = tally(outcome_of(f, "compresses") for f in findings)
    coinciding, _ = tally(outcome_of(f, "coincides") for f in findings)
    within, _ = tally(outcome_of(f, "within_ceiling") for f in findings)
    lines += [
        "",
        f"{compressing} of {pairs} (seed, layer) pairs compress; {coinciding} of those "
        "coincide with clustering. Every estimate within the ceiling: "
        f"{'yes' if within == pairs else 'NO'}.",
        "",
        "![information and clustering](szt/figures/szt_information.png)",
        "",
        "![information plane](szt/figures/information_plane.png)",
        "",
    ]
    return "\n".join(lines)


def reproduce_szt(
    out_dir: str | os.PathLike[str], *, seeds: int | None = None, progress: bool = True, epochs: int | None = None
) -> Path:
    """Run (or resume, or reuse) the shipped ``szt`` experiment into OUT/szt and write OUT/szt_report.md.

    Parameters
    ----------
    out_dir : path
        The output folder; OUT/szt is a run folder (resumed if unfinished, reused if complete).
    seeds : int, optional
        Run seeds 0..seeds-1 instead of the config's.
    progress : bool
        Show the run's progress line.
    epochs : int, optional
        Shorten the run (tests; documented as a deviation in the report's header).

    Returns
    -------
    Path of the report.
    """
    out = Path(out_dir)
    config = load_config("szt")
    if seeds is not None:
        config = with_seeds(config, seeds)
    if epochs is not None:
        config = dataclasses.replace(config, training=dataclasses.replace(config.training, epochs=epochs))
    run_dir = out / "szt"
    started = time.perf_counter()
    run_experiment(
        config, run_dir, resume=True, missing_ok=True, progress=progress, command="infoflow reproduce goldfeld2019"
    )
    plot_run(run_dir)
    plot_szt(run_dir)
    # Never over a file infoflow did not write: then it goes beside it (szt_report-2.md, ...).
    report = write_own_files(out, {REPORT_NAME: report_text(run_dir).encode("utf-8")})[REPORT_NAME]
    if progress:
        print(f"szt: done in {time.perf_counter() - started:.0f} s; report {report}", file=sys.stderr)
    return report


def reproduce(
    names: Sequence[str],
    out_dir: str | os.PathLike[str],
    *,
    seeds: int | None = None,
    progress: bool = True,
    command: str | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
) -> Path:
    """``infoflow reproduce goldfeld2019`` (the registry's target): :func:`reproduce_szt`.

    ``names`` must be empty (the paper has one experiment); ``command``, ``jobs`` and
    ``scheduler`` are not used (one run, in this process).
    """
    if names:
        raise ValueError(f"reproduce goldfeld2019 runs the szt experiment only; got experiment names {list(names)}")
    return reproduce_szt(out_dir, seeds=seeds, progress=progress)
