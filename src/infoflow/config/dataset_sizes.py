"""``training.train_size`` and ``training.test_size`` of a data set experiment, from the file's rows.

With ``inputs.kind = "dataset"`` the rows are the data: the file's rows split by ``inputs.split``
(every row both trains and tests without it) give the training and test sets. A ``[training]``
table that leaves ``train_size`` or ``test_size`` out gets every row of its part (so
``batch_size``, whose default is ``train_size``, is a full batch of them); a size larger than the
part is refused, naming the field. The file is read once here, when the config is validated.
"""

from __future__ import annotations

from typing import Any

from infoflow.config.errors import ConfigError
from infoflow.data.dataset import FiniteDataset, split_sizes

SIZE_FIELDS = ("train_size", "test_size")


def size_error(field: str, size: int, available: int, path: str, n_rows: int, split: float | None) -> str:
    """Return the one line refusing ``training.<field> = size`` for a part of ``available`` rows."""
    part = "training" if field == "train_size" else "test"
    share = "every row trains and tests" if split is None else f"inputs.split = {split} of {n_rows} rows"
    return (
        f"training.{field} = {size} is larger than the {available} {part} rows of {path} ({share}); "
        f"leave {field} out to use all {available}, or set it <= {available}"
    )


def dataset_training_table(inputs: Any, table: dict[str, Any]) -> dict[str, Any]:
    """Return the ``[training]`` table with the sizes of a data set's parts filled in and checked.

    ``inputs`` is the validated ``[inputs]`` section; any kind but "dataset" returns ``table``
    unchanged.

    Raises
    ------
    ConfigError
        The file cannot be read as a data set (its own message, starting with its path), a split
        that leaves a part empty (names ``inputs.split``), or a size larger than its part (names
        ``training.train_size`` / ``training.test_size``).
    """
    if getattr(inputs, "kind", None) != "dataset":
        return table
    try:
        n_rows = FiniteDataset.from_file(inputs.path, label_column=inputs.label_column).n_rows
    except ValueError as error:
        raise ConfigError(str(error)) from None
    n_train, n_test = split_sizes(n_rows, inputs.split)
    if n_test < 1:
        raise ConfigError(
            f"inputs.split = {inputs.split} leaves no test row: {inputs.path} has {n_rows} rows, too few for a "
            "split (each part needs at least 1); leave split out to train and test on every row"
        )
    filled = dict(table)
    for field, available in zip(SIZE_FIELDS, (n_train, n_test)):
        size = filled.setdefault(field, available)
        if isinstance(size, int) and not isinstance(size, bool) and size > available:
            raise ConfigError(size_error(field, size, available, inputs.path, n_rows, inputs.split))
    return filled
