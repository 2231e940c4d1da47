"""Synthetic run folders in the docs/DESIGN.md format, for the tests of claims, plots and reports.

Each is built from cluster centres and widths per epoch (densities = Gaussian mixtures on the
grid) and a prescribed I(X;T_l) trajectory, so the answer every check should give is known.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

BETA = 0.05


def mixture_densities(
    grid: np.ndarray,
    centres: np.ndarray,
    widths: np.ndarray | float = BETA,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Return Gaussian-mixture densities on ``grid`` per epoch, shape (E, G).

    centres : (E, C); widths : scalar or (E,) or (E, C); weights : (C,), default equal.
    """
    centres = np.atleast_2d(np.asarray(centres, dtype=np.float64))
    n_epochs, n_components = centres.shape
    widths = np.broadcast_to(
        np.asarray(widths, dtype=np.float64).reshape(-1, 1) if np.ndim(widths) == 1 else widths,
        (n_epochs, n_components),
    )
    weights = np.full(n_components, 1.0 / n_components) if weights is None else np.asarray(weights, dtype=np.float64)
    z = (grid[None, None, :] - centres[:, :, None]) / widths[:, :, None]
    bumps = np.exp(-0.5 * z**2) / (widths[:, :, None] * math.sqrt(2 * math.pi))
    return np.einsum("c,ecg->eg", weights, bumps)


def write_run(
    run_dir: Path,
    *,
    name: str,
    epochs: np.ndarray,
    mi: np.ndarray,
    densities: Sequence[np.ndarray],
    grids: Sequence[np.ndarray],
    seeds: Sequence[int] = (0,),
    true_mi: np.ndarray | None = None,
    mi_label: np.ndarray | None = None,
    estimators: dict[str, np.ndarray] | None = None,
    labels: tuple[float, float] = (-1.0, 1.0),
    extra_config: str = "",
    manifest: dict | None = None,
) -> Path:
    """Write config.toml, metrics.csv, densities.npz (and manifest.json) as docs/DESIGN.md says.

    mi, true_mi, mi_label, estimators[...] : (K, E, L), NaN = not measured.
    densities[l] : (K, E, d_l, G_l) ; grids[l] : (G_l,).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    seeds = list(seeds)
    n_seeds, n_epochs, n_layers = mi.shape
    assert n_seeds == len(seeds) and n_epochs == len(epochs)
    (run_dir / "config.toml").write_text(
        f'name = "{name}"\ndescription = "synthetic {name}"\nseeds = {seeds}\n\n'
        f"[network]\nbeta = {BETA}\n\n[labels]\nthreshold = 0.0\nbelow = {labels[0]}\nabove = {labels[1]}\n\n"
        f'[estimation]\nn_samples = 1000\nschedule = "every"\n{extra_config}'
    )
    estimators = estimators or {}
    header = ["seed", "epoch", "layer", "mi_nats", "true_mi_nats", "mi_label_nats", "accuracy", "loss", "lr"]
    header += [f"mi_{key}_nats" for key in estimators]

    def cell(array: np.ndarray | None, index: tuple[int, int, int]) -> str:
        if array is None or not np.isfinite(array[index]):
            return ""
        return repr(float(array[index]))

    with (run_dir / "metrics.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for k, seed in enumerate(seeds):
            for e, epoch in enumerate(epochs):
                for layer in range(n_layers):
                    index = (k, e, layer)
                    row = [
                        seed,
                        int(epoch),
                        layer + 1,
                        cell(mi, index),
                        cell(true_mi, index),
                        cell(mi_label, index),
                    ]
                    row += [0.5, 0.1, 0.001]
                    row += [cell(values, index) for values in estimators.values()]
                    writer.writerow(row)
    arrays = {"seeds": np.asarray(seeds, dtype=np.int64), "epochs": np.asarray(epochs, dtype=np.int64)}
    for layer, (grid, density) in enumerate(zip(grids, densities), start=1):
        arrays[f"grid_layer{layer}"] = np.asarray(grid, dtype=np.float64)
        arrays[f"density_layer{layer}"] = np.asarray(density, dtype=np.float32)
    np.savez(run_dir / "densities.npz", **arrays)
    if manifest is not None:
        (run_dir / "manifest.json").write_text(json.dumps(manifest))
    return run_dir
