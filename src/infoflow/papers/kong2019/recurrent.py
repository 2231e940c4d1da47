"""The seed's recurrent future work (Kong 2019, §4): the ``rnn`` run analysed step by step.

The ``rnn`` experiment trains a noisy Elman cell (``models/rnn.py``) whose layer l is step t = l:
metrics.csv's I(X;T_l) is I(X_1..X_t; T_t). This module asks of such a run what the seed's
hypothesis predicts, per seed and per step, with the project's own statistics:

* **compression**: I(X;T_t) falls from its peak (smoothed, ``analysis.trajectories``) by more than
  the C7 threshold, max(FALL_MIN_NATS, FALL_NOISE_MULTIPLE x the series' per-epoch noise);
  "late" when the fall starts once the task is fitted (test accuracy within FIT_TOLERANCE of its
  end value);
* **clustering at the two classes**: the density of T_t ends with two clusters
  (``analysis.clusters``), and the fall coincides with a measured increase in clustering
  (``clustering_change``, the C7 rule: fewer effective clusters or tighter ones).

It also draws ``figures/mi_by_step``: I(X;T_t) and I(T_t;Y) against the step t at several epochs,
and the density of T_t at the end of training per step. I(X;T_t) of every step over epochs is
``infoflow plot``'s ``mi.png`` already.

    python -m infoflow.papers.kong2019.recurrent RUN_DIR     # prints the table, writes the figure
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from infoflow.analysis.claims import ClaimResult, aggregate, outcome_of, tally
from infoflow.analysis.clusters import ClusterSeries, cluster_series
from infoflow.analysis.trajectories import (
    FALL_MIN_NATS,
    FALL_NOISE_MULTIPLE,
    Trajectory,
    clustering_change,
    coincidence_window,
    detect_falls,
    end_value,
    noise_sd,
    rolling_median,
    smoothed_count,
)
from infoflow.plots.run_figures import save_figure
from infoflow.runs.reader import RunRecord, read_run

# The task counts as fitted from the first measured epoch at which the smoothed test accuracy is
# within this of its end value (accuracy on 1000 noisy test examples moves by ~0.01 per epoch).
FIT_TOLERANCE = 0.02
# Fractions of the run's epochs at which mi_by_step draws I(X;T_t) against t.
FIGURE_EPOCH_FRACTIONS = (0.0, 1 / 6, 1 / 3, 1 / 2, 2 / 3, 1.0)


@dataclass(frozen=True)
class StepOutcome:
    """One seed's step t: its I(X;T_t) trajectory, its clustering, and the seed's prediction.

    Attributes
    ----------
    seed, step : int
    fit_epoch : float
        First epoch at which the task is fitted (see FIT_TOLERANCE); NaN if never.
    end_accuracy : float
    start_nats, peak_nats, end_nats : float
        I(X;T_t) at epoch 0, at its smoothed peak, at the end (median over the last tenth).
    peak_epoch : int
    fall_nats : float
        peak - end.
    threshold_nats : float
        The smallest fall that counts (the C7 rule).
    falls : int
        Falls of the smoothed series larger than the threshold.
    late_falls : int
        Those starting at or after ``fit_epoch``.
    falls_with_clustering : int
        Those over which clustering increased (C7's coincidence).
    fall_epochs : str
        "start-end" of each fall, for the table.
    end_clusters : int
        Clusters of T_t's density at the end (smoothed count).
    effective_count_ratio, spread_ratio : float
        Effective number of clusters and within-cluster spread, end / at the MI peak.
    clustered : bool
        Clustering increased from the MI peak to the end.
    end_label_nats : float
        I(T_t;Y) at the end (NaN if not measured).
    """

    seed: int
    step: int
    fit_epoch: float
    end_accuracy: float
    start_nats: float
    peak_nats: float
    peak_epoch: int
    end_nats: float
    fall_nats: float
    threshold_nats: float
    falls: int
    late_falls: int
    falls_with_clustering: int
    fall_epochs: str
    end_clusters: int
    effective_count_ratio: float
    spread_ratio: float
    clustered: bool
    end_label_nats: float

    @property
    def compressed(self) -> bool:
        """I(X;T_t) fell from its peak by more than the threshold."""
        return self.fall_nats >= self.threshold_nats

    @property
    def as_predicted(self) -> bool:
        """The seed's hypothesis holds here: a late fall, every fall with clustering, two clusters at the end."""
        return (
            self.compressed
            and self.late_falls > 0
            and self.falls_with_clustering == self.falls
            and self.end_clusters == 2
        )


def fit_epoch(run: RunRecord, seed_index: int) -> tuple[float, float]:
    """Return (first epoch at which the task is fitted, end accuracy) of one seed."""
    accuracy = run.accuracy[seed_index]
    recorded = np.isfinite(accuracy)
    epochs, values = run.epochs[recorded], accuracy[recorded]
    if values.size == 0:
        return math.nan, math.nan
    end = end_value(epochs, values)
    reached = np.flatnonzero(rolling_median(values) >= end - FIT_TOLERANCE)
    return (float(epochs[reached[0]]) if reached.size else math.nan), end


def step_outcome(run: RunRecord, seed_index: int, step: int, series: ClusterSeries | None = None) -> StepOutcome:
    """Return the analysis of one seed's step ``step`` (from 1) of a run folder's records."""
    seed = int(run.seeds[seed_index])
    mi = Trajectory.of(run, seed_index, step)
    series = series if series is not None else cluster_series(run, seed, step)
    window = coincidence_window(run.epochs)
    fitted, end_accuracy = fit_epoch(run, seed_index)
    threshold = max(FALL_MIN_NATS, FALL_NOISE_MULTIPLE * noise_sd(mi.nats))
    falls = detect_falls(mi.smooth, threshold)
    with_clustering = 0
    late = 0
    spans = []
    for fall in falls:
        start, stop = float(mi.epochs[fall.start]), float(mi.epochs[fall.end])
        with_clustering += clustering_change(series, start, stop, window).increased
        late += bool(start >= fitted)
        spans.append(f"{start:g}-{stop:g}")
    change = clustering_change(series, float(mi.peak_epoch), float(series.epochs[-1]), window)
    end_clusters = int(np.rint(end_value(series.epochs, smoothed_count(series))))
    label = math.nan
    if run.mi_label is not None:
        label_epochs, label_nats = run.mi_series(seed_index, step, run.mi_label)
        label = end_value(label_epochs, label_nats)
    return StepOutcome(
        seed=seed,
        step=step,
        fit_epoch=fitted,
        end_accuracy=end_accuracy,
        start_nats=float(mi.nats[0]),
        peak_nats=mi.peak_nats,
        peak_epoch=mi.peak_epoch,
        end_nats=mi.end_nats,
        fall_nats=mi.peak_nats - mi.end_nats,
        threshold_nats=threshold,
        falls=len(falls),
        late_falls=late,
        falls_with_clustering=with_clustering,
        fall_epochs=",".join(spans) or "-",
        end_clusters=end_clusters,
        effective_count_ratio=change.effective_count_ratio,
        spread_ratio=change.spread_ratio,
        clustered=change.increased,
        end_label_nats=label,
    )


def analyse(run: RunRecord | str | Path) -> list[StepOutcome]:
    """Return every (seed, step) outcome of a recurrent run, seed by seed, step by step."""
    record = run if isinstance(run, RunRecord) else read_run(run)
    return [
        step_outcome(record, seed_index, step)
        for seed_index in range(record.seeds.size)
        for step in range(1, record.n_layers + 1)
    ]


def _f(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


TABLE_COLUMNS = (
    "seed",
    "step",
    "fit",
    "acc",
    "I_0",
    "I_peak@ep",
    "I_end",
    "fall",
    "thr",
    "falls(late,clust)",
    "fall epochs",
    "clusters_end",
    "eff_x",
    "spread_x",
    "I(T;Y)_end",
    "predicted",
)


def outcome_rows(outcomes: Sequence[StepOutcome]) -> list[list[str]]:
    """Return the table rows (strings) of :data:`TABLE_COLUMNS`."""
    return [
        [
            str(o.seed),
            str(o.step),
            _f(o.fit_epoch, 0),
            _f(o.end_accuracy, 3),
            _f(o.start_nats),
            f"{_f(o.peak_nats)}@{o.peak_epoch}",
            _f(o.end_nats),
            _f(o.fall_nats),
            _f(o.threshold_nats),
            f"{o.falls}({o.late_falls},{o.falls_with_clustering})",
            o.fall_epochs,
            str(o.end_clusters),
            _f(o.effective_count_ratio),
            _f(o.spread_ratio),
            _f(o.end_label_nats),
            "yes" if o.as_predicted else "no",
        ]
        for o in outcomes
    ]


def format_table(outcomes: Sequence[StepOutcome]) -> str:
    """Return a Markdown table of the outcomes, one row per (seed, step)."""
    rows = outcome_rows(outcomes)
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def step_claims(outcomes: Sequence[StepOutcome], experiment: str = "rnn") -> dict[int, ClaimResult]:
    """Return, per step, the seed's prediction checked over seeds (the claim protocol, majority rule)."""
    return {
        step: aggregate(
            "prediction",
            experiment,
            [outcome_of(o, "as_predicted") for o in outcomes if o.step == step],
            statement=f"I(X;T_{step}) falls late, every fall with clustering, two clusters at the end",
            expected=f"a late fall > max({FALL_MIN_NATS} nats, {FALL_NOISE_MULTIPLE:g} x noise s.d.), each fall "
            "with clustering (C7's rule), 2 clusters at the end",
            layer=step,
        )
        for step in sorted({o.step for o in outcomes})
    }


def step_means(outcomes: Sequence[StepOutcome]) -> dict[int, dict[str, float]]:
    """Return, per step, the mean over seeds of the numeric fields and the fraction as predicted."""
    summary: dict[int, dict[str, float]] = {}
    for step in sorted({o.step for o in outcomes}):
        chosen = [o for o in outcomes if o.step == step]
        fields = ("start_nats", "peak_nats", "end_nats", "fall_nats", "end_label_nats", "end_clusters")
        summary[step] = {name: float(np.mean([asdict(o)[name] for o in chosen])) for name in fields}
        for name, verdict in (("compressed_fraction", "compressed"), ("predicted_fraction", "as_predicted")):
            passed, total = tally(outcome_of(o, verdict) for o in chosen)
            summary[step][name] = passed / total
    return summary


# ----------------------------------------------------------------------------------------------
# Figure
# ----------------------------------------------------------------------------------------------


def figure_epochs(run: RunRecord, fractions: Sequence[float] = FIGURE_EPOCH_FRACTIONS) -> list[int]:
    """Return the measured epochs nearest the given fractions of the run's span (distinct, sorted)."""
    measured = run.epochs[np.isfinite(run.mi).any(axis=(0, 2))]
    targets = [measured[0] + fraction * (measured[-1] - measured[0]) for fraction in fractions]
    return sorted({int(measured[int(np.argmin(np.abs(measured - target)))]) for target in targets})


def mi_by_step_figure(run: RunRecord, epochs: Sequence[int] | None = None) -> Figure:
    """Return the per-step figure: I(X;T_t) and I(T_t;Y) against t at several epochs, end densities.

    Lines are the mean over seeds at each chosen epoch (faint markers: each seed).
    """
    chosen = list(epochs) if epochs is not None else figure_epochs(run)
    steps = np.arange(1, run.n_layers + 1)
    has_labels = run.mi_label is not None
    n_panels = 1 + int(has_labels) + int(run.has_densities)
    figure = Figure(figsize=(4.6 * n_panels, 3.8), layout="constrained")
    panels = figure.subplots(1, n_panels, squeeze=False)[0]
    colourmap = colormaps["viridis"]
    quantities = [("I(X;T_t) (nats)", run.mi)] + ([("I(T_t;Y) (nats)", run.mi_label)] if has_labels else [])
    for axes, (ylabel, values) in zip(panels, quantities):
        for index, epoch in enumerate(chosen):
            column = int(np.flatnonzero(run.epochs == epoch)[0])
            per_seed = values[:, column, :]  # (K, L)
            colour = colourmap(index / max(1, len(chosen) - 1))
            axes.plot(steps, np.nanmean(per_seed, axis=0), marker="o", color=colour, label=f"epoch {epoch}")
            for seed_values in per_seed:
                axes.plot(steps, seed_values, linestyle="none", marker=".", color=colour, alpha=0.35)
        axes.set_xlabel("step t")
        axes.set_xticks(steps)
        axes.set_ylabel(ylabel)
        axes.set_ylim(bottom=0.0)
        axes.legend(fontsize="small", frameon=False)
    panels[0].set_title(
        f"{run.name}: I(X_1..X_t; T_t) by step" + (f", mean of {run.seeds.size} seeds" if run.seeds.size > 1 else "")
    )
    if run.has_densities:
        density_axes = panels[-1]
        for step in steps:
            density = run.layer_densities(int(run.seeds[0]), int(step))[-1, 0]
            grid = run.layer_grids(int(run.seeds[0]), int(step))[-1]
            scale = 0.8 / max(float(np.nanmax(density)), 1e-12)
            density_axes.fill_betweenx(grid, step, step + density * scale, color=f"C{(step - 1) % 10}", alpha=0.6)
        density_axes.set_xlabel("step t (density of T_t, scaled)")
        density_axes.set_xticks(steps)
        density_axes.set_ylabel("T_t")
        density_axes.set_title(f"end of training (epoch {int(run.density_epochs[-1])}), seed {int(run.seeds[0])}")
    return figure


def write_mi_by_step(run_dir: str | Path, epochs: Sequence[int] | None = None) -> list[Path]:
    """Write RUN_DIR/figures/mi_by_step.png and .svg; return their paths."""
    run = read_run(run_dir)
    figures = Path(run_dir) / "figures"
    figures.mkdir(exist_ok=True)
    return save_figure(mi_by_step_figure(run, epochs), figures / "mi_by_step")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m infoflow.papers.kong2019.recurrent RUN_DIR``: print the analysis, write the figure."""
    parser = argparse.ArgumentParser(
        prog="python -m infoflow.papers.kong2019.recurrent", description=__doc__.splitlines()[0]
    )
    parser.add_argument("run_dir", help="a run folder of the rnn experiment (infoflow run rnn --out DIR)")
    parser.add_argument("--no-figure", action="store_true", help="print the table only")
    arguments = parser.parse_args(argv)
    try:
        run = read_run(arguments.run_dir)
        outcomes = analyse(run)
    except ValueError as error:
        print(f"infoflow: {error}", file=sys.stderr)
        return 2
    print(format_table(outcomes))
    print()
    for step, means in step_means(outcomes).items():
        print(
            f"step {step}: mean I(X;T_t) start {means['start_nats']:.2f}, peak {means['peak_nats']:.2f}, "
            f"end {means['end_nats']:.2f} (fall {means['fall_nats']:.2f}); I(T_t;Y) end {means['end_label_nats']:.2f}; "
            f"compressed in {means['compressed_fraction']:.0%} of seeds, as the seed predicts in "
            f"{means['predicted_fraction']:.0%}"
        )
    if not arguments.no_figure:
        for path in write_mi_by_step(arguments.run_dir):
            print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
