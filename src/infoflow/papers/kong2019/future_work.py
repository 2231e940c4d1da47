"""The seed's own open question (Kong 2019, §4): compression and clustering on a continuous uniform input.

The seed found that network 4 (LeakyReLU-Tanh) on Gaussian input neither compresses I(X;T_1) nor
clusters T_1 (claim C5), unlike network 3 (Tanh-Tanh, claim C4), and asked whether a uniform input
with continuous values changes that. The shipped experiments ``uniform-tanh-tanh`` and
``uniform-leaky-tanh`` train networks 3 and 4 on X ~ U(-1, 1); this module reads their run folders
and answers per seed, with the same statistics and thresholds as the C4/C5 checks
(:mod:`infoflow.papers.kong2019.claims`):

* **compression** of I(X;T_l): the smoothed MI (rolling median) falls from its peak to its end value
  by at least ``COMPRESSION_MIN_FALL_NATS`` (C4's 0.1 nats), judged on the sample-propagation
  estimate and, where the run recorded it, on the exact MI (``truth.py``; no estimator noise);
* **clustering** of T_l: the effective number of clusters drops by >= 10 % or the within-cluster
  spread by >= 15 % (:func:`infoflow.analysis.trajectories.clustering_change`), measured over two
  intervals: from the end of the fitting jump (the first epoch where I(X;T_l) reaches half its end
  value, C5's window) to the end of the run, and from the MI peak to the end (C4's window).

Everything is read from run folders, never live objects, so old runs can be re-checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infoflow.analysis.claims import ClaimResult, aggregate, outcome_of, tally
from infoflow.analysis.clusters import cluster_series
from infoflow.analysis.trajectories import (
    EFFECTIVE_COUNT_DROP,
    SPREAD_DROP,
    clustering_change,
    coincidence_window,
    end_value,
    rolling_median,
    smoothed_count,
)
from infoflow.papers.kong2019.claims import check_claims
from infoflow.papers.kong2019.thresholds import C4_MIN_FALL_NATS, C5_FIT_FRACTION
from infoflow.runs.reader import RunRecord, read_run

__all__ = [
    "COMPRESSION_MIN_FALL_NATS",
    "UNIFORM_EXPERIMENTS",
    "LayerOutcome",
    "layer_outcomes",
    "layer_claims",
    "majority",
    "seed_claims_on_uniform_input",
    "uniform_input_outcomes",
    "uniform_input_report",
]

# The uniform-input experiments and their Gaussian-input counterparts (same network and training).
UNIFORM_EXPERIMENTS: dict[str, str] = {"uniform-tanh-tanh": "fig4", "uniform-leaky-tanh": "fig5"}
# A fall worth calling compression: C4's threshold (twice the C7 noise floor of 0.05 nats).
COMPRESSION_MIN_FALL_NATS = C4_MIN_FALL_NATS
# The fitting jump ends where I(X;T_l) first reaches this fraction of its end value (C5's rule).
FIT_FRACTION = C5_FIT_FRACTION


@dataclass(frozen=True)
class LayerOutcome:
    """Compression and clustering of one layer of one seed.

    Attributes
    ----------
    seed, layer : int
    peak_nats, peak_epoch, end_nats, fall_nats : float
        Sample-propagation I(X;T_l): smoothed peak and its epoch, end value, peak - end.
    compressed : bool
        ``fall_nats >= COMPRESSION_MIN_FALL_NATS``.
    exact_peak_nats, exact_end_nats, exact_fall_nats : float
        The same for the exact I(X;T_l); NaN when the run has no exact MI.
    exact_compressed : bool or None
        None when the run has no exact MI.
    fitted_epoch : float
        First epoch where I(X;T_l) >= FIT_FRACTION x its end value.
    effective_count_ratio, spread_ratio : float
        Effective cluster count and within-cluster spread, end / fitted epoch (< 1: clustering).
    clustered : bool
        Either ratio dropped by its threshold between the fitted epoch and the end.
    effective_count_ratio_after_peak, spread_ratio_after_peak : float
        The same ratios from the MI peak to the end.
    clustered_after_peak : bool
    clusters_at_fit, clusters_at_end : int
        Smoothed number of clusters (modes of T_l's density) at the fitted epoch and at the end.
    sd_at_fit, sd_at_end : float
        Standard deviation of T_l at the fitted epoch and at the end (units of T).
    """

    seed: int
    layer: int
    peak_nats: float
    peak_epoch: float
    end_nats: float
    fall_nats: float
    compressed: bool
    exact_peak_nats: float
    exact_end_nats: float
    exact_fall_nats: float
    exact_compressed: bool | None
    fitted_epoch: float
    effective_count_ratio: float
    spread_ratio: float
    clustered: bool
    effective_count_ratio_after_peak: float
    spread_ratio_after_peak: float
    clustered_after_peak: bool
    clusters_at_fit: int
    clusters_at_end: int
    sd_at_fit: float
    sd_at_end: float

    def line(self) -> str:
        """One line with the numbers: SP and exact MI, the fall, and both clustering ratios."""

        def f(value: float, digits: int = 2) -> str:
            return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"

        exact = (
            ""
            if self.exact_compressed is None
            else f"; exact peak {f(self.exact_peak_nats)} -> end {f(self.exact_end_nats)} (fall {f(self.exact_fall_nats)})"
        )
        return (
            f"seed {self.seed} T_{self.layer}: SP peak {f(self.peak_nats)} nats at epoch {self.peak_epoch:g} -> end "
            f"{f(self.end_nats)} (fall {f(self.fall_nats)}){exact}: {'compresses' if self.compressed else 'no compression'}; "
            f"from epoch {self.fitted_epoch:g}: clusters {self.clusters_at_fit} -> {self.clusters_at_end}, effective count "
            f"x{f(self.effective_count_ratio)}, within-cluster spread x{f(self.spread_ratio)}, s.d. {f(self.sd_at_fit, 3)} "
            f"-> {f(self.sd_at_end, 3)}: {'clusters' if self.clustered else 'no clustering'} (after the MI peak: count "
            f"x{f(self.effective_count_ratio_after_peak)}, spread x{f(self.spread_ratio_after_peak)})"
        )


def _peak_end(epochs: np.ndarray, nats: np.ndarray) -> tuple[float, float, float]:
    """Return (smoothed peak, its epoch, end value) of an MI series."""
    smooth = rolling_median(nats)
    peak = int(np.argmax(smooth))
    return float(smooth[peak]), float(epochs[peak]), end_value(epochs, nats)


def _nearest_index(epochs: np.ndarray, epoch: float) -> int:
    return int(np.argmin(np.abs(epochs.astype(np.float64) - epoch)))


def layer_outcomes(run: RunRecord, layer: int) -> list[LayerOutcome]:
    """Return the compression and clustering outcome of T_layer for every seed of a run.

    Parameters
    ----------
    run : RunRecord
        From :func:`infoflow.read_run`; needs densities.
    layer : int
        From 1.
    """
    if not 1 <= layer <= run.n_layers:
        raise ValueError(f"{run.run_dir}: layer must be in 1..{run.n_layers}; got {layer}")
    window = coincidence_window(run.epochs)
    outcomes = []
    for index, seed in enumerate(int(s) for s in run.seeds):
        epochs, nats = run.mi_series(index, layer)
        if nats.size == 0:
            raise ValueError(f"{run.run_dir}: no I(X;T_{layer}) measured for seed {seed}")
        peak, peak_epoch, end = _peak_end(epochs, nats)
        exact_peak = exact_end = float("nan")
        exact_compressed = None
        if run.true_mi is not None:
            exact_epochs, exact_nats = run.mi_series(index, layer, run.true_mi)
            if exact_nats.size:
                exact_peak, _, exact_end = _peak_end(exact_epochs, exact_nats)
                exact_compressed = bool(exact_peak - exact_end >= COMPRESSION_MIN_FALL_NATS)
        reached = np.flatnonzero(nats >= FIT_FRACTION * end)
        fitted = float(epochs[reached[0]]) if reached.size else float(epochs[0])
        series = cluster_series(run, seed, layer)
        last = float(series.epochs[-1])
        after_fit = clustering_change(series, fitted, last, window)
        after_peak = clustering_change(series, peak_epoch, last, window)
        count = smoothed_count(series)
        fit_index = _nearest_index(series.epochs, fitted)
        outcomes.append(
            LayerOutcome(
                seed=seed,
                layer=layer,
                peak_nats=peak,
                peak_epoch=peak_epoch,
                end_nats=end,
                fall_nats=peak - end,
                compressed=bool(peak - end >= COMPRESSION_MIN_FALL_NATS),
                exact_peak_nats=exact_peak,
                exact_end_nats=exact_end,
                exact_fall_nats=exact_peak - exact_end,
                exact_compressed=exact_compressed,
                fitted_epoch=fitted,
                effective_count_ratio=after_fit.effective_count_ratio,
                spread_ratio=after_fit.spread_ratio,
                clustered=after_fit.increased,
                effective_count_ratio_after_peak=after_peak.effective_count_ratio,
                spread_ratio_after_peak=after_peak.spread_ratio,
                clustered_after_peak=after_peak.increased,
                clusters_at_fit=int(count[fit_index]),
                clusters_at_end=int(np.rint(end_value(series.epochs, count))),
                sd_at_fit=float(series.total_sd[fit_index]),
                sd_at_end=end_value(series.epochs, series.total_sd),
            )
        )
    return outcomes


def uniform_input_outcomes(run_dir: str | Path) -> dict[int, list[LayerOutcome]]:
    """Return {layer: per-seed outcomes} for every layer of a run folder.

    Parameters
    ----------
    run_dir : path
        A run folder (config.toml, metrics.csv, densities.npz): ``uniform-tanh-tanh`` or
        ``uniform-leaky-tanh``, or any other run with densities (fig4 and fig5 for comparison).
    """
    run = read_run(run_dir)
    return {layer: layer_outcomes(run, layer) for layer in range(1, run.n_layers + 1)}


def majority(outcomes: list[LayerOutcome], attribute: str) -> tuple[int, int]:
    """Return (k, K): how many of the K seeds have ``attribute`` true (e.g. "compressed", "clustered")."""
    return tally(outcome_of(outcome, attribute) for outcome in outcomes)


# The per-layer questions, as claims over seeds: (label, verdict attribute, statement).
LAYER_QUESTIONS = (
    ("compression", "compressed", f"smoothed I(X;T_l) falls >= {COMPRESSION_MIN_FALL_NATS} nats from its peak"),
    ("exact compression", "exact_compressed", f"exact I(X;T_l) falls >= {COMPRESSION_MIN_FALL_NATS} nats from its peak"),
    ("clustering after the fit", "clustered", "T_l clusters from the end of the fitting jump to the end (C5's window)"),
    ("clustering after the peak", "clustered_after_peak", "T_l clusters from the MI peak to the end (C4's window)"),
)


def layer_claims(outcomes: list[LayerOutcome], experiment: str) -> dict[str, ClaimResult]:
    """Return {verdict attribute: ClaimResult over seeds} of one layer's outcomes (the claim protocol)."""
    layer = outcomes[0].layer if outcomes else None
    expected = (
        f"effective cluster count drops >= {EFFECTIVE_COUNT_DROP:.0%} or within-cluster spread >= {SPREAD_DROP:.0%}"
    )
    return {
        attribute: aggregate(
            label,
            experiment,
            [outcome_of(outcome, attribute) for outcome in outcomes],
            statement=statement,
            expected=expected,
            layer=layer,
        )
        for label, attribute, statement in LAYER_QUESTIONS
    }


def seed_claims_on_uniform_input(run_dir: str | Path) -> list[ClaimResult]:
    """Return the seed's claims for the Gaussian-input counterpart, checked on a uniform-input run.

    ``uniform-tanh-tanh`` is checked as fig4 (C4, C7), ``uniform-leaky-tanh`` as fig5 (C5): the
    same programs and thresholds, on the uniform input.
    """
    run = read_run(run_dir)
    if run.name not in UNIFORM_EXPERIMENTS:
        raise ValueError(
            f"{run_dir}: not a uniform-input run (name {run.name!r}; expected one of {', '.join(UNIFORM_EXPERIMENTS)})"
        )
    return check_claims(run_dir, UNIFORM_EXPERIMENTS[run.name])


def uniform_input_report(run_dir: str | Path) -> str:
    """Return a short Markdown answer for one run folder: per layer k/K seeds, then each seed's line."""
    run = read_run(run_dir)
    lines = [
        f"### {run.name} ({run.seeds.size} seeds)",
        "",
        f"Compression: smoothed I(X;T_l) falls >= {COMPRESSION_MIN_FALL_NATS} nats from its peak. Clustering: "
        f"effective cluster count drops >= {EFFECTIVE_COUNT_DROP:.0%} or within-cluster spread >= {SPREAD_DROP:.0%}, "
        "from the end of the fitting jump to the end (C5's window) or from the MI peak to the end (C4's window).",
        "",
    ]
    for layer in range(1, run.n_layers + 1):
        outcomes = layer_outcomes(run, layer)
        claims = layer_claims(outcomes, run.name)
        total = claims["compressed"].seeds_total
        exact = (
            ""
            if any(o.exact_compressed is None for o in outcomes)
            else f" (exact MI: {claims['exact_compressed'].seeds_passed}/{total})"
        )
        lines.append(
            f"- T_{layer}: compresses in {claims['compressed'].seeds_passed}/{total} seeds{exact}; clusters in "
            f"{claims['clustered'].seeds_passed}/{total} seeds after the fitting jump, "
            f"{claims['clustered_after_peak'].seeds_passed}/{total} after the MI peak"
        )
        lines.extend(f"  - {outcome.line()}" for outcome in outcomes)
    if run.name in UNIFORM_EXPERIMENTS:
        lines += ["", f"The seed's claims for {UNIFORM_EXPERIMENTS[run.name]}, checked on this run:"]
        for result in seed_claims_on_uniform_input(run_dir):
            tag = result.claim if result.layer is None else f"{result.claim} (T_{result.layer})"
            lines.append(f"- {tag}: {result.seeds_passed}/{result.seeds_total} seeds pass")
            lines.extend(f"  - seed {o.seed}: {'pass' if o.passed else 'FAIL'}: {o.detail}" for o in result.per_seed)
    return "\n".join(lines) + "\n"
