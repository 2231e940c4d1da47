"""Kong 2019's claims C1-C7, each checked on one seed of a run folder (an Outcome per seed).

The measurements (MI trajectories smoothed by a rolling median, cluster series of the recorded
densities) are described in :mod:`infoflow.papers.kong2019.claims`; the thresholds and their
reasons are in :mod:`infoflow.papers.kong2019.thresholds`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from infoflow.analysis.claims import Outcome, outcome
from infoflow.analysis.clusters import ClusterSeries, cluster_series
from infoflow.analysis.trajectories import (
    FALL_MIN_NATS,
    FALL_NOISE_MULTIPLE,
    MIN_PHASE_POINTS,
    Trajectory,
    clustering_change,
    coincidence_window,
    detect_falls,
    end_value,
    first_phase,
    median_between,
    noise_sd,
    smoothed_count,
    true_runs,
    value_nearest,
)
from infoflow.papers.kong2019.thresholds import (
    C1_END_NATS,
    C1_END_TOLERANCE_NATS,
    C1_PEAK_TOLERANCE_NATS,
    C1_STEP_MIN_NATS,
    C2_MIN_CLUSTERS_AT_PEAK,
    C2_MIN_FALL_NATS,
    C3_LOCATION_TOLERANCE_FRACTION,
    C3_MIN_RISE_NATS,
    C4_MIN_FALL_NATS,
    C5_END_TOLERANCE_NATS,
    C5_FIT_FRACTION,
    C5_MIN_SPEARMAN,
    C5_MIN_SPREAD_RATIO,
    C6_END_NATS,
    C6_END_TOLERANCE_NATS,
    C6_MIN_FALL_NATS,
    LOG_4,
)
from infoflow.runs.reader import RunRecord

# ----------------------------------------------------------------------------------------------
# Context
# ----------------------------------------------------------------------------------------------


def _f(value: float, digits: int) -> str:
    """Format a number for a detail line; "n/a" for NaN (a quantity that could not be measured)."""
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


class SeedContext:
    """A run seen from one seed, with cluster series computed once per layer."""

    def __init__(self, run: RunRecord, seed_index: int) -> None:
        self.run = run
        self.seed_index = seed_index
        self.seed = int(run.seeds[seed_index])
        self.window = coincidence_window(run.epochs)
        self._clusters: dict[int, ClusterSeries] = {}

    def trajectory(self, layer: int) -> Trajectory:
        self._require_layer(layer)
        return Trajectory.of(self.run, self.seed_index, layer)

    def clusters(self, layer: int) -> ClusterSeries:
        self._require_layer(layer)
        if layer not in self._clusters:
            self._clusters[layer] = cluster_series(self.run, self.seed, layer)
        return self._clusters[layer]

    def _require_layer(self, layer: int) -> None:
        if layer > self.run.n_layers:
            raise ValueError(f"{self.run.run_dir}: the check needs layer {layer}, the run has {self.run.n_layers}")


def check_c1(context: SeedContext) -> Outcome:
    mi = context.trajectory(1)
    series = context.clusters(1)
    count = smoothed_count(series)
    failures: list[str] = []

    four = first_phase(count, count == 4)
    three = first_phase(count, count == 3, after=four) if four is not None else None
    two = first_phase(count, count == 2, after=three) if three is not None else None
    end_count = int(np.rint(end_value(series.epochs, count)))
    merge_43 = float(series.epochs[three]) if three is not None else float("nan")
    merge_32 = float(series.epochs[two]) if two is not None else float("nan")
    level_4 = level_3 = float("nan")
    if three is not None:
        before_three = mi.epochs < merge_43
        level_4 = float(np.max(mi.smooth[before_three])) if before_three.any() else float("nan")
        three_stop = merge_32 - 1 if two is not None else float(mi.epochs[-1])
        level_3 = median_between(mi.epochs, mi.nats, merge_43, three_stop)
    drop_43 = level_4 - level_3
    drop_32 = level_3 - mi.end_nats if two is not None else float("nan")

    if mi.peak_nats < LOG_4 - C1_PEAK_TOLERANCE_NATS:
        failures.append(f"peak {_f(mi.peak_nats, 3)} < {_f(LOG_4 - C1_PEAK_TOLERANCE_NATS, 3)}")
    if two is None:
        found = (
            "no 4-cluster phase"
            if four is None
            else ("no 3-cluster phase after it" if three is None else "no 2-cluster phase after the 3")
        )
        failures.append(f"cluster counts do not pass 4 -> 3 -> 2 ({found})")
    elif end_count != 2:
        failures.append(f"{end_count} clusters at the end, not 2")
    if three is not None and not drop_43 >= C1_STEP_MIN_NATS:
        failures.append(f"4->3 drop {_f(drop_43, 3)} < {C1_STEP_MIN_NATS}")
    if two is not None and not drop_32 >= C1_STEP_MIN_NATS:
        failures.append(f"3->2 drop {_f(drop_32, 3)} < {C1_STEP_MIN_NATS}")
    if not abs(mi.end_nats - C1_END_NATS) <= C1_END_TOLERANCE_NATS:
        failures.append(f"end {_f(mi.end_nats, 3)} not within {C1_END_TOLERANCE_NATS} of {_f(C1_END_NATS, 3)}")

    summary = (
        f"peak I={_f(mi.peak_nats, 2)} nats at epoch {mi.peak_epoch}; clusters 4->3 at epoch {_f(merge_43, 0)} "
        f"(drop {_f(drop_43, 2)}), 3->2 at epoch {_f(merge_32, 0)} (drop {_f(drop_32, 2)}); end I={_f(mi.end_nats, 2)} "
        f"vs H(3/4,1/4)={_f(C1_END_NATS, 3)}"
    )
    measured = {
        "peak_nats": mi.peak_nats,
        "peak_epoch": float(mi.peak_epoch),
        "merge_4_to_3_epoch": merge_43,
        "merge_3_to_2_epoch": merge_32,
        "drop_4_to_3_nats": drop_43,
        "drop_3_to_2_nats": drop_32,
        "end_nats": mi.end_nats,
        "end_clusters": float(end_count),
    }
    return outcome(context.seed, measured, summary, failures)


def check_c2(context: SeedContext) -> Outcome:
    mi = context.trajectory(1)
    series = context.clusters(1)
    count = smoothed_count(series)
    clusters_at_peak = int(value_nearest(series.epochs, count, mi.peak_epoch))
    end_count = int(np.rint(end_value(series.epochs, count)))
    fall = mi.peak_nats - mi.end_nats
    failures = []
    if clusters_at_peak < C2_MIN_CLUSTERS_AT_PEAK:
        failures.append(f"{clusters_at_peak} clusters at the peak < {C2_MIN_CLUSTERS_AT_PEAK}")
    if not fall >= C2_MIN_FALL_NATS:
        failures.append(f"fall {_f(fall, 3)} < {C2_MIN_FALL_NATS} nats")
    if not end_count < clusters_at_peak:
        failures.append(f"clusters do not merge ({clusters_at_peak} at peak, {end_count} at end)")
    summary = (
        f"peak I={_f(mi.peak_nats, 2)} nats at epoch {mi.peak_epoch} with {clusters_at_peak} clusters; "
        f"end I={_f(mi.end_nats, 2)} (fall {_f(fall, 2)}) with {end_count} clusters"
    )
    measured = {
        "peak_nats": mi.peak_nats,
        "peak_epoch": float(mi.peak_epoch),
        "clusters_at_peak": float(clusters_at_peak),
        "end_nats": mi.end_nats,
        "fall_nats": fall,
        "end_clusters": float(end_count),
    }
    return outcome(context.seed, measured, summary, failures)


def _label_values(config: Mapping[str, Any]) -> tuple[float, float]:
    labels = config.get("labels", {})
    return float(labels.get("below", 0.0)), float(labels.get("above", 0.25))


def check_c3(context: SeedContext) -> Outcome:
    mi = context.trajectory(2)
    series = context.clusters(2)
    count = smoothed_count(series)
    below, above = _label_values(context.run.config)
    tolerance = C3_LOCATION_TOLERANCE_FRACTION * abs(above - below)
    end_count = int(np.rint(end_value(series.epochs, count)))
    failures = []

    # Locations: the latest recorded epoch whose raw count is the end count.
    locations: list[float] = []
    matching = np.flatnonzero(series.count == end_count)
    if end_count == 2 and matching.size:
        locations = sorted(c.location for c in series.clusters[matching[-1]])
    location_errors = (
        [abs(locations[0] - min(below, above)), abs(locations[1] - max(below, above))] if len(locations) == 2 else []
    )
    if end_count != 2:
        failures.append(f"T_2 ends in {end_count} clusters, not 2")
    elif not location_errors or max(location_errors) > tolerance:
        failures.append(
            f"clusters at {', '.join(f'{_f(x, 3)}' for x in locations)} not within {_f(tolerance, 3)} of the labels"
        )

    # The split: start of the last phase with >= 2 clusters (the one that leads to the end state).
    split_epoch = float("nan")
    phases = [(a, b) for a, b in true_runs(count >= 2) if b - a >= MIN_PHASE_POINTS]
    if phases and phases[-1][1] == count.size:
        split_epoch = float(series.epochs[phases[-1][0]])
    before = median_between(mi.epochs, mi.nats, split_epoch - context.window, split_epoch - 1e-9)
    after = median_between(mi.epochs, mi.nats, split_epoch + 1e-9, split_epoch + context.window)
    rise = after - before
    if math.isnan(split_epoch):
        failures.append("no persistent split of T_2 into >= 2 clusters")
    elif not rise >= C3_MIN_RISE_NATS:
        failures.append(f"I(X;T_2) rise across the split {_f(rise, 3)} < {C3_MIN_RISE_NATS} nats")

    shown = ", ".join(f"{_f(x, 3)}" for x in locations) or "-"
    summary = (
        f"T_2 ends in {end_count} clusters at {shown} (labels {below:g}, {above:g}); split at epoch "
        f"{_f(split_epoch, 0)}; I(X;T_2) {_f(before, 2)} -> {_f(after, 2)} nats across it"
    )
    measured = {
        "end_clusters": float(end_count),
        "low_cluster_location": locations[0] if len(locations) == 2 else float("nan"),
        "high_cluster_location": locations[1] if len(locations) == 2 else float("nan"),
        "split_epoch": split_epoch,
        "mi_before_split_nats": before,
        "mi_after_split_nats": after,
        "rise_nats": rise,
    }
    return outcome(context.seed, measured, summary, failures)


def check_c4(context: SeedContext) -> Outcome:
    failures = []
    measured: dict[str, float] = {}
    parts = []
    ends = {}
    for layer in (1, 2):
        mi = context.trajectory(layer)
        series = context.clusters(layer)
        fall = mi.peak_nats - mi.end_nats
        change = clustering_change(series, mi.peak_epoch, float(series.epochs[-1]), context.window)
        ends[layer] = mi.end_nats
        measured |= {
            f"peak_layer{layer}_nats": mi.peak_nats,
            f"peak_layer{layer}_epoch": float(mi.peak_epoch),
            f"end_layer{layer}_nats": mi.end_nats,
            f"fall_layer{layer}_nats": fall,
            f"effective_count_ratio_layer{layer}": change.effective_count_ratio,
            f"spread_ratio_layer{layer}": change.spread_ratio,
        }
        parts.append(
            f"T_{layer}: peak {_f(mi.peak_nats, 2)} at epoch {mi.peak_epoch} -> end {_f(mi.end_nats, 2)} "
            f"(fall {_f(fall, 2)}; clusters x{_f(change.effective_count_ratio, 2)}, spread x{_f(change.spread_ratio, 2)})"
        )
        if not fall >= C4_MIN_FALL_NATS:
            failures.append(f"I(X;T_{layer}) falls only {_f(fall, 3)} < {C4_MIN_FALL_NATS} nats")
        if not change.increased:
            failures.append(f"T_{layer} does not cluster between its MI peak and the end")
    if not ends[2] < ends[1]:
        failures.append(f"end I(X;T_2)={_f(ends[2], 3)} >= end I(X;T_1)={_f(ends[1], 3)}")
    return outcome(context.seed, measured, "; ".join(parts), failures)


def check_c5(context: SeedContext) -> Outcome:
    mi = context.trajectory(1)
    series = context.clusters(1)
    failures = []
    rho = float(spearmanr(mi.epochs, mi.nats).statistic) if np.ptp(mi.nats) > 0 else 0.0
    rho = 0.0 if math.isnan(rho) else rho
    shortfall = mi.peak_nats - mi.end_nats
    start_sd = float(series.total_sd[0])
    end_sd = end_value(series.epochs, series.total_sd)
    spread_ratio = end_sd / start_sd if start_sd > 0 else float("inf")
    reached = np.flatnonzero(mi.nats >= C5_FIT_FRACTION * mi.end_nats)
    fitted_epoch = float(mi.epochs[reached[0]]) if reached.size else float(mi.epochs[0])
    change = clustering_change(series, fitted_epoch, float(series.epochs[-1]), context.window)
    if not shortfall <= C5_END_TOLERANCE_NATS:
        failures.append(f"end I {_f(mi.end_nats, 3)} is {_f(shortfall, 3)} below the max {_f(mi.peak_nats, 3)}")
    if not rho >= C5_MIN_SPEARMAN:
        failures.append(f"Spearman {_f(rho, 2)} < {C5_MIN_SPEARMAN}")
    if not spread_ratio >= C5_MIN_SPREAD_RATIO:
        failures.append(f"s.d. ratio {_f(spread_ratio, 2)} < {C5_MIN_SPREAD_RATIO}")
    if change.increased:
        failures.append(
            f"T_1 clusters after epoch {fitted_epoch:g} (clusters x{_f(change.effective_count_ratio, 2)}, "
            f"spread x{_f(change.spread_ratio, 2)})"
        )
    summary = (
        f"I(X;T_1) {_f(mi.nats[0], 2)} -> end {_f(mi.end_nats, 2)} nats (max {_f(mi.peak_nats, 2)}, Spearman {_f(rho, 2)}); "
        f"s.d.(T_1) {_f(start_sd, 3)} -> {_f(end_sd, 3)} (x{_f(spread_ratio, 1)}); from epoch {fitted_epoch:g}: "
        f"clusters x{_f(change.effective_count_ratio, 2)}, within-cluster spread x{_f(change.spread_ratio, 2)}"
    )
    measured = {
        "end_nats": mi.end_nats,
        "max_nats": mi.peak_nats,
        "spearman": rho,
        "start_sd": start_sd,
        "end_sd": end_sd,
        "spread_ratio": spread_ratio,
        "effective_count_ratio": change.effective_count_ratio,
        "within_spread_ratio": change.spread_ratio,
    }
    return outcome(context.seed, measured, summary, failures)


def check_c6(context: SeedContext) -> Outcome:
    mi = context.trajectory(1)
    series = context.clusters(1)
    count = smoothed_count(series)
    failures = []
    split = first_phase(count, count >= 2)
    split_epoch = float(series.epochs[split]) if split is not None else float("nan")
    fall = mi.peak_nats - mi.end_nats
    if split is None:
        failures.append("the output never splits into 2 clusters")
    elif abs(mi.peak_epoch - split_epoch) > context.window:
        failures.append(
            f"peak {_f(abs(mi.peak_epoch - split_epoch), 0)} epochs from the split (window {_f(context.window, 0)})"
        )
    if not fall >= C6_MIN_FALL_NATS:
        failures.append(f"fall {_f(fall, 3)} < {C6_MIN_FALL_NATS} nats")
    if not abs(mi.end_nats - C6_END_NATS) <= C6_END_TOLERANCE_NATS:
        failures.append(f"end {_f(mi.end_nats, 3)} not within {C6_END_TOLERANCE_NATS} of {C6_END_NATS}")
    summary = (
        f"output splits at epoch {_f(split_epoch, 0)}; peak I={_f(mi.peak_nats, 2)} nats at epoch {mi.peak_epoch}; "
        f"end I={_f(mi.end_nats, 2)} (fall {_f(fall, 2)}) vs ~{C6_END_NATS}"
    )
    measured = {
        "split_epoch": split_epoch,
        "peak_nats": mi.peak_nats,
        "peak_epoch": float(mi.peak_epoch),
        "end_nats": mi.end_nats,
        "fall_nats": fall,
    }
    return outcome(context.seed, measured, summary, failures)


def check_c7(context: SeedContext, layer: int) -> Outcome:
    mi = context.trajectory(layer)
    series = context.clusters(layer)
    threshold = max(FALL_MIN_NATS, FALL_NOISE_MULTIPLE * noise_sd(mi.nats))
    falls = detect_falls(mi.smooth, threshold)
    described = []
    coincided = 0
    for fall in falls:
        change = clustering_change(series, float(mi.epochs[fall.start]), float(mi.epochs[fall.end]), context.window)
        coincided += change.increased
        described.append(
            f"{mi.epochs[fall.start]}->{mi.epochs[fall.end]}: -{_f(fall.size, 2)} nats, "
            f"clusters x{_f(change.effective_count_ratio, 2)}, spread x{_f(change.spread_ratio, 2)} "
            f"{'(clustering)' if change.increased else '(NO clustering)'}"
        )
    failures = [] if coincided == len(falls) else [f"{len(falls) - coincided} fall(s) without clustering"]
    if falls:
        summary = (
            f"{len(falls)} fall(s) > {_f(threshold, 3)} nats, {coincided} with clustering [{'; '.join(described)}]"
        )
    else:
        summary = f"no fall > {_f(threshold, 3)} nats (vacuously true)"
    measured = {"falls": float(len(falls)), "coincided": float(coincided), "fall_threshold_nats": threshold}
    return outcome(context.seed, measured, summary, failures)


SINGLE_CHECKS = {
    "C1": check_c1,
    "C2": check_c2,
    "C3": check_c3,
    "C4": check_c4,
    "C5": check_c5,
    "C6": check_c6,
}
