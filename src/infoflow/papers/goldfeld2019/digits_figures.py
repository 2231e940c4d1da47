"""The digits experiment's figures, over seeds (line: mean over seeds; band: min to max over seeds).

``digits_information``: per layer, I(X;T_l) and I(T_l;Y) of the noisy net with the bounds'
envelope over seeds (dashed) and unresolved records hollow. ``digits_clustering``: per layer, the
cosine gap of both nets (noise off), the deterministic twin's binned entropy per layer, and the
test error of both nets.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from infoflow.papers.goldfeld2019.digits_analysis import DigitsSeed
from infoflow.plots.run_figures import draw_unresolved, save_figure

NET_COLOURS = {"noisy": "C3", "deterministic": "C0"}


def _band(axes: Axes, table: pd.DataFrame, column: str, colour: str, label: str, style: str = "-") -> None:
    """Draw the mean over seeds of ``column`` against epoch + 1, with the min-max band over seeds."""
    grouped = table.groupby("epoch")[column]
    x = grouped.mean().index.to_numpy() + 1
    axes.plot(x, grouped.mean().to_numpy(), color=colour, linestyle=style, linewidth=1.4, label=label)
    axes.fill_between(x, grouped.min().to_numpy(), grouped.max().to_numpy(), color=colour, alpha=0.2, linewidth=0)


def _information_panel(axes: Axes, metrics: pd.DataFrame, layer: int, h_x: float) -> None:
    rows = metrics[(metrics["layer"] == layer) & metrics["mi_nats"].notna()]
    _band(axes, rows, "mi_nats", "C3", "I(X;T) (band: seeds)")
    _band(axes, rows, "mi_label_nats", "C2", "I(T;Y)", style=":")
    grouped = rows.groupby("epoch")
    x = grouped["mi_nats"].mean().index.to_numpy() + 1
    lower = grouped["mi_lower_nats"].min().to_numpy()
    axes.plot(x, lower, color="C3", linestyle="--", linewidth=0.7, label="bounds (envelope)")
    axes.plot(x, grouped["mi_upper_nats"].max().to_numpy(), color="C3", linestyle="--", linewidth=0.7)
    unresolved = (grouped["resolved"].min() == 0).to_numpy()
    if unresolved.any():
        draw_unresolved(axes, x[unresolved], grouped["mi_nats"].mean().to_numpy()[unresolved], "C3", True)
    axes.axhline(h_x, color="0.5", linestyle=":", linewidth=0.8)
    axes.set_xscale("log")
    axes.set_title(f"noisy net, layer {layer}", fontsize="medium")
    axes.set_xlabel("epoch + 1")
    axes.set_ylabel("nats")


def plot_digits(seeds: list[DigitsSeed], folder: str | Path, n_train: int) -> list[Path]:
    """Write ``digits_information`` and ``digits_clustering`` (PNG + SVG) into ``folder``; return the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    metrics = pd.concat([seed.metrics for seed in seeds], ignore_index=True)
    reps = pd.concat([seed.representations for seed in seeds], ignore_index=True)
    layers = sorted(int(layer) for layer in metrics["layer"].unique())
    h_x = math.log(n_train)
    written: list[Path] = []

    figure = Figure(figsize=(3.3 * len(layers), 3.4), layout="constrained")
    for axes, layer in zip(np.atleast_1d(figure.subplots(1, len(layers))), layers):
        _information_panel(axes, metrics, layer, h_x)
    figure.axes[0].legend(fontsize="x-small", frameon=False)
    figure.suptitle(
        f"digits CNN, {len(seeds)} seed(s): I(X;T_l) and I(T_l;Y); dotted grey: H(X) = log {n_train}", fontsize="medium"
    )
    written += save_figure(figure, folder / "digits_information")

    figure = Figure(figsize=(3.3 * len(layers), 6.6), layout="constrained")
    grid = figure.subplots(2, len(layers))
    for axes, layer in zip(grid[0], layers):
        for net, colour in NET_COLOURS.items():
            _band(axes, reps[(reps["net"] == net) & (reps["layer"] == layer)], "cosine_gap", colour, net)
        axes.set_xscale("log")
        axes.set_title(f"layer {layer}: cosine within - between", fontsize="medium")
        axes.set_xlabel("epoch + 1")
    grid[0][0].legend(fontsize="x-small", frameon=False)
    twin = reps[reps["net"] == "deterministic"]
    for layer in layers:
        _band(grid[1][0], twin[twin["layer"] == layer], "binned_entropy_nats", f"C{layer - 1}", f"layer {layer}")
    grid[1][0].set_title("twin: H(Bin(S_l)) (nats)", fontsize="medium")
    grid[1][0].legend(fontsize="x-small", frameon=False)
    first_layer = reps[reps["layer"] == layers[0]]
    for net, colour in NET_COLOURS.items():
        _band(grid[1][1], first_layer[first_layer["net"] == net], "test_error", colour, f"{net}: test")
        _band(grid[1][1], first_layer[first_layer["net"] == net], "train_error", colour, f"{net}: train", style=":")
    grid[1][1].set_yscale("log")
    grid[1][1].set_title("error (noisy net: noise on; train: noise off)", fontsize="medium")
    grid[1][1].legend(fontsize="x-small", frameon=False)
    for axes in grid[1][:2]:
        axes.set_xscale("log")
        axes.set_xlabel("epoch + 1")
    for axes in grid[1][2:]:
        axes.set_axis_off()
    figure.suptitle("digits CNN: clustering of the representations (noise off) and errors", fontsize="medium")
    written += save_figure(figure, folder / "digits_clustering")
    return written
