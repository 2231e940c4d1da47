"""The seed's claims (Kong 2019, C1-C7) as checks over run folders.

Everything here reads a run folder (``config.toml``, ``metrics.csv``, ``densities.npz``,
``manifest.json``; see docs/DESIGN.md), never live objects, so old runs can be re-checked.

Two measurements carry the checks:

* the mutual-information trajectory of each layer over its *measured* epochs (runs with MI on a
  schedule leave NaN elsewhere), smoothed by a short rolling median against estimator noise;
* a cluster analysis of each recorded density of T_l on its grid (:func:`find_clusters`), giving per
  epoch the number of clusters, the effective number of clusters exp(H(cluster masses)) and the
  mass-weighted within-cluster spread.

Clustering is measured from the density's shape (merging: fewer effective clusters; tightening:
smaller within-cluster spread), not by its entropy h(T_l): for layer 1, I(X;T_1) = h(T_1) minus a
constant, so "MI falls when h(T_1) falls" would hold by construction and C7 could not fail.

A claim is checked per seed and passes when it passes for a majority of the seeds (k/K reported).
Every threshold is a named module constant with the reason for its value.

"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from infoflow.analysis.clusters import ClusterSeries, cluster_series
from infoflow.analysis.trajectories import (
    EFFECTIVE_COUNT_DROP,
    FALL_MIN_NATS,
    FALL_NOISE_MULTIPLE,
    MIN_PHASE_POINTS,
    SPREAD_DROP,
    Trajectory,
    _first_phase,
    _median_between,
    _nearest,
    _runs,
    clustering_change,
    coincidence_window,
    detect_falls,
    end_value,
    noise_sd,
    smoothed_count,
)
from infoflow.runs.reader import RunRecord, read_run

# ----------------------------------------------------------------------------------------------
# Thresholds
# ----------------------------------------------------------------------------------------------

# Cluster counter. A local maximum of a density is a mode when the valley separating it from any
# higher mode dips to at most (1 - MIN_VALLEY_DEPTH) of its own height (topographic prominence
# >= MIN_VALLEY_DEPTH x height). Two equal bumps of s.d. beta then count as two once they are
# about 3.4 beta apart (at 3.3 beta the valley is 51 % of the peaks), while the ripples that a
# kernel density of n = 1000 samples carries (10-20 % of the local height) are ignored.

# ----------------------------------------------------------------------------------------------
# Thresholds
# ----------------------------------------------------------------------------------------------

# C1 (Figure 2): four equiprobable inputs, so I(X;T_1) <= log 4.
LOG_4 = math.log(4.0)
# The peak must come within this of log 4: four clusters ~4 beta apart already give
# log 4 - 0.1; 0.25 nats allows the residual overlap of a network that has not spread fully.
C1_PEAK_TOLERANCE_NATS = 0.25
# Each merge (4->3 and 3->2) must lower the MI level by this much; the exact drops are
# log 4 - H(1/4,1/4,1/2) = 0.35 and H(1/4,1/4,1/2) - H(3/4,1/4) = 0.48 nats.
C1_STEP_MIN_NATS = 0.1
# End state: two clusters holding 3/4 and 1/4 of the inputs, I = H(3/4, 1/4).
C1_END_NATS = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
# Estimator noise (~0.02 nats) plus the residual spread of the three merged inputs, which can only
# raise I above H(3/4,1/4) by a few hundredths before it is well separated from it.
C1_END_TOLERANCE_NATS = 0.1

# C2 (Figure 3): eight inputs; at the MI peak T_1 should show (nearly) eight clusters. Six allows
# two neighbouring pairs not yet resolved by the counter at the peak.
C2_MIN_CLUSTERS_AT_PEAK = 6
# The fall after the peak must exceed estimator noise clearly: one merge of two of eight
# equiprobable clusters alone costs log 8 - H(1/4, 1/8 x 6) = 0.17 nats.
C2_MIN_FALL_NATS = 0.1

# C3 (Figure 3): each final cluster of T_2 must lie within a quarter of the label gap of its label
# (so it is unambiguously nearer its own label than the other's: 0.0625 for labels 0 and 0.25).
C3_LOCATION_TOLERANCE_FRACTION = 0.25
# The rise of I(X;T_2) across the split must exceed the per-epoch estimator noise.
C3_MIN_RISE_NATS = FALL_MIN_NATS

# C4 (Figure 4): each layer's MI must fall from its peak by at least this much (twice the C7
# noise floor: a fall worth calling compression).
C4_MIN_FALL_NATS = 0.1

# C5 (Figure 5): "keeps increasing": the end value within this of the (smoothed) maximum ...
C5_END_TOLERANCE_NATS = 0.05
# ... and a clearly positive rank correlation between epoch and I(X;T_1).
C5_MIN_SPEARMAN = 0.5
# "more diffuse": the s.d. of T_1 at the end at least this multiple of its s.d. at the start ...
C5_MIN_SPREAD_RATIO = 1.2
# "no clustering" is the negation of what C4 and C7 call clustering (the effective cluster count or
# the within-cluster spread dropping by its threshold), measured from the end of the fitting jump
# (the first epoch at which I(X;T_1) reaches this fraction of its end value) to the end. A mode
# count is not used here: on T_1's broad LeakyReLU density, sampling noise makes spurious modes.
C5_FIT_FRACTION = 0.5

# C6 (Figure 6): converges to ~1 nat; 0.15 nats is the seed's "approximately" (its figure is read
# by eye) plus estimator noise, and still excludes the fully saturated log 2 = 0.69.
C6_END_NATS = 1.0
C6_END_TOLERANCE_NATS = 0.15
C6_MIN_FALL_NATS = 0.1

STATEMENTS: dict[str, str] = {
    "C1": "I(X;T_1) first rises toward log 4, then falls in two steps as the output clusters merge "
    "4 -> 3 and 3 -> 2; the two-cluster end state has I ~ H(3/4,1/4) = 0.56 nats.",
    "C2": "I(X;T_1) peaks when T_1 separates into 8 clusters and falls as they merge.",
    "C3": "T_2 splits into two clusters at the labels 0 and 0.25; I(X;T_2) rises when this happens.",
    "C4": "Tanh-Tanh: I(X;T_1) and I(X;T_2) fall while the representations cluster; I(X;T_2) < I(X;T_1).",
    "C5": "LeakyReLU-Tanh: I(X;T_1) keeps increasing through training; T_1's PDF becomes more diffuse, no clustering.",
    "C6": "I(X;T_1) peaks when the output first splits in two clusters, then falls and converges to ~1 nat.",
    "C7": "Every fall in I(X;T_{layer}) coincides with a measured increase in clustering of T_{layer}.",
}

EXPECTED: dict[str, str] = {
    "C1": f"peak >= log 4 - {C1_PEAK_TOLERANCE_NATS} = {LOG_4 - C1_PEAK_TOLERANCE_NATS:.3f}; "
    f"clusters 4 -> 3 -> 2 with MI drops >= {C1_STEP_MIN_NATS} nats each; "
    f"end I = {C1_END_NATS:.3f} +- {C1_END_TOLERANCE_NATS} nats",
    "C2": f">= {C2_MIN_CLUSTERS_AT_PEAK} clusters of T_1 at the MI peak; end I <= peak - "
    f"{C2_MIN_FALL_NATS} nats; fewer clusters at the end than at the peak",
    "C3": "T_2 ends in 2 clusters, each within a quarter of the label gap of its label; "
    f"I(X;T_2) after the split >= before + {C3_MIN_RISE_NATS} nats",
    "C4": f"each layer: end I <= peak - {C4_MIN_FALL_NATS} nats with clustering increasing "
    "between peak and end; end I(X;T_2) < end I(X;T_1)",
    "C5": f"end I >= max - {C5_END_TOLERANCE_NATS} nats; Spearman(epoch, I) >= {C5_MIN_SPEARMAN}; "
    f"s.d.(T_1) end/start >= {C5_MIN_SPREAD_RATIO}; no clustering of T_1 after the fitting jump "
    f"(neither the effective cluster count drops >= {EFFECTIVE_COUNT_DROP:.0%} nor the within-cluster "
    f"spread >= {SPREAD_DROP:.0%})",
    "C6": "MI peak within the coincidence window of the first 2-cluster split; end I <= peak - "
    f"{C6_MIN_FALL_NATS}; end I = {C6_END_NATS} +- {C6_END_TOLERANCE_NATS} nats",
    "C7": f"every fall > max({FALL_MIN_NATS} nats, {FALL_NOISE_MULTIPLE:g} x noise s.d.) has the "
    f"effective cluster count drop >= {EFFECTIVE_COUNT_DROP:.0%} or the within-cluster spread "
    f"drop >= {SPREAD_DROP:.0%} around it",
}

CLAIMS_BY_EXPERIMENT: dict[str, tuple[str, ...]] = {
    "fig2": ("C1", "C7"),
    "fig3": ("C2", "C3", "C7"),
    "fig4": ("C4", "C7"),
    "fig5": ("C5",),
    "fig6": ("C6", "C7"),
}


# ----------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedOutcome:
    """One claim checked on one seed.

    Attributes
    ----------
    seed : int
    passed : bool
    measured : dict of str to float
        The numbers the check used (nats, epochs, counts, ratios).
    detail : str
        One line with those numbers and, when it failed, why.
    """

    seed: int
    passed: bool
    measured: Mapping[str, float]
    detail: str


@dataclass(frozen=True)
class ClaimResult:
    """One claim checked on one run, across its seeds.

    Attributes
    ----------
    claim : str
        "C1" ... "C7".
    experiment : str
        "fig2" ... "fig6".
    statement : str
        The claim in words.
    passed : bool
        True when the claim passes for a majority of the seeds.
    seeds_passed, seeds_total : int
        k and K.
    per_seed : tuple of SeedOutcome
    detail : str
        One line: k/K and each seed's numbers.
    expected : str
        What the check requires.
    layer : int or None
        The layer a per-layer claim (C7) is about.
    """

    claim: str
    experiment: str
    statement: str
    passed: bool
    seeds_passed: int
    seeds_total: int
    per_seed: tuple[SeedOutcome, ...]
    detail: str
    expected: str
    layer: int | None = None

    @property
    def measured(self) -> dict[int, Mapping[str, float]]:
        """Per-seed measured numbers, keyed by seed."""
        return {outcome.seed: outcome.measured for outcome in self.per_seed}


def _outcome(seed: int, measured: dict[str, float], summary: str, failures: list[str]) -> SeedOutcome:
    detail = summary if not failures else f"{summary} - fails: {'; '.join(failures)}"
    return SeedOutcome(seed=seed, passed=not failures, measured=measured, detail=detail)


def _aggregate(claim: str, experiment: str, outcomes: Sequence[SeedOutcome], layer: int | None = None) -> ClaimResult:
    passed_count = sum(outcome.passed for outcome in outcomes)
    statement = STATEMENTS[claim]
    if layer is not None:
        statement = statement.replace("{layer}", str(layer))
    per_seed = "; ".join(f"seed {o.seed}: {o.detail}" for o in outcomes)
    return ClaimResult(
        claim=claim,
        experiment=experiment,
        statement=statement,
        passed=2 * passed_count > len(outcomes),
        seeds_passed=passed_count,
        seeds_total=len(outcomes),
        per_seed=tuple(outcomes),
        detail=f"{passed_count}/{len(outcomes)} seeds pass; {per_seed}",
        expected=EXPECTED[claim],
        layer=layer,
    )


# ----------------------------------------------------------------------------------------------
# The claims, one seed at a time
# ----------------------------------------------------------------------------------------------


def _f(value: float, digits: int) -> str:
    """Format a number for a detail line; "n/a" for NaN (a quantity that could not be measured)."""
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


class _SeedContext:
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


def _check_c1(context: _SeedContext) -> SeedOutcome:
    mi = context.trajectory(1)
    series = context.clusters(1)
    count = smoothed_count(series)
    failures: list[str] = []

    four = _first_phase(count, count == 4)
    three = _first_phase(count, count == 3, after=four) if four is not None else None
    two = _first_phase(count, count == 2, after=three) if three is not None else None
    end_count = int(np.rint(end_value(series.epochs, count)))
    merge_43 = float(series.epochs[three]) if three is not None else float("nan")
    merge_32 = float(series.epochs[two]) if two is not None else float("nan")
    level_4 = level_3 = float("nan")
    if three is not None:
        before_three = mi.epochs < merge_43
        level_4 = float(np.max(mi.smooth[before_three])) if before_three.any() else float("nan")
        three_stop = merge_32 - 1 if two is not None else float(mi.epochs[-1])
        level_3 = _median_between(mi.epochs, mi.nats, merge_43, three_stop)
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
    return _outcome(context.seed, measured, summary, failures)


def _check_c2(context: _SeedContext) -> SeedOutcome:
    mi = context.trajectory(1)
    series = context.clusters(1)
    count = smoothed_count(series)
    clusters_at_peak = int(_nearest(series.epochs, count, mi.peak_epoch))
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
    return _outcome(context.seed, measured, summary, failures)


def _label_values(config: Mapping[str, Any]) -> tuple[float, float]:
    labels = config.get("labels", {})
    return float(labels.get("below", 0.0)), float(labels.get("above", 0.25))


def _check_c3(context: _SeedContext) -> SeedOutcome:
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
    phases = [(a, b) for a, b in _runs(count >= 2) if b - a >= MIN_PHASE_POINTS]
    if phases and phases[-1][1] == count.size:
        split_epoch = float(series.epochs[phases[-1][0]])
    before = _median_between(mi.epochs, mi.nats, split_epoch - context.window, split_epoch - 1e-9)
    after = _median_between(mi.epochs, mi.nats, split_epoch + 1e-9, split_epoch + context.window)
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
    return _outcome(context.seed, measured, summary, failures)


def _check_c4(context: _SeedContext) -> SeedOutcome:
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
    return _outcome(context.seed, measured, "; ".join(parts), failures)


def _check_c5(context: _SeedContext) -> SeedOutcome:
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
    return _outcome(context.seed, measured, summary, failures)


def _check_c6(context: _SeedContext) -> SeedOutcome:
    mi = context.trajectory(1)
    series = context.clusters(1)
    count = smoothed_count(series)
    failures = []
    split = _first_phase(count, count >= 2)
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
    return _outcome(context.seed, measured, summary, failures)


def _check_c7(context: _SeedContext, layer: int) -> SeedOutcome:
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
    return _outcome(context.seed, measured, summary, failures)


_SINGLE_CHECKS = {
    "C1": _check_c1,
    "C2": _check_c2,
    "C3": _check_c3,
    "C4": _check_c4,
    "C5": _check_c5,
    "C6": _check_c6,
}


def check_claims(run_dir: str | Path, experiment: str | None = None) -> list[ClaimResult]:
    """Return the seed's claims checked on a run folder, one ClaimResult per claim (C7 per layer).

    Parameters
    ----------
    run_dir : path
        A run folder (config.toml, metrics.csv, densities.npz).
    experiment : {"fig2", ..., "fig6"}, optional
        Which experiment's claims apply; default the config's ``name``. A run whose name is none of
        these has no claims (empty list).

    Raises
    ------
    ValueError
        For an unknown ``experiment``, a malformed run folder, or one lacking what a claim needs.
    """
    run = read_run(run_dir)
    name = experiment if experiment is not None else run.name
    if name not in CLAIMS_BY_EXPERIMENT:
        if experiment is not None:
            raise ValueError(f"experiment must be one of {', '.join(CLAIMS_BY_EXPERIMENT)}, got {experiment!r}")
        return []
    contexts = [_SeedContext(run, index) for index in range(run.seeds.size)]
    results = []
    for claim in CLAIMS_BY_EXPERIMENT[name]:
        if claim == "C7":
            for layer in range(1, run.n_layers + 1):
                outcomes = [_check_c7(context, layer) for context in contexts]
                results.append(_aggregate("C7", name, outcomes, layer=layer))
        else:
            outcomes = [_SINGLE_CHECKS[claim](context) for context in contexts]
            results.append(_aggregate(claim, name, outcomes))
    return results
