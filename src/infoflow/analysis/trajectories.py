"""Trajectories of a quantity over measured epochs: smoothing, end values, falls, coincidence."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from infoflow.analysis.clusters import ClusterSeries
from infoflow.runs.reader import RunRecord

# ----------------------------------------------------------------------------------------------
# Thresholds
# ----------------------------------------------------------------------------------------------

# Cluster counter. A local maximum of a density is a mode when the valley separating it from any
# higher mode dips to at most (1 - MIN_VALLEY_DEPTH) of its own height (topographic prominence
# >= MIN_VALLEY_DEPTH x height). Two equal bumps of s.d. beta then count as two once they are
# about 3.4 beta apart (at 3.3 beta the valley is 51 % of the peaks), while the ripples that a
# kernel density of n = 1000 samples carries (10-20 % of the local height) are ignored.

# Trajectories. The sample-propagation estimate of I(X;T_l) moves by ~0.02-0.03 nats from epoch
# to epoch through the redrawn samples alone; a centred rolling median over this many measured
# points removes such single-epoch noise without shifting steps.
SMOOTHING_POINTS = 5
# The end state of a quantity is its median over the measured epochs in the last END_FRACTION of
# the run's epoch span: robust to one epoch's noise when MI is measured every epoch, and, when it
# is measured on a log schedule (few late points), no older than a tenth of the run, so a still
# rising curve is not pulled down by points from long before the end.
END_FRACTION = 0.1
# Two events "coincide" when they are within this fraction of the run's epoch span (at least
# MIN_WINDOW_EPOCHS epochs): MI and the density are recorded on the same epochs, but a fall is
# spread over many epochs and the cluster counter flags a merge part-way through it.
WINDOW_FRACTION = 0.1
MIN_WINDOW_EPOCHS = 3.0
# A cluster-count phase (e.g. "3 clusters") must last this many recorded epochs to count, so a
# count flickering at a transition does not create phases.
MIN_PHASE_POINTS = 3

# C7 fall detection: a fall is a peak-to-trough swing of the smoothed I(X;T_l) larger than
# max(FALL_MIN_NATS, FALL_NOISE_MULTIPLE x the per-epoch noise s.d.), the noise being estimated
# from the series itself (MAD of second differences, which removes any smooth trend).
# 0.05 nats is about twice the per-epoch estimator noise at n = 1000 samples. The largest
# drawdown of pure i.i.d. noise after the rolling median is, at the 99th percentile, 3.3 sigma
# over 60 points, 3.9 over 1000, 4.3 over 3000 (simulated, 300 series each): 4.5 sigma keeps
# noise from being read as a fall.
FALL_MIN_NATS = 0.05
FALL_NOISE_MULTIPLE = 4.5
# Clustering increases over a fall when, comparing the smoothed density statistics at the
# fall's start (within the window before it) with those at its end (within the window after),
# the effective number of clusters drops by >= EFFECTIVE_COUNT_DROP (merging; a merge of two of
# eight equal clusters is -16 %, of two of four -29 %; sampling noise in the cluster masses is a
# few %) or the within-cluster spread drops by >= SPREAD_DROP (tightening of clusters, e.g. a tanh
# unit saturating; the spread of a cluster of ~500 samples is known to ~3 %).
EFFECTIVE_COUNT_DROP = 0.10
SPREAD_DROP = 0.15


# ----------------------------------------------------------------------------------------------
# Series helpers
# ----------------------------------------------------------------------------------------------


def rolling_median(values: np.ndarray, points: int = SMOOTHING_POINTS) -> np.ndarray:
    """Return the centred rolling median of a series, shape (n,).

    Near the ends the window stays centred and shrinks to fit (the first and last values are kept
    as they are): a one-sided window would drag the ends of a trend towards their neighbours.
    """
    values = np.asarray(values, dtype=np.float64)
    half = points // 2
    smooth = values.copy()
    if values.size > 2 * half and half > 0:
        windows = np.lib.stride_tricks.sliding_window_view(values, 2 * half + 1)
        smooth[half : values.size - half] = np.median(windows, axis=1)
    for index in [*range(min(half, values.size)), *range(max(values.size - half, 0), values.size)]:
        reach = min(index, values.size - 1 - index, half)
        smooth[index] = np.median(values[index - reach : index + reach + 1])
    return smooth


def end_value(epochs: np.ndarray, values: np.ndarray) -> float:
    """Return the median of the values over the last END_FRACTION of the epoch span (NaN if empty).

    Parameters
    ----------
    epochs : ndarray of shape (n,), increasing
    values : ndarray of shape (n,)
    """
    epochs = np.asarray(epochs, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return float("nan")
    start = epochs[-1] - END_FRACTION * (epochs[-1] - epochs[0])
    return float(np.median(values[epochs >= start]))


def noise_sd(values: np.ndarray) -> float:
    """Return a robust estimate of the per-point noise s.d. of a series (nats).

    1.4826 x MAD of the second differences / sqrt(6): second differences cancel any locally
    linear trend, and for i.i.d. noise their variance is 6 sigma^2.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size < 4:
        return 0.0
    second = np.diff(values, n=2)
    return float(1.4826 * np.median(np.abs(second - np.median(second))) / math.sqrt(6.0))


class Fall(NamedTuple):
    """A fall of a series: indices where it starts and ends, and its size (peak - trough)."""

    start: int
    end: int
    size: float


