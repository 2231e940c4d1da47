"""The SZT experiment's figures, in the style of the field: MI per layer over log-spaced epochs with
standard-error bands, the clustering statistic beside it, from a run folder only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from infoflow.papers.goldfeld2019.analysis import H_X_NATS
from infoflow.plots.run_figures import save_figure
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


def _draw_series(axes: Axes, metrics: pd.DataFrame, column: str, ylabel: str, band: bool) -> None:
    for layer in sorted(metrics["layer"].unique()):
        epochs, mean, se = _seed_mean(metrics, column, int(layer))
        if not len(epochs):
            continue
        x = epochs + 1  # log axis: epoch 0 (before training) sits at 1
        colour = f"C{(int(layer) - 1) % 10}"
        axes.plot(x, mean, color=colour, linewidth=1.4, label=f"T_{int(layer)}")
        if band and np.any(se > 0):
            axes.fill_between(x, mean - BAND_SE * se, mean + BAND_SE * se, color=colour, alpha=0.25, linewidth=0)
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
    left.set_title(f"I(X;T_l), bands +-{BAND_SE:g} s.e.", fontsize="medium")
    left.legend(fontsize="small", frameon=False, ncol=2)
    if "binned_entropy_nats" in metrics and metrics["binned_entropy_nats"].notna().any():
        _draw_series(right, metrics, "binned_entropy_nats", "H(Bin(S_l)) (nats)", band=False)
        right.set_title("clustering: binned entropy of S_l (lower = more clustered)", fontsize="medium")
        right.legend(fontsize="small", frameon=False, ncol=2)
    figure.suptitle(f"{run.name}: information flow and clustering per layer", fontsize="medium")
    folder = Path(run_dir) / "figures"
    folder.mkdir(exist_ok=True)
    return save_figure(figure, folder / "szt_information")
