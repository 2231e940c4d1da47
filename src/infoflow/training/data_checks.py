"""A data set checked against the experiment that trains on it, before any run folder exists.

``inputs.kind = "dataset"`` names a file whose rows the config validator counts (to fill
``training.train_size`` / ``test_size``, config/dataset_sizes.py); what else is in it (numbers,
labels) is checked against the experiment here. :func:`check_dataset_inputs` reads it and
refuses, in one line naming the file and what is wrong, everything the trainer would otherwise
meet mid-run: an unreadable file, too few rows for the split and ``training.train_size`` /
``test_size`` (a config built in Python), a dimension the network does not take, labels missing
or unusable by the loss.
"""

from __future__ import annotations

import numpy as np

from infoflow.config.dataset_sizes import SIZE_FIELDS, size_error
from infoflow.config.experiment import ExperimentConfig
from infoflow.data.dataset import FiniteDataset, split_sizes


def training_rows(n_rows: int, split: float | None) -> tuple[int, int]:
    """Return (training rows, test rows) of a data set of ``n_rows`` rows under ``split`` (the trainer's rule)."""
    return split_sizes(n_rows, split)


def check_dataset_inputs(config: ExperimentConfig) -> FiniteDataset | None:
    """Read a ``kind = "dataset"`` input file and check it fits ``config``; return it (None: not a data set).

    Raises
    ------
    ValueError
        One line, starting with the file's path: what is wrong with it for this experiment.
    """
    inputs = config.inputs
    if inputs.kind != "dataset":
        return None
    path = inputs.path
    data = FiniteDataset.from_file(path, label_column=inputs.label_column)
    n_rows = data.n_rows
    n_train, n_test = training_rows(n_rows, inputs.split)
    if inputs.split is not None and (n_train < 1 or n_test < 1):
        raise ValueError(
            f"{path}: {n_rows} rows are too few for inputs.split = {inputs.split}: it leaves {n_train} for training "
            f"and {n_test} for testing (each needs at least 1)"
        )
    # The parser filled and checked the sizes; a config built in Python is checked here.
    for field, available in zip(SIZE_FIELDS, (n_train, n_test)):
        size = getattr(config.training, field)
        if size > available:
            raise ValueError(size_error(field, size, available, path, n_rows, inputs.split))
    if config.network.widths[0] != data.dim:
        raise ValueError(
            f"{path}: rows of shape {data.event_shape} ({data.dim} numbers) do not fit network.widths[0] = "
            f"{config.network.widths[0]}"
        )
    if config.labels.kind == "dataset":
        _check_labels(path, data, config)
    return data


def _check_labels(path: str, data: FiniteDataset, config: ExperimentConfig) -> None:
    """Refuse labels the trainer's loss cannot use."""
    if data.y is None:
        where = (
            f"inputs.label_column = {config.inputs.label_column!r}"
            if path.lower().endswith(".csv")
            else 'an array "y" in the .npz'
        )
        raise ValueError(f"{path}: labels.kind = \"dataset\" needs labels, and the file has none ({where})")
    labels = data.y.numpy()
    if labels.ndim != 1 and not (labels.ndim == 2 and labels.shape[1] == 1):
        raise ValueError(f"{path}: labels must be one per row, shape ({data.n_rows},); got {labels.shape}")
    labels = labels.reshape(-1)
    outputs = config.network.n_outputs
    if config.training.loss == "cross_entropy":
        classes = outputs if outputs > 1 else 2
        if not np.all(labels == np.round(labels)) or labels.min() < 0 or labels.max() >= classes:
            raise ValueError(
                f"{path}: labels must be the integers 0..{classes - 1} for training.loss = \"cross_entropy\" "
                f"with {outputs} output unit(s); got values in [{labels.min():g}, {labels.max():g}]"
            )
