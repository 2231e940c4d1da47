"""Does an orthonormality constraint mitigate compression in the SZT experiment, and what does it
cost in test accuracy? (Goldfeld et al. 2019 report that it mitigates compression.)

``compare_orthonormal(OUT)`` runs the shipped ``szt`` and ``szt-orthonormal`` experiments (the
same but for ``training.orthonormal``) on the same seeds into OUT/szt-plain and
OUT/szt-orthonormal, judges compression in every (seed, layer) exactly as the SZT report does
(:func:`~infoflow.papers.goldfeld2019.analysis.layer_findings`) and writes
OUT/orthonormal_report.md. ``infoflow orthonormal --out OUT`` runs it.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from infoflow.config.loading import load_config, with_seeds
from infoflow.config.schema import ExperimentConfig
from infoflow.own_files import write_own_files
from infoflow.papers.goldfeld2019.analysis import (
    COMPRESSION_MIN_NATS,
    COMPRESSION_SE_MULTIPLE,
    LayerFinding,
    layer_findings,
)
from infoflow.runs.reader import read_run
from infoflow.training.experiment import run_experiment

REPORT_NAME = "orthonormal_report.md"
VARIANTS = (("plain", "szt"), ("orthonormal", "szt-orthonormal"))
DEFAULT_SEEDS = 3
# A layer's compression differs between the variants when the difference of the seed means
# exceeds this many standard errors of that difference (from the seeds' spread).
DIFFERENCE_SE_MULTIPLE = 2.0


@dataclasses.dataclass(frozen=True)
class VariantSummary:
    """One variant's results over its seeds.

    Attributes
    ----------
    name : str
        "plain" or "orthonormal".
    alpha : float or None
    findings : list of LayerFinding
        One per (seed, layer): the SZT report's judgement.
    test_accuracy, train_accuracy : dict of int to float
        Final accuracy per seed (test: every epoch's last; train: the last measured epoch's).
    seconds : float
        Training and measuring time of the variant's run (manifest).
    """

    name: str
    alpha: float | None
    findings: list[LayerFinding]
    test_accuracy: dict[int, float]
    train_accuracy: dict[int, float]
    seconds: float

    def layer(self, layer: int) -> list[LayerFinding]:
        """Return the findings of ``layer`` (one per seed)."""
        return [finding for finding in self.findings if finding.layer == layer]


def comparison_configs(
    seeds: int = DEFAULT_SEEDS,
    *,
    alpha: float | None = None,
    epochs: int | None = None,
    points: int | None = None,
    bounds: bool | None = None,
) -> list[tuple[str, ExperimentConfig]]:
    """Return [("plain", szt), ("orthonormal", szt-orthonormal)] on seeds 0..seeds-1 with the overrides.

    Parameters
    ----------
    seeds : int
        Number of seeds, >= 1.
    alpha : float, optional
        The orthonormal variant's step (default: the shipped config's).
    epochs, points : int, optional
        Shorter training, fewer measured epochs (log-spaced); default: the shipped configs'.
    bounds : bool, optional
        Record bounds (default: the shipped configs' true); false makes each measurement ~3x cheaper.
    """
    configs = []
    for variant, name in VARIANTS:
        config = with_seeds(load_config(name), seeds)
        training_changes: dict[str, object] = {}
        if epochs is not None:
            training_changes["epochs"] = epochs
        if alpha is not None and variant == "orthonormal":
            training_changes["orthonormal"] = alpha
        estimation_changes: dict[str, object] = {}
        if points is not None:
            estimation_changes["points"] = points
        if bounds is not None:
            estimation_changes["bounds"] = bounds
        config = dataclasses.replace(
            config,
            training=dataclasses.replace(config.training, **training_changes),
            estimation=config.estimation.replace(**estimation_changes),
        )
        configs.append((variant, config))
    return configs


def summarise(variant: str, run_dir: str | Path) -> VariantSummary:
    """Return a variant's :class:`VariantSummary` from its run folder."""
    run = read_run(run_dir)
    metrics = run.metrics
    test, train = {}, {}
    for seed, rows in metrics.groupby("seed"):
        rows = rows.sort_values("epoch")
        test[int(seed)] = float(rows["accuracy"].dropna().iloc[-1])
        if "train_accuracy" in rows and rows["train_accuracy"].notna().any():
            train[int(seed)] = float(rows["train_accuracy"].dropna().iloc[-1])
        else:
            train[int(seed)] = math.nan
    alpha = run.config.get("training", {}).get("orthonormal")
    seconds = float(run.manifest.get("timings_s", {}).get("total", math.nan))
    return VariantSummary(variant, alpha, layer_findings(metrics), test, train, seconds)


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if array.size > 1 else 0.0


def layer_comparison(plain: VariantSummary, orthonormal: VariantSummary) -> pd.DataFrame:
    """Return one row per layer: compressing seeds and compression (mean, s.d. over seeds) of both, and the verdict.

    Verdict: "mitigated" when the orthonormal mean compression is below the plain one by more than
    ``DIFFERENCE_SE_MULTIPLE`` standard errors of the difference of means, "stronger" when above
    it by as much, else "no clear difference".
    """
    rows = []
    layers = sorted({finding.layer for finding in plain.findings})
    for layer in layers:
        row: dict[str, object] = {"layer": layer}
        stats = {}
        for summary in (plain, orthonormal):
            findings = summary.layer(layer)
            compression = [finding.compression_nats for finding in findings]
            mean, sd = _mean_sd(compression)
            stats[summary.name] = (mean, sd, len(compression))
            row[f"{summary.name}_compressing"] = sum(finding.compresses for finding in findings)
            row[f"{summary.name}_seeds"] = len(findings)
            row[f"{summary.name}_compression_mean"] = mean
            row[f"{summary.name}_compression_sd"] = sd
            row[f"{summary.name}_peak_mean"] = _mean_sd([finding.peak_nats for finding in findings])[0]
            row[f"{summary.name}_end_mean"] = _mean_sd([finding.end_nats for finding in findings])[0]
        (mean_p, sd_p, n_p), (mean_o, sd_o, n_o) = stats[plain.name], stats[orthonormal.name]
        difference = mean_o - mean_p
        difference_se = math.sqrt(sd_p**2 / n_p + sd_o**2 / n_o)
        if difference < -DIFFERENCE_SE_MULTIPLE * difference_se:
            verdict = "mitigated"
        elif difference > DIFFERENCE_SE_MULTIPLE * difference_se:
            verdict = "stronger"
        else:
            verdict = "no clear difference"
        row["difference"] = difference
        row["difference_se"] = difference_se
        row["verdict"] = verdict
        rows.append(row)
    return pd.DataFrame(rows)


def answer_text(table: pd.DataFrame, plain: VariantSummary, orthonormal: VariantSummary) -> str:
    """Return the report's answer, two sentences with numbers."""
    mitigated = table.index[table["verdict"] == "mitigated"].size
    stronger = table.index[table["verdict"] == "stronger"].size
    compressing_p = int(table["plain_compressing"].sum())
    compressing_o = int(table["orthonormal_compressing"].sum())
    pairs = int(table["plain_seeds"].sum())
    test_p, test_p_sd = _mean_sd(list(plain.test_accuracy.values()))
    test_o, test_o_sd = _mean_sd(list(orthonormal.test_accuracy.values()))
    layers = table["layer"].tolist()
    mitigated_layers = [str(layer) for layer, verdict in zip(layers, table["verdict"]) if verdict == "mitigated"]
    stronger_layers = [str(layer) for layer, verdict in zip(layers, table["verdict"]) if verdict == "stronger"]
    if mitigated and not stronger:
        headline = f"Yes, in part: the constraint reduces compression in layer(s) {', '.join(mitigated_layers)}"
    elif mitigated and stronger:
        headline = (
            f"Mixed: the constraint reduces compression in layer(s) {', '.join(mitigated_layers)} and increases it "
            f"in layer(s) {', '.join(stronger_layers)}"
        )
    elif stronger:
        headline = f"No: the constraint increases compression in layer(s) {', '.join(stronger_layers)}"
    else:
        headline = "No: compression is not measurably different with the constraint in any layer"
    return (
        f"{headline} (seed means differing by more than {DIFFERENCE_SE_MULTIPLE:g} s.e.); "
        f"{compressing_p} of {pairs} (seed, layer) pairs compress without it, {compressing_o} of {pairs} with it. "
        f"Final test accuracy: {test_p:.3f} ± {test_p_sd:.3f} without, {test_o:.3f} ± {test_o_sd:.3f} with "
        f"(mean ± s.d. over {len(plain.test_accuracy)} seeds)."
    )


def report_text(
    plain: VariantSummary,
    orthonormal: VariantSummary,
    configs: Sequence[tuple[str, ExperimentConfig]],
    wall_seconds: float | None = None,
) -> str:
    """Return the markdown report comparing the two variants."""
    table = layer_comparison(plain, orthonormal)
    config = configs[0][1]
    shipped = load_config("szt")
    deviations = []
    if config.training.epochs != shipped.training.epochs:
        deviations.append(f"{config.training.epochs} epochs instead of {shipped.training.epochs}")
    if config.estimation.points != shipped.estimation.points:
        deviations.append(f"{config.estimation.points} measured epochs instead of {shipped.estimation.points}")
    if config.estimation.bounds != shipped.estimation.bounds:
        deviations.append("bounds off" if not config.estimation.bounds else "bounds on")
    seeds = list(config.seeds)
    lines = [
        "# Orthonormality and compression in the SZT experiment — infoflow",
        "",
        f"`szt` (plain) against `szt-orthonormal` (after every Adam step A <- A - alpha (A A^T A - A) on every "
        f"weight but the read-out, alpha = {orthonormal.alpha}), seeds {seeds} (per seed both start from the same "
        "initialisation, data and random streams). Compression is judged per (seed, layer) as in the SZT report: the smoothed peak of "
        f"I(X;T_l) minus its end value, significant above max({COMPRESSION_MIN_NATS} nats, "
        f"{COMPRESSION_SE_MULTIPLE:g} s.e.).",
        "",
        "Deviations from the shipped configs: " + ("; ".join(deviations) if deviations else "none") + ".",
        f"Training and measuring took {plain.seconds:.0f} s (plain) and {orthonormal.seconds:.0f} s (orthonormal)"
        + (f", {wall_seconds:.0f} s wall in all" if wall_seconds is not None else "")
        + ".",
        "",
        "## Answer",
        "",
        answer_text(table, plain, orthonormal),
        "",
        "## Per layer",
        "",
        "| layer | plain: seeds compressing | plain: peak → end (nats) | plain: compression, mean ± s.d. | "
        "orthonormal: seeds compressing | orthonormal: peak → end | orthonormal: compression, mean ± s.d. | "
        "difference (s.e.) | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in table.itertuples(index=False):
        lines.append(
            f"| {row.layer} | {row.plain_compressing}/{row.plain_seeds} | {row.plain_peak_mean:.3f} → "
            f"{row.plain_end_mean:.3f} | {row.plain_compression_mean:+.3f} ± {row.plain_compression_sd:.3f} | "
            f"{row.orthonormal_compressing}/{row.orthonormal_seeds} | {row.orthonormal_peak_mean:.3f} → "
            f"{row.orthonormal_end_mean:.3f} | {row.orthonormal_compression_mean:+.3f} ± "
            f"{row.orthonormal_compression_sd:.3f} | {row.difference:+.3f} ({row.difference_se:.3f}) | {row.verdict} |"
        )
    lines += [
        "",
        "## Accuracy at the last epoch",
        "",
        "| variant | test accuracy per seed | test, mean ± s.d. | train accuracy per seed |",
        "|---|---|---|---|",
    ]
    for summary in (plain, orthonormal):
        mean, sd = _mean_sd(list(summary.test_accuracy.values()))
        lines.append(
            f"| {summary.name} | "
            + ", ".join(f"{value:.3f}" for value in summary.test_accuracy.values())
            + f" | {mean:.3f} ± {sd:.3f} | "
            + ", ".join(f"{value:.3f}" for value in summary.train_accuracy.values())
            + " |"
        )
    lines += [
        "",
        "Per (seed, layer) numbers: `infoflow reproduce goldfeld2019`'s analysis on each run folder "
        "(`szt-plain/`, `szt-orthonormal/`), e.g. `infoflow.read_run(DIR / 'szt-orthonormal').metrics`.",
        "",
    ]
    return "\n".join(lines)


def compare_orthonormal(
    out_dir: str | Path,
    *,
    seeds: int = DEFAULT_SEEDS,
    alpha: float | None = None,
    epochs: int | None = None,
    points: int | None = None,
    bounds: bool | None = None,
    progress: bool = True,
    jobs: int | None = None,
) -> Path:
    """Run (or resume) both variants into OUT/szt-plain and OUT/szt-orthonormal and write the report.

    Parameters are those of :func:`comparison_configs`; a finished run folder is reused, an
    unfinished one resumed (with the same settings). ``jobs``: run the (variant, seed) pairs as
    that many parallel Dask worker processes (the seeds merged into each variant's folder, byte
    for byte the serial run's); None or 1: one after the other in this process. Returns the
    report's path.
    """
    out = Path(out_dir)
    configs = comparison_configs(seeds, alpha=alpha, epochs=epochs, points=points, bounds=bounds)
    started = time.perf_counter()
    command = "infoflow orthonormal"
    if jobs is not None and jobs > 1:
        from infoflow.sweeps.executor import RunsFailed, RunTask
        from infoflow.sweeps.seeds import run_experiments

        tasks = [RunTask(f"szt-{variant}", config, out / f"szt-{variant}") for variant, config in configs]
        outcomes = run_experiments(tasks, workers=jobs, progress=progress, command=command, name="orthonormal")
        failed = [outcome for outcome in outcomes if outcome.status == "failed"]
        if failed:
            raise RunsFailed("; ".join(f"{outcome.label}: {outcome.message}" for outcome in failed))
    else:
        for variant, config in configs:
            run_dir = out / f"szt-{variant}"
            run_experiment(config, run_dir, resume=True, missing_ok=True, progress=progress, command=command)
    summaries = {variant: summarise(variant, out / f"szt-{variant}") for variant, _ in configs}
    wall = time.perf_counter() - started
    text = report_text(summaries["plain"], summaries["orthonormal"], configs, wall)
    report = write_own_files(out, {REPORT_NAME: text.encode("utf-8")})[REPORT_NAME]
    if progress:
        print(f"orthonormal: done in {wall:.0f} s; report {report}", file=sys.stderr)
    return report
