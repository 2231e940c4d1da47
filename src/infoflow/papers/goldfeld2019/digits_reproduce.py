"""``infoflow reproduce goldfeld2019-digits``: the digits CNN experiment over seeds, its figures and report.

Seeds run one per Dask task (``--jobs N`` local worker processes, one thread each, or
``--scheduler`` for a running cluster; one seed or ``jobs=1`` runs in this process) into
``OUT/digits/seed-S`` (a finished seed folder is reused); then ``OUT/digits/figures`` and
``OUT/digits_report.md`` (through the own-files ledger: a report infoflow did not write, or one
edited since, is kept and the new one goes beside it).
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from infoflow.files import write_atomically
from infoflow.own_files import write_own_files
from infoflow.papers.goldfeld2019.digits import run_digits_seed, seed_folder, split_digits
from infoflow.papers.goldfeld2019.digits_analysis import (
    FALL_MIN_NATS,
    GAP_MIN,
    PROXY_SE_MULTIPLE,
    DigitsSeed,
    LayerCompression,
    layer_compression,
    proxy_finding,
    read_seeds,
)
from infoflow.papers.goldfeld2019.digits_figures import plot_digits
from infoflow.papers.goldfeld2019.digits_settings import DIGITS_DEFAULTS, DigitsSettings

REPORT_NAME = "digits_report.md"
FOLDER = "digits"
SETTINGS_FILE = "settings.json"
DEFAULT_SEEDS = 3
LAYER_NAMES = {1: "conv 1 (512)", 2: "conv 2 (256)", 3: "dense (32)", 4: "logits (10)"}


def _check_settings(folder: Path, settings: DigitsSettings) -> None:
    """Record the settings in ``folder/settings.json``; refuse a folder run with other settings."""
    text = json.dumps(asdict(settings), indent=2, sort_keys=True) + "\n"
    path = folder / SETTINGS_FILE
    if path.exists():
        if json.loads(path.read_text(encoding="utf-8")) != json.loads(text):
            raise ValueError(f"{folder} holds seeds run with other settings ({path}); choose another --out")
        return
    folder.mkdir(parents=True, exist_ok=True)
    write_atomically(path, text.encode("utf-8"))


def _run_seeds(
    settings: DigitsSettings, seeds: list[int], folder: Path, jobs: int | None, scheduler: str | None, progress: bool
) -> None:
    """Run every seed whose folder is absent: in this process, or one Dask task per seed."""
    todo = [seed for seed in seeds if not seed_folder(folder, seed).exists()]
    if not todo:
        return
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if scheduler is None and (workers <= 1 or len(todo) == 1):
        for seed in todo:
            started = time.perf_counter()
            run_digits_seed(settings, seed, folder)
            if progress:
                print(f"digits: seed {seed} done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        return
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=min(workers, len(todo)),
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: never clash with another cluster's 8787
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futures = [
            client.submit(run_digits_seed, settings, seed, str(folder.resolve()), key=f"digits-seed-{seed}", pure=False)
            for seed in todo
        ]
        for seed, future in zip(todo, futures):
            future.result()
            if progress:
                print(f"digits: seed {seed} done", file=sys.stderr)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _interval(lower: float, upper: float) -> str:
    return f"[{lower:.2f}, {upper:.2f}]"


def _layer_summary(findings: list[LayerCompression], layer: int) -> str:
    rows = [finding for finding in findings if finding.layer == layer]
    verdicts = ("resolved fall", "unresolved fall", "no fall")
    counts = {verdict: sum(f.verdict == verdict for f in rows) for verdict in verdicts}
    falls = [f.fall_nats for f in rows]
    gaps = [f.gap_change for f in rows]
    return (
        f"| {layer} {LAYER_NAMES.get(layer, '')} | {counts['resolved fall']} | {counts['unresolved fall']} | "
        f"{counts['no fall']} | {np.mean(falls):.3f} ({min(falls):.3f} to {max(falls):.3f}) | "
        f"{np.mean(gaps):+.3f} | {np.mean([f.twin_gap_change for f in rows]):+.3f} | "
        f"{np.mean([f.twin_binned_change for f in rows]):+.3f} |"
    )


def _binning_sentence(seeds: list[DigitsSeed], n_train: int) -> str:
    """Say in which layers the twin's H(Bin(S_l)) never leaves log n (every row in its own cube)."""
    reps = [seed.representations for seed in seeds]
    saturated = []
    for layer in sorted({int(layer) for table in reps for layer in table["layer"].unique()}):
        values = [
            table[(table["net"] == "deterministic") & (table["layer"] == layer) & (table["epoch"] > 0)][
                "binned_entropy_nats"
            ]
            for table in reps
        ]
        if all(len(v) and float(v.min()) >= math.log(n_train) - 0.01 for v in values):
            saturated.append(layer)
    if not saturated:
        return ""
    return (
        f"The twin's binned entropy stays within 0.01 nats of log {n_train} after epoch 0 in layer(s) {saturated}: "
        "there every training row has a cube of its own, so binning sees no compression at this bin size."
    )


