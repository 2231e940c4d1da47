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

import csv
import itertools
import json
import math
import tomllib
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from scipy.signal import find_peaks, peak_prominences
from scipy.stats import spearmanr

# ----------------------------------------------------------------------------------------------
# Thresholds
# ----------------------------------------------------------------------------------------------

# Cluster counter. A local maximum of a density is a mode when the valley separating it from any
# higher mode dips to at most (1 - MIN_VALLEY_DEPTH) of its own height (topographic prominence
# >= MIN_VALLEY_DEPTH x height). Two equal bumps of s.d. beta then count as two once they are
# about 3.4 beta apart (at 3.3 beta the valley is 51 % of the peaks), while the ripples that a
# kernel density of n = 1000 samples carries (10-20 % of the local height) are ignored.
MIN_VALLEY_DEPTH = 0.5
# ... and when its basin (between the valleys on either side) holds at least this fraction of the
# probability mass: a bump made by a handful of outlying samples (< 30 of n = 1000) is not a
# cluster, while the smallest clusters of the seed's experiments (1/8 of the mass, Figure 3) are.
MIN_CLUSTER_MASS = 0.03
# ... and, when the number n of samples behind the density is known, when its prominence exceeds
# KDE_NOISE_Z standard deviations of the density's sampling noise at its height,
# sqrt(f / (n beta 2 sqrt(pi))) for a Gaussian kernel of s.d. beta. Without it a diffuse density
# (s.d. >> beta, continuous inputs) shows spurious shoulders: for N(0, 1.5^2), n = 1000, beta = 0.05,
# 69 % of 200 densities had a spurious extra "mode" by the depth rule alone, 0.5 % with this rule.
KDE_NOISE_Z = 4.0

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

METRICS_REQUIRED = ("seed", "epoch", "layer", "mi_nats")
METRICS_OPTIONAL = ("true_mi_nats", "mi_label_nats", "accuracy", "loss", "lr")


