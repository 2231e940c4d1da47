"""The run-folder format, defined once: file names, metrics.csv's columns, densities.npz's keys,
the checkpoint's format tag and the manifest's fields.

    RUN/config.toml     the resolved config (every default filled in) or a probe's settings
    RUN/metrics.csv     tidy, one row per (seed, epoch, layer): METRIC_COLUMNS, mi_<estimator>_nats,
                        TRAILING_COLUMNS
    RUN/densities.npz   seeds, epochs, grid_layer<l>, density_layer<l> (seed, epoch, unit, grid point);
                        grid_layer<l> is (G,) when every record used one grid, (seed, epoch, G) when
                        the layer's grid followed it (widened during the run; NaN where not recorded)
    RUN/manifest.json   MANIFEST_FIELDS: versions, command, seeds, timings, status
    RUN/checkpoint.pt   the latest state, for resume (torch.load(weights_only=True)), CHECKPOINT_FORMAT
    RUN/figures/        the figures; FIGURE_INDEX lists any beyond those of ``infoflow plot``

``runs/writer.py`` writes it, ``runs/reader.py`` reads it, ``runs/folder.py`` guards it.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
import torch

from infoflow.version import __version__

CONFIG_FILE = "config.toml"
METRICS_FILE = "metrics.csv"
DENSITIES_FILE = "densities.npz"
MANIFEST_FILE = "manifest.json"
CHECKPOINT_FILE = "checkpoint.pt"
FIGURES_DIR = "figures"
RUN_FILES = (CONFIG_FILE, METRICS_FILE, DENSITIES_FILE, MANIFEST_FILE, CHECKPOINT_FILE, FIGURES_DIR)

# metrics.csv's leading columns, in order; estimator columns mi_<name>_nats follow, then
# std_error_nats (the total standard error of mi_nats: Monte Carlo, the draws of X and the
# finite sample P_hat), BOUND_COLUMNS (the bounds on I(X;T_l) and I(T_l;Y) that hold the truth
# jointly with >= 95 % confidence, and whether mi_nats / mi_label_nats are resolved: within the
# target error of both bounds, 1 or 0; empty where bounds were off), density_outside (the largest
# fraction of a unit's density mass that fell outside the layer's density grid),
# binned_entropy_nats (the clustering statistic H(Bin(S_l)), when asked for) and train_accuracy
# (the reference trainer's training-set accuracy at measured epochs).
METRIC_COLUMNS = ("seed", "epoch", "layer", "mi_nats", "true_mi_nats", "mi_label_nats", "accuracy", "loss", "lr")
BOUND_COLUMNS = (
    "mi_lower_nats",
    "mi_upper_nats",
    "resolved",
    "mi_label_lower_nats",
    "mi_label_upper_nats",
    "label_resolved",
)
# The 0/1 columns among BOUND_COLUMNS.
FLAG_COLUMNS = ("resolved", "label_resolved")
TRAILING_COLUMNS = ("std_error_nats", *BOUND_COLUMNS, "density_outside", "binned_entropy_nats", "train_accuracy")
# What a reader needs (the rest may be absent) and the integer columns.
METRICS_REQUIRED = METRIC_COLUMNS[:4]
METRICS_OPTIONAL = (*METRIC_COLUMNS[4:], "std_error_nats", *BOUND_COLUMNS)
INTEGER_COLUMNS = METRIC_COLUMNS[:3]


def metric_columns(extra_estimators: Sequence[str]) -> list[str]:
    """Return metrics.csv's columns, in order, for a run recording ``extra_estimators`` beside SP."""
    return [*METRIC_COLUMNS, *(estimator_column(name) for name in extra_estimators), *TRAILING_COLUMNS]


def estimator_column(name: str) -> str:
    """Return the metrics.csv column of estimator ``name``: ``mi_<name>_nats``."""
    return f"mi_{name}_nats"


def estimator_of_column(column: str) -> str | None:
    """Return the estimator whose column ``column`` is (None for any other column)."""
    known = ("mi_nats", "mi_label_nats", *BOUND_COLUMNS)
    if column.startswith("mi_") and column.endswith("_nats") and column not in known:
        return column[len("mi_") : -len("_nats")]
    return None


def grid_key(layer: int) -> str:
    """Return densities.npz's key of layer ``layer``'s grid (layers from 1): shape (G,) or (K, E, G)."""
    return f"grid_layer{layer}"


def density_key(layer: int) -> str:
    """Return densities.npz's key of layer ``layer``'s densities (layers from 1)."""
    return f"density_layer{layer}"


# 2: records by recorded epoch, Adam state, train_accuracy stream
# 3: the records' rows carry BOUND_COLUMNS (a format-2 checkpoint is refused: rerun from scratch)
CHECKPOINT_FORMAT = "infoflow-checkpoint-3"

# The figures `infoflow plot` draws; any other figure infoflow draws is listed in FIGURE_INDEX
# (one stem per line, written by plots.run_figures.save_figure beside the figures).
FIGURE_FILE = re.compile(r"(mi|information_plane|overview|density_layer\d+)\.(png|svg)")
FIGURE_INDEX = ".infoflow-figures"
FIGURE_EXTENSIONS = ("png", "svg")

MANIFEST_FIELDS = (
    "infoflow_version",
    "torch_version",
    "numpy_version",
    "python_version",
    "platform",
    "command",
    "name",
    "seeds",
    "started_utc",
    "finished_utc",
    "timings_s",
    "status",
    "message",
    "resumed",
)
STATUSES = ("running", "complete", "failed")


def utc_now() -> str:
    """Return the time now, UTC, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_manifest(name: str, seeds: Sequence[int], command: str) -> dict[str, Any]:
    """Return the manifest of a run that starts now: every field of :data:`MANIFEST_FIELDS`, in order."""
    return {
        "infoflow_version": __version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "command": command,
        "name": name,
        "seeds": [int(seed) for seed in seeds],
        "started_utc": utc_now(),
        "finished_utc": None,
        "timings_s": {"total": 0.0, "per_seed": [], "per_epoch_mean": None},
        "status": "running",
        "message": "",
        "resumed": 0,
    }