def detect_falls(values: np.ndarray, threshold: float) -> list[Fall]:
    """Return every fall of a series larger than ``threshold``.

    A zig-zag scan: a fall begins at a running maximum once the series is ``threshold`` below it,
    and reaches its trough at the lowest point before the series rebounds by ``threshold`` (or
    ends). On the plateaus either side the extremes are placed by noise alone, so the fall is
    then trimmed to where it really moves: it starts at the last point within ``threshold``/2 of
    the peak and ends at the first point within ``threshold``/2 of the trough.
    """
    values = np.asarray(values, dtype=np.float64)
    extremes: list[tuple[int, int]] = []
    peak = trough = 0
    falling = False
    for index, value in enumerate(values):
        if not falling:
            if value > values[peak]:
                peak = index
            elif values[peak] - value >= threshold:
                falling, trough = True, index
        elif value < values[trough]:
            trough = index
        elif value - values[trough] >= threshold:
            extremes.append((peak, trough))
            falling, peak = False, index
    if falling:
        extremes.append((peak, trough))
    falls = []
    for peak, trough in extremes:
        stretch = values[peak : trough + 1]
        start = peak + int(np.flatnonzero(stretch >= values[peak] - threshold / 2)[-1])
        end = peak + int(np.flatnonzero(stretch <= values[trough] + threshold / 2)[0])
        falls.append(Fall(start, max(end, start), float(values[peak] - values[trough])))
    return falls


def coincidence_window(epochs: np.ndarray) -> float:
    """Return the coincidence window in epochs for a run spanning ``epochs``."""
    span = float(epochs[-1] - epochs[0]) if len(epochs) else 0.0
    return max(MIN_WINDOW_EPOCHS, WINDOW_FRACTION * span)


def _select(epochs: np.ndarray, low: float, high: float, fallback: float) -> np.ndarray:
    """Boolean mask of epochs in [low, high]; the single epoch nearest ``fallback`` if none."""
    mask = (epochs >= low) & (epochs <= high)
    if not mask.any():
        mask = np.zeros(epochs.shape, dtype=bool)
        mask[int(np.argmin(np.abs(epochs - fallback)))] = True
    return mask


def median_between(epochs: np.ndarray, values: np.ndarray, low: float, high: float) -> float:
    """Median of values at epochs in [low, high] (NaN if none)."""
    mask = (epochs >= low) & (epochs <= high)
    return float(np.median(values[mask])) if mask.any() else float("nan")


def value_nearest(epochs: np.ndarray, values: np.ndarray, epoch: float) -> Any:
    """Return the value at the epoch nearest ``epoch``."""
    return values[int(np.argmin(np.abs(epochs - epoch)))]


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Return (start, stop) index pairs (stop exclusive) of the True runs of a boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def first_phase(count: np.ndarray, condition: np.ndarray, after: int = -1) -> int | None:
    """Index where the first run of ``condition`` (at index > after) lasting MIN_PHASE_POINTS starts."""
    for start, stop in true_runs(condition):
        if start > after and stop - start >= MIN_PHASE_POINTS:
            return int(start)
    return None


def smoothed_count(series: ClusterSeries) -> np.ndarray:
    """Rolling-median cluster count, shape (E_d,), int64: flicker at transitions removed."""
    return np.rint(rolling_median(series.count.astype(np.float64))).astype(np.int64)


@dataclass(frozen=True)
class ClusteringChange:
    """How clustering changed between the start and the end of an interval.

    Attributes
    ----------
    effective_count_ratio : float
        Effective number of clusters after / before (< 1: merging).
    spread_ratio : float
        Within-cluster spread after / before (< 1: tightening).
    increased : bool
        Whether either dropped by its threshold.
    """

    effective_count_ratio: float
    spread_ratio: float
    increased: bool


def clustering_change(series: ClusterSeries, start: float, stop: float, window: float) -> ClusteringChange:
    """Return the change in clustering from epoch ``start`` to ``stop``, with slack ``window``.

    "Before" is the least clustered smoothed state in [start - window, start], "after" the most
    clustered in [stop, stop + window]: the density may lead or lag the MI by up to a window.
    """
    epochs = series.epochs.astype(np.float64)
    effective = rolling_median(series.effective_count)
    within = rolling_median(series.within_sd)
    before = _select(epochs, start - window, start, start)
    after = _select(epochs, stop, stop + window, stop)
    count_ratio = float(np.nanmin(effective[after]) / np.nanmax(effective[before]))
    spread_ratio = float(np.nanmin(within[after]) / np.nanmax(within[before]))
    increased = count_ratio <= 1 - EFFECTIVE_COUNT_DROP or spread_ratio <= 1 - SPREAD_DROP
    return ClusteringChange(count_ratio, spread_ratio, bool(increased))


@dataclass(frozen=True)
class Trajectory:
    """One seed's I(X;T_l) over its measured epochs.

    Attributes
    ----------
    epochs : ndarray of shape (n,)
    nats : ndarray of shape (n,)
    smooth : ndarray of shape (n,)
        Rolling median (SMOOTHING_POINTS).
    """

    epochs: np.ndarray
    nats: np.ndarray
    smooth: np.ndarray

    @classmethod
    def of(cls, run: RunRecord, seed_index: int, layer: int) -> Trajectory:
        epochs, nats = run.mi_series(seed_index, layer)
        if nats.size == 0:
            raise ValueError(f"{run.run_dir}: no I(X;T_{layer}) measured for seed {run.seeds[seed_index]}")
        return cls(epochs, nats, rolling_median(nats))

    @property
    def peak_index(self) -> int:
        return int(np.argmax(self.smooth))

    @property
    def peak_nats(self) -> float:
        return float(self.smooth[self.peak_index])

    @property
    def peak_epoch(self) -> int:
        return int(self.epochs[self.peak_index])

    @property
    def end_nats(self) -> float:
        return end_value(self.epochs, self.nats)