# ----------------------------------------------------------------------------------------------
# Reading a run folder
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRecord:
    """Everything a run folder holds, as arrays.

    Attributes
    ----------
    run_dir : Path
    name : str
        The config's ``name`` (e.g. "fig2").
    config : dict
        The resolved config.toml.
    manifest : dict
        manifest.json, or {} when absent.
    seeds : ndarray of shape (K,), int64
    epochs : ndarray of shape (E,), int64
        Every epoch with a row in metrics.csv, sorted.
    mi : ndarray of shape (K, E, L)
        I(X;T_l) in nats; NaN where not measured.
    true_mi, mi_label : ndarray of shape (K, E, L) or None
        Exact I(X;T_l) and I(T_l;Y) in nats; None when the column is absent or all empty.
    estimator_mi : dict of str to ndarray of shape (K, E, L)
        Other estimators' I(X;T_l) (columns ``mi_<name>_nats``), keyed by ``<name>``.
    accuracy, loss, lr : ndarray of shape (K, E)
    density_seeds : ndarray of shape (K_d,) or None
    density_epochs : ndarray of shape (E_d,) or None
    grids : tuple of ndarray of shape (G_l,)
        Density grid of each layer (empty when densities.npz is absent).
    densities : tuple of ndarray of shape (K_d, E_d, d_l, G_l)
        Density of each unit of T_l per seed and recorded epoch.
    """

    run_dir: Path
    name: str
    config: dict[str, Any]
    manifest: dict[str, Any]
    seeds: np.ndarray
    epochs: np.ndarray
    mi: np.ndarray
    true_mi: np.ndarray | None
    mi_label: np.ndarray | None
    estimator_mi: dict[str, np.ndarray]
    accuracy: np.ndarray
    loss: np.ndarray
    lr: np.ndarray
    density_seeds: np.ndarray | None
    density_epochs: np.ndarray | None
    grids: tuple[np.ndarray, ...]
    densities: tuple[np.ndarray, ...]

    @property
    def n_layers(self) -> int:
        """Number of layers L."""
        return int(self.mi.shape[2])

    @property
    def has_densities(self) -> bool:
        """Whether densities.npz was present."""
        return self.density_epochs is not None

    def mi_series(self, seed_index: int, layer: int, values: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return (epochs, nats) of one seed's layer, measured epochs only.

        Parameters
        ----------
        seed_index : int
            Index into ``seeds``.
        layer : int
            Layer number, from 1.
        values : ndarray of shape (K, E, L), optional
            Which MI array (default ``mi``).
        """
        array = self.mi if values is None else values
        column = array[seed_index, :, layer - 1]
        measured = np.isfinite(column)
        return self.epochs[measured], column[measured]

    def layer_densities(self, seed: int, layer: int) -> np.ndarray:
        """Return the densities of T_layer for one seed, shape (E_d, d_l, G_l)."""
        if not self.has_densities:
            raise ValueError(f"{self.run_dir}: densities.npz is missing; the density checks need it")
        matches = np.flatnonzero(self.density_seeds == seed)
        if matches.size == 0:
            raise ValueError(f"{self.run_dir}: densities.npz has no seed {seed} (has {self.density_seeds.tolist()})")
        return self.densities[layer - 1][matches[0]]


def _read_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.toml"
    if not path.is_file():
        raise ValueError(f"{run_dir}: not a run folder (config.toml is missing)")
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML ({error})") from None


def _read_metrics(path: Path) -> tuple[list[str], np.ndarray]:
    """Return the numeric columns we use and their values, shape (rows, columns), NaN for empty."""
    if not path.is_file():
        raise ValueError(f"{path.parent}: not a run folder (metrics.csv is missing)")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            rows = [row for row in reader if row]
    except (csv.Error, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: unreadable CSV ({error})") from None
    missing = [name for name in METRICS_REQUIRED if name not in header]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; has {', '.join(header) or 'none'}")
    # Only columns we understand are parsed: readers must tolerate extra (possibly text) columns.
    wanted = [
        name
        for name in header
        if name in METRICS_REQUIRED
        or name in METRICS_OPTIONAL
        or (name.startswith("mi_") and name.endswith("_nats") and name != "mi_label_nats")
    ]
    positions = [header.index(name) for name in wanted]
    table = np.full((len(rows), len(wanted)), np.nan)
    for row_number, row in enumerate(rows):
        for column, position in enumerate(positions):
            cell = row[position].strip() if position < len(row) else ""
            if not cell:
                continue
            try:
                table[row_number, column] = float(cell)
            except ValueError:
                raise ValueError(
                    f"{path}: line {row_number + 2}, column {wanted[column]!r}: {cell!r} is not a number"
                ) from None
    return wanted, table


def read_run(run_dir: str | Path) -> RunRecord:
    """Return the contents of a run folder as arrays (see :class:`RunRecord`).

    Raises
    ------
    ValueError
        When config.toml or metrics.csv is missing or malformed, or densities.npz lacks a key.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"run folder {run_dir} does not exist")
    config = _read_config(run_dir)
    columns, table = _read_metrics(run_dir / "metrics.csv")
    if table.shape[0] == 0:
        raise ValueError(f"{run_dir / 'metrics.csv'}: no rows")
    column = {name: table[:, index] for index, name in enumerate(columns)}
    for name in ("seed", "epoch", "layer"):
        if not np.all(np.isfinite(column[name])):
            raise ValueError(f"{run_dir / 'metrics.csv'}: column {name!r} has empty cells")
    seed_col = column["seed"].astype(np.int64)
    epoch_col = column["epoch"].astype(np.int64)
    layer_col = column["layer"].astype(np.int64)
    if layer_col.min() < 1:
        raise ValueError(f"{run_dir / 'metrics.csv'}: layers are numbered from 1, found {layer_col.min()}")
    seeds = np.unique(seed_col)
    epochs = np.unique(epoch_col)
    n_layers = int(layer_col.max())
    seed_index = np.searchsorted(seeds, seed_col)
    epoch_index = np.searchsorted(epochs, epoch_col)
    shape = (seeds.size, epochs.size, n_layers)

    def per_layer(name: str) -> np.ndarray | None:
        if name not in column or not np.any(np.isfinite(column[name])):
            return None
        array = np.full(shape, np.nan)
        array[seed_index, epoch_index, layer_col - 1] = column[name]
        return array

    def per_epoch(name: str) -> np.ndarray:
        array = np.full(shape[:2], np.nan)
        if name in column:
            # The value repeats on each layer's row; keep the finite ones.
            finite = np.isfinite(column[name])
            array[seed_index[finite], epoch_index[finite]] = column[name][finite]
        return array

    mi = per_layer("mi_nats")
    if mi is None:
        mi = np.full(shape, np.nan)
    estimator_mi = {}
    for name in columns:
        if name.startswith("mi_") and name.endswith("_nats") and name not in ("mi_nats", "mi_label_nats"):
            values = per_layer(name)
            if values is not None:
                estimator_mi[name[len("mi_") : -len("_nats")]] = values

    density_seeds = density_epochs = None
    grids: list[np.ndarray] = []
    densities: list[np.ndarray] = []
    density_path = run_dir / "densities.npz"
    if density_path.is_file():
        try:
            archive_file = np.load(density_path, allow_pickle=False)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
            raise ValueError(f"{density_path}: unreadable ({error})") from None
        with archive_file as archive:
            keys = set(archive.files)
            needed = {"seeds", "epochs"} | {f"grid_layer{layer}" for layer in range(1, n_layers + 1)}
            needed |= {f"density_layer{layer}" for layer in range(1, n_layers + 1)}
            if not needed <= keys:
                raise ValueError(f"{density_path}: missing key(s) {', '.join(sorted(needed - keys))}")
            density_seeds = np.asarray(archive["seeds"], dtype=np.int64)
            density_epochs = np.asarray(archive["epochs"], dtype=np.int64)
            for layer in range(1, n_layers + 1):
                grid = np.asarray(archive[f"grid_layer{layer}"], dtype=np.float64)
                density = np.asarray(archive[f"density_layer{layer}"])
                expected = (density_seeds.size, density_epochs.size)
                if density.ndim != 4 or density.shape[:2] != expected or density.shape[3] != grid.size:
                    raise ValueError(
                        f"{density_path}: density_layer{layer} has shape {density.shape}, expected "
                        f"({expected[0]}, {expected[1]}, d_{layer}, {grid.size})"
                    )
                grids.append(grid)
                densities.append(density)

    manifest: dict[str, Any] = {}
    manifest_path = run_dir / "manifest.json"
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{manifest_path}: not valid JSON ({error})") from None

    return RunRecord(
        run_dir=run_dir,
        name=str(config.get("name", run_dir.name)),
        config=config,
        manifest=manifest,
        seeds=seeds,
        epochs=epochs,
        mi=mi,
        true_mi=per_layer("true_mi_nats"),
        mi_label=per_layer("mi_label_nats"),
        estimator_mi=estimator_mi,
        accuracy=per_epoch("accuracy"),
        loss=per_epoch("loss"),
        lr=per_epoch("lr"),
        density_seeds=density_seeds,
        density_epochs=density_epochs,
        grids=tuple(grids),
        densities=tuple(densities),
    )


