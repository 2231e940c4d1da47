"""The SZT experiment's figures, in the style of the field: MI per layer over log-spaced epochs with
standard-error bands and the bounds (dashed, unresolved epochs hollow), the clustering statistic
beside it, from a run folder only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from infoflow.papers.goldfeld2019.analysis import H_X_NATS
from infoflow.plots.run_figures import draw_unresolved, save_figure
from infoflow.runs.reader import read_run

# Bands of +-2 standard errors (about 95 %) of the Monte-Carlo parts of each estimate.
BAND_SE = 2.0


def _seed_mean(metrics: pd.DataFrame, column: str, layer: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (epochs, mean over seeds, combined SE over seeds) of ``column`` for ``layer``, measured epochs only."""
    rows = metrics[(metrics["layer"] == layer) & metrics[column].notna()]
    grouped = rows.groupby("epoch")
    mean = grouped[column].mean()
    if "std_error_nats" in rows and column == "mi_nats":
        # Mean of K estimates: SE = sqrt(sum SE_k^2) / K.
        se = grouped["std_error_nats"].apply(lambda s: float(np.sqrt((s.fillna(0.0) ** 2).sum())) / len(s))
    else:
        se = mean * 0.0
    return mean.index.to_numpy(), mean.to_numpy(), se.to_numpy()


def _draw_bounds(axes: Axes, metrics: pd.DataFrame, layer: int, colour: str, first: bool) -> bool:
    """Draw I(X;T_layer)'s bounds (envelope over seeds, dashed edges) and hollow markers where unresolved.

    Returns whether the run had bounds for this layer.
    """
    if "mi_lower_nats" not in metrics or "mi_upper_nats" not in metrics:
        return False
    rows = metrics[(metrics["layer"] == layer) & metrics["mi_lower_nats"].notna()]
    if rows.empty:
        return False
    grouped = rows.groupby("epoch")
    x = grouped["mi_lower_nats"].min().index.to_numpy() + 1
    lower, upper = grouped["mi_lower_nats"].min().to_numpy(), grouped["mi_upper_nats"].max().to_numpy()
    label = "bounds (envelope over seeds)" if first else None
    axes.fill_between(x, lower, upper, color=colour, alpha=0.08, linewidth=0, label=label)
    axes.plot(x, lower, color=colour, linewidth=0.6, linestyle="--")
    axes.plot(x, upper, color=colour, linewidth=0.6, linestyle="--")
    if "resolved" in rows:
        unresolved = (grouped["resolved"].min() == 0).to_numpy()
        mean = grouped["mi_nats"].mean().to_numpy()
        if unresolved.any():
            draw_unresolved(axes, x[unresolved], mean[unresolved], colour, first)
    return True


def _draw_series(axes: Axes, metrics: pd.DataFrame, column: str, ylabel: str, band: bool) -> None:
    first = True
    for layer in sorted(metrics["layer"].unique()):
        epochs, mean, se = _seed_mean(metrics, column, int(layer))
        if not len(epochs):
            continue
        x = epochs + 1  # log axis: epoch 0 (before training) sits at 1
        colour = f"C{(int(layer) - 1) % 10}"
        axes.plot(x, mean, color=colour, linewidth=1.4, label=f"T_{int(layer)}")
        if band and np.any(se > 0):
            axes.fill_between(x, mean - BAND_SE * se, mean + BAND_SE * se, color=colour, alpha=0.25, linewidth=0)
        if band and column == "mi_nats" and _draw_bounds(axes, metrics, int(layer), colour, first):
            first = False
    axes.set_xscale("log")
    axes.set_xlabel("epoch + 1")
    axes.set_ylabel(ylabel)


def plot_szt(run_dir: str | Path) -> list[Path]:
    """Write ``figures/szt_information.{png,svg}`` (I(X;T_l) and H(Bin(S_l)) per layer against log epoch).

    Returns the written paths.
    """
    run = read_run(run_dir)
    metrics = run.metrics
    figure = Figure(figsize=(11.0, 4.2), layout="constrained")
    left, right = figure.subplots(1, 2)
    _draw_series(left, metrics, "mi_nats", "I(X;T_l) (nats)", band=True)
    left.axhline(H_X_NATS, color="0.4", linestyle=":", linewidth=1.0, label="H(X) = log 4096")
    left.set_title(f"I(X;T_l), bands +-{BAND_SE:g} s.e., dashed: bounds", fontsize="medium")
    left.legend(fontsize="small", frameon=False, ncol=2)
    if "binned_entropy_nats" in metrics and metrics["binned_entropy_nats"].notna().any():
        _draw_series(right, metrics, "binned_entropy_nats", "H(Bin(S_l)) (nats)", band=False)
        right.set_title("clustering: binned entropy of S_l (lower = more clustered)", fontsize="medium")
        right.legend(fontsize="small", frameon=False, ncol=2)
    figure.suptitle(f"{run.name}: information flow and clustering per layer", fontsize="medium")
    folder = Path(run_dir) / "figures"
    folder.mkdir(exist_ok=True)
    return save_figure(figure, folder / "szt_information")
