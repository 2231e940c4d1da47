"""Step 4 of the accuracy study: accuracy.csv, accuracy.md, the figure and coverage.csv, written atomically."""

from __future__ import annotations

import csv
import io
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infoflow.estimators.coverage import CoverageRow, coverage_csv_text, coverage_markdown
from infoflow.files import write_atomically
from infoflow.papers.kong2019.accuracy.requirements import EFFECT_FRACTION, ClaimRequirement, samples_needed
from infoflow.papers.kong2019.accuracy.snapshots import STUDY_THREADS
from infoflow.papers.kong2019.accuracy.study import AccuracyRow
from infoflow.runs.contents import check_output_folder as check_folder

# coverage.csv is always written (only its header when the coverage study is skipped), so --force
# never leaves an older study's coverage beside a new accuracy.md.
OUTPUT_FILES = ("accuracy.csv", "accuracy.md", "accuracy.png", "accuracy.svg", "coverage.csv")
CSV_COLUMNS = (
    "experiment",
    "epoch",
    "phase",
    "layer",
    "n_samples",
    "n_conditional",
    "n_inputs",
    "conditional_entropy",
    "n_repeats",
    "exact_mi_nats",
    "mean_mi_nats",
    "bias_nats",
    "bias_std_error_nats",
    "sd_nats",
    "rmse_nats",
    "seconds_per_estimate",
)
PNG_DPI = 130

@dataclass(frozen=True)
class StudySettings:
    """How a study was run, for the report: sizes, repeats, draws of X, threads, wall time (s)."""

    experiments: tuple[str, ...]
    sample_sizes: tuple[int, ...]
    n_repeats: int
    training_seed: int
    n_inputs_by_experiment: dict[str, int]
    seconds_training: float
    seconds_estimating: float
    quick: bool = False
    seconds_coverage: float = 0.0