def report_text(
    seeds: list[DigitsSeed], settings: DigitsSettings, *, wall_s: float | None = None, ran: int | None = None
) -> str:
    """Return the markdown report of the digits experiment's finished seeds."""
    train_rows, test_rows = split_digits(settings.test_fraction, settings.split_seed)
    findings = [finding for seed in seeds for finding in layer_compression(seed)]
    layers = sorted({finding.layer for finding in findings})
    proxy = proxy_finding(seeds, len(test_rows))
    h_x = math.log(len(train_rows))
    totals = [seed.timings.get("total", math.nan) for seed in seeds]
    cpus = [seed.timings.get("cpu", math.nan) for seed in seeds]
    measuring = [seed.timings.get("measuring", math.nan) for seed in seeds]
    lines = [
        "# The digits CNN experiment (Goldfeld et al. 2019, beyond §6) — infoflow",
        "",
        f"Seeds {[seed.seed for seed in seeds]}. Data: the 8x8 digits shipped with infoflow (1797 rows, "
        f"pixels / 16), a fixed stratified split (split seed {settings.split_seed}): {len(train_rows)} training "
        f"rows, {len(test_rows)} test rows. X is uniform over the training rows: H(X) = log {len(train_rows)} = "
        f"{h_x:.3f} nats, H(Y) <= log 10 = {math.log(10):.3f}.",
        "",
        f"Networks: conv 8@3x3 - tanh - noise (512 units), conv 4@3x3 - tanh - noise (256), dense 32 - tanh - "
        f"noise, dense 10 (logits) - noise; beta = {settings.beta:g} (noise on in training and evaluation). The "
        "deterministic twin has the same layers without noise, the same initial weights (copied), the same "
        f"batches in the same order and the same Adam steps (lr {settings.learning_rate:g}, batch "
        f"{settings.batch_size}, {settings.epochs} epochs, cross-entropy).",
        "",
        f"Measurement (one place: `DigitsSettings`): I(X;T_l), I(T_l;Y) and their bounds at "
        f"{len(settings.measured_epochs())} log-spaced epochs {settings.measured_epochs()} with n_samples = "
        f"{settings.n_samples}, n_conditional = {settings.n_conditional}, n_inputs = {settings.n_inputs} (the "
        "probe's defaults are 1000/1000/500; these fit one seed in 10 minutes on 2 cores). Every epoch, on the "
        "training rows: the cosine statistic of each layer's representation S_l with all noise switched off "
        "(mean cosine similarity of same-class pairs minus that of different-class pairs: the gap), and "
        f"H(Bin(S_l)) with cubes of side {settings.bin_size:.4g}.",
        "",
        f"Time: per seed {', '.join(f'{t:.0f} s' for t in totals)} wall (of which the probe's records "
        f"{', '.join(f'{t:.0f} s' for t in measuring)})"
        + (
            f"; CPU {', '.join(f'{t:.0f} s' for t in cpus)} (one thread: about the wall time on an idle core)"
            if not any(math.isnan(t) for t in cpus)
            else ""
        )
        + ", measured as it ran"
        + (
            f"; this command ran {ran} seed(s), reused {len(seeds) - ran}, in {wall_s:.0f} s wall."
            if wall_s is not None and ran is not None
            else "."
        ),
        "",
        "## 1. Which layers compress?",
        "",
        "A fall of the I(X;T_l) estimate from its peak to the last record counts as **resolved** only when the "
        "lower bound at the peak lies above the upper bound at the end (disjoint intervals: the true value fell, "
        "at the bounds' confidence, >= 95 % per record); a fall inside overlapping intervals is **unresolved** "
        f"(the estimate fell, the truth may not have); a fall below {FALL_MIN_NATS} nats is none.",
        "",
        "| seed | layer | peak epoch | I(X;T) at peak in | end I(X;T) in | fall of the estimate | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in findings:
        lines.append(
            f"| {f.seed} | {f.layer} | {f.peak_epoch} | {f.peak_nats:.3f} {_interval(f.peak_lower, f.peak_upper)} | "
            f"{f.end_nats:.3f} {_interval(f.end_lower, f.end_upper)} | {f.fall_nats:.3f} | {f.verdict} |"
        )
    falling = [f for f in findings if f.verdict != "no fall"]
    resolved = [f for f in findings if f.verdict == "resolved fall"]
    with_clustering = [f for f in falling if f.clusters]
    resolved_layers = sorted({f.layer for f in resolved})
    falling_layers = sorted({f.layer for f in falling} - set(resolved_layers))
    lines += [
        "",
        "**Which layers compress.** "
        + (
            f"Resolved by the bounds in layer(s) {resolved_layers} ({len(resolved)} of {len(findings)} "
            "(seed, layer) pairs). "
            if resolved
            else f"No layer's compression is resolved by the bounds (0 of {len(findings)} (seed, layer) pairs). "
        )
        + (
            f"Layer(s) {falling_layers} show a fall of the estimate that the bounds do not resolve: the truth may "
            "not have fallen."
            if falling_layers
            else ""
        ),
        "",
        "## 2. Does compression coincide with clustering?",
        "",
        "Over each layer's own window (peak epoch -> end), per layer over seeds: how many seeds fall (resolved / "
        "unresolved / not), the mean fall of the estimate, and the change of the cosine gap of the noisy net (noise "
        f"off; more clustering: a rise above {GAP_MIN}), of the twin, and of the twin's H(Bin(S_l)) (what past "
        "work called compression).",
        "",
        "| layer | resolved | unresolved | no fall | fall, nats: mean (range) | noisy gap change | twin gap change "
        "| twin H(Bin) change, nats |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [_layer_summary(findings, layer) for layer in layers]
    lines += [
        "",
        f"**Compression and clustering.** {len(falling)} (seed, layer) pairs show a fall of the estimate "
        f"(resolved or not); in {len(with_clustering)} of them the cosine gap rose over the same window"
        + (f" (gap changes {', '.join(f'{f.gap_change:+.3f}' for f in falling)})." if falling else ".")
        + " "
        + (
            f"In {sum(f.end_nats <= f.end_lower + 1e-9 for f in falling)} of the {len(falling)} the end estimate sits "
            "on its lower bound (sample propagation's own value lay below it and was moved up), so the fall read "
            "there is that of the lower bound. "
            if falling
            else ""
        )
        + _binning_sentence(seeds, len(train_rows)),
        "",
        "## 3. Is the noisy net a faithful proxy of the deterministic one?",
        "",
        "| seed | test error, noisy net (noise on) | test error, deterministic twin |",
        "|---|---|---|",
    ]
    for seed, noisy, twin in zip(seeds, proxy.noisy_errors, proxy.twin_errors):
        lines.append(f"| {seed.seed} | {noisy:.4f} | {twin:.4f} |")
    lines += [
        "",
        f"**Answer.** Mean final test error {np.mean(proxy.noisy_errors):.4f} (noisy) against "
        f"{np.mean(proxy.twin_errors):.4f} (deterministic): difference {proxy.difference:+.4f}, binomial s.e. "
        f"{proxy.std_error:.4f} ({len(test_rows)} test rows x {len(seeds)} seeds): "
        + (
            f"within {PROXY_SE_MULTIPLE:g} s.e., **a faithful proxy** by validation error."
            if proxy.faithful
            else f"beyond {PROXY_SE_MULTIPLE:g} s.e., **not a faithful proxy** by validation error at this beta."
        ),
        "",
        "## Figures",
        "",
        f"Lines: mean over seeds; bands: min to max over the {len(seeds)} seed(s); dashed: the bounds' envelope; "
        "hollow markers: unresolved records.",
        "",
        f"![information per layer]({FOLDER}/figures/digits_information.png)",
        "",
        f"![clustering and errors]({FOLDER}/figures/digits_clustering.png)",
        "",
    ]
    return "\n".join(lines)


def reproduce_digits(
    out_dir: str | os.PathLike[str],
    *,
    seeds: int | None = None,
    settings: DigitsSettings = DIGITS_DEFAULTS,
    progress: bool = True,
    jobs: int | None = None,
    scheduler: str | None = None,
) -> Path:
    """Run (or reuse) seeds 0..seeds-1 into OUT/digits, draw the figures and write OUT/digits_report.md.

    Returns the report's path.
    """
    out = Path(out_dir)
    count = DEFAULT_SEEDS if seeds is None else seeds
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"seeds must be an integer >= 1; got {seeds!r}")
    folder = out / FOLDER
    _check_settings(folder, settings)
    started = time.perf_counter()
    ran = sum(not seed_folder(folder, seed).exists() for seed in range(count))
    _run_seeds(settings, list(range(count)), folder, jobs, scheduler, progress)
    finished = [seed for seed in read_seeds(folder) if seed.seed < count]
    train_rows, _ = split_digits(settings.test_fraction, settings.split_seed)
    plot_digits(finished, folder / "figures", len(train_rows))
    text = report_text(finished, settings, wall_s=time.perf_counter() - started, ran=ran)
    report = write_own_files(out, {REPORT_NAME: text.encode("utf-8")})[REPORT_NAME]
    if progress:
        print(f"digits: report {report}", file=sys.stderr)
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
    """``infoflow reproduce goldfeld2019-digits`` (the registry's target).

    Runs :func:`reproduce_digits` (3 seeds by default); ``command`` is not used.
    """
    if names:
        raise ValueError(f"reproduce goldfeld2019-digits takes no experiment names; got {list(names)}")
    return reproduce_digits(out_dir, seeds=seeds, progress=progress, jobs=jobs, scheduler=scheduler)