# ----------------------------------------------------------------------------------------------
# Cluster counter
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    """One mode of a 1-D density and its basin (the stretch between the valleys either side).

    Attributes
    ----------
    location : float
        Where the density peaks (grid units, i.e. units of T).
    mean, sd : float
        Mean and standard deviation of the density restricted to the basin.
    mass : float
        Probability in the basin (fractions summing to 1 over the clusters).
    height : float
        Density at the peak.
    """

    location: float
    mean: float
    sd: float
    mass: float
    height: float


def _cumulative_integral(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Trapezoid integral of values from grid[0] to each grid point, shape (G,)."""
    pieces = 0.5 * (values[1:] + values[:-1]) * np.diff(grid)
    return np.concatenate([[0.0], np.cumsum(pieces)])


def find_clusters(
    density: np.ndarray, grid: np.ndarray, *, n_samples: int | None = None, beta: float | None = None
) -> list[Cluster]:
    """Return the well-separated modes of a 1-D density on a grid, left to right.

    Rule: a local maximum (grid ends included) is a mode when the valley separating it from any
    higher mode dips by at least ``MIN_VALLEY_DEPTH`` x its height below it (topographic
    prominence; with MIN_VALLEY_DEPTH = 0.5: to half the peak or lower) and, given ``n_samples``
    and ``beta``, by at least ``KDE_NOISE_Z`` s.d. of the sampling noise of a kernel density at
    that height. Neighbouring modes failing this are merged pairwise (the lower peak goes), most
    shallow valley first; then modes whose basin holds less than ``MIN_CLUSTER_MASS`` of the
    probability are merged, smallest first, into the neighbour across their shallower valley.

    Parameters
    ----------
    density : array of shape (G,)
        Density values per unit length (negative or non-finite values count as 0).
    grid : array of shape (G,)
        Strictly increasing grid points.
    n_samples : int, optional
        Number of samples of S_l behind the density (P_hat * N(0, beta^2)).
    beta : float, optional
        The noise s.d., i.e. the kernel width.

    Returns
    -------
    list of Cluster; empty when the density is zero everywhere.
    """
    values = np.asarray(density, dtype=np.float64)
    points = np.asarray(grid, dtype=np.float64)
    if values.ndim != 1 or points.shape != values.shape or values.size < 3:
        raise ValueError(f"density and grid must be 1-D of the same length >= 3, got {values.shape} and {points.shape}")
    if not np.all(np.diff(points) > 0):
        raise ValueError("grid must be strictly increasing")
    values = np.where(np.isfinite(values) & (values > 0), values, 0.0)
    mass_to = _cumulative_integral(values, points)
    total = mass_to[-1]
    if total <= 0:
        return []
    first_moment_to = _cumulative_integral(values * points, points)
    second_moment_to = _cumulative_integral(values * points**2, points)

    def required_prominence(heights: np.ndarray) -> np.ndarray:
        required = MIN_VALLEY_DEPTH * heights
        if n_samples is not None and beta is not None:
            # The kernel-density noise formula is for a density integrating to 1.
            noise = np.sqrt((heights / total) / (n_samples * beta * 2 * math.sqrt(math.pi))) * total
            required = np.maximum(required, KDE_NOISE_Z * noise)
        return required

    # Candidates: local maxima whose topographic prominence passes (cheaply removes ripples).
    # Zero padding makes a density still rising at a grid end a candidate peak there.
    padded = np.concatenate([[0.0], values, [0.0]])
    candidates, _ = find_peaks(padded)
    prominences = peak_prominences(padded, candidates)[0]
    peaks = list(candidates[prominences >= required_prominence(padded[candidates])] - 1)

    # Then merge, one pair at a time: first neighbours whose valley is too shallow for the lower
    # of the two (this also settles peaks of exactly equal height, which prominence cannot
    # separate), then clusters holding too little mass. The lower peak of a merged pair goes.
    while len(peaks) > 1:
        valleys = [int(a + np.argmin(values[a : b + 1])) for a, b in itertools.pairwise(peaks)]
        lower = np.minimum(values[peaks[:-1]], values[peaks[1:]])
        shortfall = (values[valleys] + required_prominence(lower)) / lower  # > 1: too shallow
        if shortfall.max() > 1:
            pair = int(np.argmax(shortfall))
        else:
            bounds = np.array([0, *valleys, values.size - 1])
            masses = (mass_to[bounds[1:]] - mass_to[bounds[:-1]]) / total
            smallest = int(np.argmin(masses))
            if masses[smallest] >= MIN_CLUSTER_MASS:
                break
            adjacent = [v for v in (smallest - 1, smallest) if 0 <= v < len(valleys)]
            pair = max(adjacent, key=lambda v: values[valleys[v]])  # across the shallower valley
        del peaks[pair if values[peaks[pair]] < values[peaks[pair + 1]] else pair + 1]
    valleys = [int(a + np.argmin(values[a : b + 1])) for a, b in itertools.pairwise(peaks)]

    bounds = [0, *valleys, values.size - 1]
    clusters = []
    for peak, start, stop in zip(peaks, bounds[:-1], bounds[1:]):
        mass = mass_to[stop] - mass_to[start]
        if mass <= 0:
            continue
        mean = (first_moment_to[stop] - first_moment_to[start]) / mass
        variance = (second_moment_to[stop] - second_moment_to[start]) / mass - mean**2
        clusters.append(
            Cluster(
                location=float(points[peak]),
                mean=float(mean),
                sd=float(math.sqrt(max(variance, 0.0))),
                mass=float(mass / total),
                height=float(values[peak]),
            )
        )
    return clusters


def count_clusters(
    density: np.ndarray, grid: np.ndarray, *, n_samples: int | None = None, beta: float | None = None
) -> int:
    """Return the number of well-separated modes of a 1-D density (see :func:`find_clusters`)."""
    return len(find_clusters(density, grid, n_samples=n_samples, beta=beta))


def _spread(density: np.ndarray, grid: np.ndarray) -> float:
    """Standard deviation of a 1-D density on a grid (units of T)."""
    values = np.where(np.isfinite(density) & (density > 0), density, 0.0).astype(np.float64)
    mass = _cumulative_integral(values, grid)[-1]
    if mass <= 0:
        return float("nan")
    mean = _cumulative_integral(values * grid, grid)[-1] / mass
    second = _cumulative_integral(values * grid**2, grid)[-1] / mass
    return float(math.sqrt(max(second - mean**2, 0.0)))


@dataclass(frozen=True)
class ClusterSeries:
    """Cluster statistics of one layer of one seed over the recorded epochs.

    For a layer of several units each unit's marginal density is analysed: ``count`` and
    ``effective_count`` are the largest over units (a lower bound on the joint's clusters), the
    spreads are root-mean-square over units.

    Attributes
    ----------
    epochs : ndarray of shape (E_d,)
    count : ndarray of shape (E_d,), int64
        Number of clusters (:func:`find_clusters`).
    effective_count : ndarray of shape (E_d,)
        exp(entropy of the cluster masses): 4 for four equal clusters, 2.83 after two of them
        merge, 1.75 for masses (3/4, 1/4).
    within_sd : ndarray of shape (E_d,)
        sqrt(sum_c mass_c sd_c^2), units of T; ~beta for tight clusters.
    total_sd : ndarray of shape (E_d,)
        Standard deviation of T_l, units of T.
    clusters : tuple of tuple of Cluster
        The clusters of the first unit, per epoch (for locations).
    """

    epochs: np.ndarray
    count: np.ndarray
    effective_count: np.ndarray
    within_sd: np.ndarray
    total_sd: np.ndarray
    clusters: tuple[tuple[Cluster, ...], ...]


def _sampling(config: Mapping[str, Any]) -> tuple[int | None, float | None]:
    """Return (n_samples, beta) behind a run's densities, from its config (None when absent)."""
    n_samples = config.get("estimation", {}).get("n_samples")
    beta = config.get("network", {}).get("beta")
    if n_samples is None or beta is None:
        return None, None
    return int(n_samples), float(beta)


def cluster_series(run: RunRecord, seed: int, layer: int) -> ClusterSeries:
    """Return the cluster statistics of T_layer of one seed at every epoch it has a density for.

    Epochs whose density is all NaN (not reached by this seed: a run still going, or stopped)
    are left out.
    """
    densities = run.layer_densities(seed, layer)  # (E_d, d, G)
    recorded = np.isfinite(densities).any(axis=(1, 2))
    if not recorded.any():
        raise ValueError(f"{run.run_dir}: densities.npz has no density of T_{layer} for seed {seed}")
    densities = densities[recorded]
    grid = run.grids[layer - 1]
    n_samples, beta = _sampling(run.config)
    n_epochs, n_units, _ = densities.shape
    count = np.zeros((n_epochs, n_units), dtype=np.int64)
    effective = np.ones((n_epochs, n_units))
    within = np.full((n_epochs, n_units), np.nan)
    total = np.full((n_epochs, n_units), np.nan)
    first_unit_clusters = []
    for epoch in range(n_epochs):
        for unit in range(n_units):
            clusters = find_clusters(densities[epoch, unit], grid, n_samples=n_samples, beta=beta)
            if unit == 0:
                first_unit_clusters.append(tuple(clusters))
            if not clusters:
                continue
            masses = np.array([c.mass for c in clusters])
            count[epoch, unit] = len(clusters)
            effective[epoch, unit] = math.exp(-float(np.sum(masses * np.log(masses))))
            within[epoch, unit] = math.sqrt(float(np.sum(masses * np.array([c.sd for c in clusters]) ** 2)))
            total[epoch, unit] = _spread(densities[epoch, unit], grid)
    return ClusterSeries(
        epochs=run.density_epochs[recorded],
        count=count.max(axis=1),
        effective_count=effective.max(axis=1),
        within_sd=np.sqrt(np.mean(within**2, axis=1)),
        total_sd=np.sqrt(np.mean(total**2, axis=1)),
        clusters=tuple(first_unit_clusters),
    )


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


def _median_between(epochs: np.ndarray, values: np.ndarray, low: float, high: float) -> float:
    """Median of values at epochs in [low, high] (NaN if none)."""
    mask = (epochs >= low) & (epochs <= high)
    return float(np.median(values[mask])) if mask.any() else float("nan")


def _nearest(epochs: np.ndarray, values: np.ndarray, epoch: float) -> Any:
    return values[int(np.argmin(np.abs(epochs - epoch)))]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Return (start, stop) index pairs (stop exclusive) of the True runs of a boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _first_phase(count: np.ndarray, condition: np.ndarray, after: int = -1) -> int | None:
    """Index where the first run of ``condition`` (at index > after) lasting MIN_PHASE_POINTS starts."""
    for start, stop in _runs(condition):
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