def _csv_text(rows: Sequence[AccuracyRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        cells = []
        for column in CSV_COLUMNS:
            value = getattr(row, column)
            cells.append(repr(value) if isinstance(value, float) else value)
        writer.writerow(cells)
    return buffer.getvalue()


def _signed(value: float, digits: int = 4) -> str:
    return f"{value:+.{digits}f}".replace("-", "\u2212")


def _snapshot_keys(rows: Sequence[AccuracyRow]) -> list[tuple[str, int, str, int]]:
    """(experiment, epoch, phase, layer) in the order the rows first mention them."""
    return list(dict.fromkeys((row.experiment, row.epoch, row.phase, row.layer) for row in rows))


def _markdown_table(rows: Sequence[AccuracyRow]) -> list[str]:
    sizes = sorted({row.n_samples for row in rows})
    cell = {(row.experiment, row.epoch, row.layer, row.n_samples): row for row in rows}
    header = ["experiment", "epoch (phase)", "layer", "exact I(X;T) (nats)", *(f"n = {n}" for n in sizes)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * 3 + "---:|" + "---:|" * len(sizes)]
    for experiment, epoch, phase, layer in _snapshot_keys(rows):
        first = cell[(experiment, epoch, layer, sizes[0])]
        cells = [experiment, f"{epoch} ({phase})", str(layer), f"{first.exact_mi_nats:.4f}"]
        for n in sizes:
            row = cell.get((experiment, epoch, layer, n))
            cells.append("" if row is None else f"{_signed(row.bias_nats)} ± {row.sd_nats:.4f}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _timing_table(rows: Sequence[AccuracyRow]) -> list[str]:
    sizes = sorted({row.n_samples for row in rows})
    experiments = list(dict.fromkeys(row.experiment for row in rows))
    lines = [
        "| experiment | " + " | ".join(f"n = {n}" for n in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for experiment in experiments:
        cells = []
        for n in sizes:
            # One value per snapshot (every layer's row of a snapshot repeats it).
            per_snapshot = {
                row.epoch: row.seconds_per_estimate
                for row in rows
                if row.experiment == experiment and row.n_samples == n
            }
            cells.append(f"{float(np.mean(list(per_snapshot.values()))):.4f}" if per_snapshot else "")
        lines.append(f"| {experiment} | " + " | ".join(cells) + " |")
    return lines


def _requirements_text(requirements: Sequence[ClaimRequirement], sizes: Sequence[int], seed_n: int = 1000) -> list[str]:
    largest = max(sizes)
    lines = [
        "## How many samples do the claims need?",
        "",
        (
            f"For each claim's key MI difference a - b (its size from the exact MI at the snapshots), the RMSE of "
            f"the estimated difference: between two epochs, whose estimates a run draws independently, "
            f"sqrt((bias_a - bias_b)^2 + SD_a^2 + SD_b^2); between two layers at one epoch, which share their "
            f"samples, the bound RMSE_a + RMSE_b (true for any correlation); against a constant, RMSE_a. A "
            f"difference counts as resolved at n when that error is at most {EFFECT_FRACTION:g} of it (it then "
            f'stands at least {1 / EFFECT_FRACTION:g} errors away from zero); "n needed" is the smallest studied '
            f"n from which on this holds."
        ),
        "",
    ]
    if not requirements:
        return [*lines, "No claim effect has all its snapshots in this study.", ""]
    shown_n = seed_n if seed_n in sizes else largest
    lines += [
        f"| claim | experiment | difference | exact (nats) | ¼ of it | RMSE of the difference at n = {shown_n} | n needed |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for requirement in requirements:
        effect = requirement.effect
        needed = (
            "not present"
            if requirement.effect_nats <= 0
            else (f"> {largest}" if requirement.n_needed is None else str(requirement.n_needed))
        )
        lines.append(
            f"| {effect.claim} | {effect.experiment} | {effect.description} | {requirement.effect_nats:.3f} | "
            f"{EFFECT_FRACTION * requirement.effect_nats:.3f} | {requirement.error_by_n[shown_n]:.4f} | {needed} |"
        )
    lines.append("")
    lines += _requirements_summary(requirements, sizes, seed_n)
    return lines


def _requirements_summary(requirements: Sequence[ClaimRequirement], sizes: Sequence[int], seed_n: int) -> list[str]:
    """A paragraph generated from the numbers: the largest n needed and whether the seed's n suffices."""
    present = [r for r in requirements if r.effect_nats > 0]
    absent = [r for r in requirements if r.effect_nats <= 0]
    unresolved = [r for r in present if r.n_needed is None]
    resolved = [r for r in present if r.n_needed is not None]
    sentences = []
    if resolved:
        most = max(r.n_needed for r in resolved)
        hardest = "; ".join(
            f"{r.effect.claim} {r.effect.description}, {r.effect_nats:.3f} nats" for r in resolved if r.n_needed == most
        )
        sentences.append(
            f"Every resolved difference needs at most n = {most} samples; those that need {most}: {hardest}."
        )
        easiest = [r for r in resolved if r.n_needed == min(sizes)]
        if easiest:
            claims = sorted({r.effect.claim for r in easiest})
            sentences.append(
                f"{len(easiest)} of {len(present)} differences ({', '.join(claims)}) are already resolved at the "
                f"smallest n studied, {min(sizes)}."
            )
    if unresolved:
        names = "; ".join(f"{r.effect.claim} {r.effect.description}" for r in unresolved)
        sentences.append(f"Not resolved at any studied n (up to {max(sizes)}): {names}.")
    if seed_n in sizes and present:
        enough = [r for r in present if r.n_needed is not None and r.n_needed <= seed_n]
        if len(enough) == len(present):
            sentences.append(f"The seed's n = {seed_n} (n_x = {seed_n}) resolves all {len(present)} of them.")
        else:
            short = "; ".join(f"{r.effect.claim} {r.effect.description}" for r in present if r not in enough)
            sentences.append(f"The seed's n = {seed_n} resolves {len(enough)} of {len(present)}; not: {short}.")
    if absent:
        names = "; ".join(f"{r.effect.claim} {r.effect.description} ({r.effect_nats:+.3f} nats)" for r in absent)
        sentences.append(f"In the exact MI of these snapshots the following expected differences are absent: {names}.")
    return [" ".join(sentences), ""]


def _markdown(
    rows: Sequence[AccuracyRow],
    requirements: Sequence[ClaimRequirement],
    settings: StudySettings,
    coverage: Sequence[CoverageRow] = (),
) -> str:
    sizes = sorted({row.n_samples for row in rows})
    draws = ", ".join(f"{name}: {count}" for name, count in settings.n_inputs_by_experiment.items())
    draws_text = f" ({draws})" if draws else ""
    lines = [
        "# Sample propagation against the exact I(X;T_l)" + (" (quick study)" if settings.quick else ""),
        "",
        (
            f"Networks of the shipped experiments {', '.join(settings.experiments)} (training seed "
            f"{settings.training_seed}) at snapshot epochs; each cell is the bias (mean SP estimate minus the exact "
            f"I(X;T_l) of `truth.true_mutual_information`) ± the standard deviation of the estimates over "
            f"{settings.n_repeats} repeats (estimation seeds 0..{settings.n_repeats - 1}, the same for every snapshot "
            f"and n: rows whose clusters are equally separated can agree to the digit), in nats. Each estimate uses "
            f"n_samples = n_conditional = n. h(T_1|X) is closed form; for layers >= 2 a discrete X is "
            f"averaged exactly over its support, a continuous X over the config's n_inputs Monte-Carlo draws"
            f"{draws_text}, whose Monte-Carlo error is part of the error shown (it does not shrink with n)."
        ),
        "",
        *_markdown_table(rows),
        "",
        (
            "Seconds per estimate (one `mutual_information` call, all layers; mean over snapshots; "
            f"{STUDY_THREADS} torch thread on a {os.cpu_count()}-core {platform.machine()} machine):"
        ),
        "",
        *_timing_table(rows),
        "",
        (
            f"Run time: {settings.seconds_training:.1f} s training the snapshots, {settings.seconds_estimating:.1f} s "
            f"estimating ({len(rows)} rows over {len(sizes)} sample sizes)."
        ),
        "",
        *_requirements_text(requirements, sizes),
        coverage_markdown(list(coverage)),
        *(
            [f"Coverage study: {settings.seconds_coverage:.1f} s.", ""]
            if coverage
            else []
        ),
        (
            "Files: `accuracy.csv` (every number, tidy), `accuracy.png` / `accuracy.svg` (|bias| and SD against n), "
            "`coverage.csv` (the coverage table, tidy; only its header when the coverage study was skipped)."
        ),
        "",
    ]
    return "\n".join(lines)


def _figure_bytes(rows: Sequence[AccuracyRow]) -> dict[str, bytes]:
    """Return the |bias| and SD against n plot, encoded as {"png": ..., "svg": ...}."""
    # Imported here: matplotlib costs ~1 s to import and only the outputs need it.
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    figure = Figure(figsize=(11.0, 4.6), layout="constrained")
    bias_axes, sd_axes = figure.subplots(1, 2, sharex=True, sharey=True)
    experiments = list(dict.fromkeys(row.experiment for row in rows))
    colours = {name: f"C{index % 10}" for index, name in enumerate(experiments)}
    final_epoch = {name: max(row.epoch for row in rows if row.experiment == name) for name in experiments}
    legend: list[Line2D] = []
    for experiment, epoch, _phase, layer in _snapshot_keys(rows):
        series = sorted(
            (row for row in rows if (row.experiment, row.epoch, row.layer) == (experiment, epoch, layer)),
            key=lambda r: r.n_samples,
        )
        n = np.array([row.n_samples for row in series], dtype=np.float64)
        bias = np.abs([row.bias_nats for row in series])
        sd = np.array([row.sd_nats for row in series])
        # An estimate equal to the truth (e.g. an untrained network, I = 0) has nothing to draw on a log axis.
        bias = np.where(bias > 0, bias, np.nan)
        sd = np.where(sd > 0, sd, np.nan)
        is_final = epoch == final_epoch[experiment]
        style = {
            "color": colours[experiment],
            "linestyle": "-" if layer == 1 else "--",
            "linewidth": 2.0 if is_final else 0.8,
            "alpha": 1.0 if is_final else 0.45,
        }
        bias_axes.plot(n, bias, **style)
        sd_axes.plot(n, sd, marker="o" if is_final else None, markersize=4, **style)
        if is_final:
            # Hollow: |bias| within 2 standard errors of zero, not distinguishable from no bias.
            significant = np.abs([row.bias_nats for row in series]) > 2 * np.array(
                [row.bias_std_error_nats for row in series]
            )
            bias_axes.plot(n[significant], bias[significant], "o", color=colours[experiment], markersize=4)
            bias_axes.plot(
                n[~significant],
                bias[~significant],
                "o",
                markerfacecolor="white",
                color=colours[experiment],
                markersize=4,
            )
            legend.append(Line2D([], [], label=f"{experiment} T{layer} (epoch {epoch})", **style))
    sizes = np.array(sorted({row.n_samples for row in rows}), dtype=np.float64)
    for axes, values in ((bias_axes, [abs(r.bias_nats) for r in rows]), (sd_axes, [r.sd_nats for r in rows])):
        positive = np.array([v for v in values if v > 0])
        anchor = float(np.max(positive)) if positive.size else 1.0
        axes.plot(sizes, anchor * np.sqrt(sizes[0] / sizes), color="0.35", linestyle=(0, (6, 3)), linewidth=1.0)
        axes.plot(sizes, anchor * sizes[0] / sizes, color="0.35", linestyle=":", linewidth=1.2)
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("n = n_samples = n_conditional")
        axes.grid(True, which="major", alpha=0.3)
    bias_axes.set_ylabel("nats")
    bias_axes.set_title("|bias| of SP (hollow: within 2 s.e. of 0)")
    sd_axes.set_title("SD of SP over repeats")
    legend += [
        Line2D([], [], color="0.35", linestyle=(0, (6, 3)), label="∝ 1/√n"),
        Line2D([], [], color="0.35", linestyle=":", label="∝ 1/n"),
        Line2D([], [], color="0.3", linewidth=0.8, alpha=0.45, label="earlier snapshots (thin)"),
    ]
    figure.legend(handles=legend, loc="outside right center", fontsize=8, frameon=False)
    figure.suptitle("Sample-propagation error against the exact I(X;T_l): solid layer 1, dashed layer 2")
    encoded = {}
    for extension in ("png", "svg"):
        buffer = io.BytesIO()
        figure.savefig(buffer, format=extension, dpi=PNG_DPI)
        encoded[extension] = buffer.getvalue()
    return encoded


def check_output_folder(out_dir: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Return ``out_dir`` as a Path if the study may write into it.

    Allowed: a folder that does not exist yet, an empty one, or (``force``) any folder, in which
    only the study's own files (``OUTPUT_FILES``) are replaced; other files are never touched.

    Raises
    ------
    FileExistsError
        ``out_dir`` is a file, or a non-empty folder without ``force``.
    """
    advice = (
        "results on disk are never overwritten: choose an empty or new --out, "
        f"or pass --force to replace its {', '.join(OUTPUT_FILES)}"
    )
    return check_folder(out_dir, may_reuse=force, advice=advice)


def write_accuracy_outputs(
    rows: Sequence[AccuracyRow],
    out_dir: str | os.PathLike[str],
    settings: StudySettings,
    *,
    force: bool = False,
    coverage: Sequence[CoverageRow] = (),
) -> list[Path]:
    """Write accuracy.csv, .md, .png, .svg and coverage.csv into ``out_dir``; return their paths.

    ``coverage`` holds the rows of :func:`infoflow.estimators.coverage.coverage_study` (empty: the
    coverage study was skipped; coverage.csv then holds its header only).

    Every file is written atomically (temporary file in the same folder, fsync, ``os.replace``).
    The folder must pass :func:`check_output_folder`.
    """
    if not rows:
        raise ValueError("rows must hold at least one AccuracyRow")
    folder = check_output_folder(out_dir, force=force)
    requirements = samples_needed(rows)
    # Everything is rendered before the first file is written, so a failure writes nothing.
    contents = {
        "accuracy.csv": _csv_text(rows).encode("utf-8"),
        "accuracy.md": _markdown(rows, requirements, settings, coverage).encode("utf-8"),
        **{f"accuracy.{extension}": data for extension, data in _figure_bytes(rows).items()},
        "coverage.csv": coverage_csv_text(list(coverage)).encode("utf-8"),
    }
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in OUTPUT_FILES:
        write_atomically(folder / name, contents[name])
        written.append(folder / name)
    return written
