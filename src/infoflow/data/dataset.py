"""A finite data set as an input distribution: X uniform over the rows of an array, labels optional."""

from __future__ import annotations

import csv
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infoflow.data.distributions import MAX_ENTRIES, InputDistribution, as_float_array, check_count
from infoflow.data.torch_rows import rows_from_torch

DATASET_SUFFIXES = (".npz", ".csv")


def split_sizes(n_rows: int, split: float | None) -> tuple[int, int]:
    """Return (training rows, test rows) of a data set of ``n_rows`` rows under the share ``split``.

    ``round(split * n_rows)`` rows train (at least 1, at most ``n_rows - 1``) and the rest test;
    None: every row does both. With one row a split leaves no test row (0).
    """
    if split is None:
        return n_rows, n_rows
    n_train = max(1, min(n_rows - 1, round(split * n_rows)))
    return n_train, n_rows - n_train


class FiniteDataset(InputDistribution):
    """X uniform over the k rows of ``x``; the label of row i is ``y[i]`` when labels are given.

    Parameters
    ----------
    x : array or tensor of shape (k,), (k, d) or (k, ...)
        The inputs; each row (example) is one support point of X with probability 1/k. Rows of
        more than one axis (images) keep their shape in draws; ``dim`` counts their entries.
    y : array or tensor of shape (k,) or (k, m), optional
        Labels: classes (integers) or values. With labels, ``measure_information`` reports
        I(T_l;Y) without a separate labelling rule.

    Notes
    -----
    Repeated rows are kept: X is uniform over the rows, so a row present twice has probability 2/k.
    """

    is_discrete = True

    def __init__(self, x: Any, y: Any = None) -> None:
        array = as_float_array("x", x, ndim=(1, 2, 3, 4, 5))
        self._x = array[:, None] if array.ndim == 1 else array
        self.event_shape = tuple(self._x.shape[1:])
        self.dim = int(np.prod(self.event_shape))
        self._y: np.ndarray | None = None
        if y is not None:
            labels = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
            if labels.dtype == object or labels.dtype.kind not in "biuf":
                raise ValueError(f"y must hold numbers (classes or values); got dtype {labels.dtype}")
            if labels.ndim not in (1, 2) or labels.shape[0] != len(self._x):
                raise ValueError(f"y must have one label per row of x ({len(self._x)}); got shape {labels.shape}")
            if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
                raise ValueError("y must hold finite numbers")
            self._y = labels.copy()

    @property
    def has_labels(self) -> bool:  # type: ignore[override]
        return self._y is not None

    @property
    def n_rows(self) -> int:
        """k, the number of rows."""
        return len(self._x)

    @property
    def x(self) -> torch.Tensor:
        """The rows, float64 (k, *event_shape)."""
        return torch.from_numpy(self._x)

    @property
    def y(self) -> torch.Tensor | None:
        """The labels (k,) or (k, m), or None."""
        return None if self._y is None else torch.from_numpy(self._y)

    def sample_rows(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return n row indices drawn uniformly with replacement, int64 (n,)."""
        return torch.randint(len(self._x), (check_count(n, self.dim, generator),), generator=generator)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return n rows drawn uniformly with replacement, float64 (n, *event_shape)."""
        return torch.from_numpy(self._x)[self.sample_rows(n, generator)]

    def sample_labelled(
        self, n: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return (n rows, their labels or None); the rows are the draws :meth:`sample` makes."""
        rows = self.sample_rows(n, generator)
        labels = None if self._y is None else torch.from_numpy(self._y)[rows]
        return torch.from_numpy(self._x)[rows], labels

    def support(self) -> tuple[torch.Tensor, torch.Tensor]:
        k = len(self._x)
        return torch.from_numpy(self._x.copy()), torch.full((k,), 1.0 / k, dtype=torch.float64)

    def subset(self, rows: Any) -> FiniteDataset:
        """Return the data set of the given rows (indices or a boolean mask), labels kept."""
        index = np.asarray(rows)
        return FiniteDataset(self._x[index], None if self._y is None else self._y[index])

    @classmethod
    def from_torch(cls, dataset: Any, *, limit: int | None = None) -> FiniteDataset:
        """Return the data set of the first ``limit`` rows of a map-style torch Dataset of (input, label) pairs.

        Parameters
        ----------
        dataset : torch.utils.data.Dataset
            Map-style (``len(dataset)`` and ``dataset[i]``), each item an (input, label) pair: the
            input a tensor, array or number, of one shape for every row (at most 4 axes); the
            label a number or tensor (a class or a value, or a vector of them).
        limit : int, optional
            Read only the first ``limit`` rows (all of them when the dataset is shorter).

        Returns
        -------
        FiniteDataset
            ``x`` float64 of shape (k, *input_shape): each input keeps the shape the dataset gives
            it, so the probe feeds the model what its own data loader does (an image (1, 8, 8)
            for a CNN; flatten in the dataset's transform for an MLP). ``y`` int64 (k,) when every
            label is an integer (classes), float64 otherwise; (k, m) for vector labels.

        Raises
        ------
        ValueError
            One line naming ``dataset`` (or the row ``dataset[i]``) or ``limit``: an iterable-style
            dataset or one without ``__len__``, an empty one, items that are not (input, label)
            pairs, inputs or labels of different shapes, non-numeric values, NaN or inf, or a
            ``limit`` below 1.
        """
        x, y = rows_from_torch(dataset, limit)
        return cls(x, y)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, label_column: str | None = None) -> FiniteDataset:
        """Read a data set from a .npz (arrays ``x`` and optional ``y``) or a .csv (a header row, numbers).

        Parameters
        ----------
        path : path
            The file.
        label_column : str, optional
            CSV only: the column holding the labels; every other column is a feature.
        """
        file = Path(path)
        if file.suffix not in DATASET_SUFFIXES:
            raise ValueError(f"{file}: a data set must be a {' or '.join(DATASET_SUFFIXES)} file")
        if file.is_dir():
            raise ValueError(f"{file}: is a folder, not a data set file")
        if not file.is_file():
            raise ValueError(f"{file}: no such data set file")
        if file.suffix == ".npz":
            if label_column is not None:
                raise ValueError(f"{file}: label_column applies to .csv files; a .npz holds arrays x and y")
            if not zipfile.is_zipfile(file):
                raise ValueError(f"{file}: not a .npz archive (a zip of .npy arrays, as np.savez writes)")
            try:
                with np.load(file, allow_pickle=False) as archive:
                    if "x" not in archive.files:
                        raise ValueError(f"{file}: the .npz must hold an array named 'x'; it holds {archive.files}")
                    x = archive["x"]
                    y = archive["y"] if "y" in archive.files else None
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
                if str(error).startswith(str(file)):
                    raise
                if "allow_pickle" in str(error):
                    # Never unpickled: an object array could run code on loading.
                    raise ValueError(
                        f"{file}: holds an object array (pickled Python objects), which infoflow never loads; "
                        "save x and y as numeric arrays"
                    ) from None
                reason = " ".join(str(error).split()) or type(error).__name__
                raise ValueError(f"{file}: unreadable .npz ({reason})") from None
            for name, array in (("x", x), ("y", y)):
                if array is not None and array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
                    row = int(np.argwhere(~np.isfinite(array.reshape(len(array), -1)))[0, 0]) if array.ndim else 0
                    raise ValueError(f"{file}: {name} must hold finite numbers; row {row} holds NaN or inf")
            try:
                return cls(x, y)
            except ValueError as error:
                raise ValueError(f"{file}: {error}") from None
        return cls._from_csv(file, label_column)

    @classmethod
    def _from_csv(cls, file: Path, label_column: str | None) -> FiniteDataset:
        try:
            with file.open(newline="", encoding="utf-8") as handle:
                rows = list(csv.reader(handle))
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"{file}: cannot read ({error})") from None
        if len(rows) < 2:
            raise ValueError(f"{file}: needs a header row and at least one data row")
        header, body = [name.strip() for name in rows[0]], rows[1:]
        if len(header) * len(body) > MAX_ENTRIES:
            raise ValueError(f"{file}: {len(header) * len(body)} entries; at most {MAX_ENTRIES} are allowed")
        if label_column is not None and label_column not in header:
            raise ValueError(f"{file}: label_column {label_column!r} is not a column; columns: {', '.join(header)}")
        table = np.empty((sum(1 for row in body if row), len(header)), dtype=np.float64)
        filled = 0
        for line, row in enumerate(body, start=2):  # line 1 is the header
            if not row:
                continue  # a blank line
            if len(row) != len(header):
                raise ValueError(f"{file}: line {line} has {len(row)} cells; the header has {len(header)}")
            for column, cell in enumerate(row):
                try:
                    value = float(cell)
                except ValueError:
                    value = math.nan
                if not math.isfinite(value):
                    raise ValueError(
                        f"{file}: line {line}, column {header[column]!r}: {cell.strip()!r} is not a finite number"
                    )
                table[filled, column] = value
            filled += 1
        if filled == 0:
            raise ValueError(f"{file}: needs a header row and at least one data row")
        if label_column is None:
            try:
                return cls(table)
            except ValueError as error:
                raise ValueError(f"{file}: {error}") from None
        label_index = header.index(label_column)
        labels = table[:, label_index]
        if np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        try:
            return cls(np.delete(table, label_index, axis=1), labels)
        except ValueError as error:
            raise ValueError(f"{file}: {error}") from None

    def __repr__(self) -> str:
        labels = "" if self._y is None else ", with labels"
        return f"FiniteDataset(<{len(self._x)} rows of shape {self.event_shape}>{labels})"
