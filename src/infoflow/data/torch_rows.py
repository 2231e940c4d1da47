"""The rows of a map-style torch Dataset of (input, label) pairs, read once into arrays.

:meth:`infoflow.FiniteDataset.from_torch` reads ``dataset[0]``, ``dataset[1]``, ... (the first
``limit`` rows) and keeps each input in the shape the dataset gives it, so that the probe feeds
the model exactly what the model's own data loader would (a CNN's (1, 8, 8) image stays an image;
flatten in the dataset's transform for an MLP). Every problem is one ValueError naming the
argument and, for a row, its index.
"""

from __future__ import annotations

from collections.abc import Sized
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset

from infoflow.data.distributions import MAX_ENTRIES

# FiniteDataset keeps rows of at most 4 axes (its x has at most 5 with the row axis).
MAX_ROW_AXES = 4


def _as_numbers(what: str, value: Any) -> np.ndarray:
    """Return one input or label as a numeric array (not copied when it already is one)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.is_complex():
            raise ValueError(f"{what} must hold real numbers; got a complex tensor")
        array = value.numpy()
    else:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):
            raise ValueError(f"{what} must be a number, an array or a tensor; got {type(value).__name__}") from None
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise ValueError(f"{what} must hold real numbers; got {type(value).__name__} of dtype {array.dtype}")
    return array


def _pair(dataset: Any, index: int) -> tuple[Any, Any]:
    """Return ``dataset[index]`` as (input, label)."""
    try:
        item = dataset[index]
    except Exception as error:  # the user's __getitem__ may raise anything; name the row
        reason = " ".join(str(error).split()) or type(error).__name__
        raise ValueError(f"dataset[{index}] cannot be read ({type(error).__name__}: {reason})") from None
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        sized = isinstance(item, (tuple, list))
        got = f"a {type(item).__name__} of length {len(item)}" if sized else type(item).__name__
        raise ValueError(f"dataset[{index}] must be an (input, label) pair; got {got}")
    return item[0], item[1]


def check_limit(limit: Any) -> int | None:
    """Return ``limit`` (None or an integer >= 1) or raise ValueError naming it."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise ValueError(f"limit must be an integer >= 1 (the number of rows to read) or None; got {limit!r}")
    return int(limit)


def rows_from_torch(dataset: Any, limit: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (inputs float64 (k, *input_shape), labels (k,) or (k, m)) of the first k rows of ``dataset``.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        Map-style: ``len(dataset)`` and ``dataset[i]`` -> (input, label) for i in 0..len-1. Inputs
        are tensors, arrays or numbers of one shape (at most 4 axes); labels numbers or tensors of
        one shape (a scalar or a vector).
    limit : int, optional
        Read only the first ``limit`` rows (k = min(limit, len(dataset))).

    Returns
    -------
    x : ndarray of float64, shape (k, *input_shape)
    y : ndarray of shape (k,) or (k, m): int64 when every label is an integer, else float64.

    Raises
    ------
    ValueError
        Not a map-style dataset, an empty one, a bad ``limit``, or a row that is not an
        (input, label) pair of numbers shaped like row 0, or holds NaN or inf.
    """
    limit = check_limit(limit)
    if isinstance(dataset, IterableDataset):
        raise ValueError(
            "dataset must be a map-style torch Dataset (len() and dataset[i]); got an IterableDataset "
            f"({type(dataset).__name__}), which has no rows to index"
        )
    if not isinstance(dataset, Sized) or not hasattr(dataset, "__getitem__"):
        raise ValueError(
            "dataset must be a map-style torch Dataset with __len__ and __getitem__ returning (input, label); "
            f"got {type(dataset).__name__}"
        )
    try:
        length = len(dataset)
    except Exception as error:  # a Dataset subclass without a working __len__ raises TypeError/NotImplementedError
        raise ValueError(f"dataset must have a length (len(dataset) raised {type(error).__name__})") from None
    if length < 1:
        raise ValueError("dataset must hold at least one row; it is empty")
    k = length if limit is None else min(limit, length)
    raw_input, raw_label = _pair(dataset, 0)
    first_input = _as_numbers("dataset[0]'s input", raw_input)
    first_label = _as_numbers("dataset[0]'s label", raw_label)
    if first_input.ndim > MAX_ROW_AXES:
        raise ValueError(f"dataset[0]'s input has shape {first_input.shape}; at most {MAX_ROW_AXES} axes are allowed")
    if first_input.size == 0:
        raise ValueError("dataset[0]'s input is empty")
    if first_label.ndim > 1:
        raise ValueError(f"dataset[0]'s label must be a number or a vector; got shape {first_label.shape}")
    # Sizes checked before anything of size k is allocated.
    if k * first_input.size > MAX_ENTRIES:
        raise ValueError(
            f"dataset: {k} rows of {first_input.size} numbers are {k * first_input.size} entries; at most "
            f"{MAX_ENTRIES} are allowed (pass limit= to read fewer rows)"
        )
    x = np.empty((k, *first_input.shape), dtype=np.float64)
    y = np.empty((k, *first_label.shape), dtype=np.float64)
    integral = True
    for index in range(k):
        if index == 0:
            row, label = first_input, first_label
        else:
            raw_input, raw_label = _pair(dataset, index)
            row = _as_numbers(f"dataset[{index}]'s input", raw_input)
            label = _as_numbers(f"dataset[{index}]'s label", raw_label)
        if row.shape != first_input.shape:
            raise ValueError(
                f"dataset[{index}]'s input has shape {row.shape}; dataset[0]'s has {first_input.shape} "
                "(every input must have one shape)"
            )
        if label.shape != first_label.shape:
            raise ValueError(
                f"dataset[{index}]'s label has shape {label.shape}; dataset[0]'s has {first_label.shape}"
            )
        x[index] = row
        y[index] = label
        if not (np.all(np.isfinite(x[index])) and np.all(np.isfinite(y[index]))):
            part = "input" if not np.all(np.isfinite(x[index])) else "label"
            raise ValueError(f"dataset[{index}]'s {part} holds NaN or inf; every number must be finite")
        # Integer (or boolean) labels are classes; float labels stay values, as the dataset gave them.
        integral = integral and label.dtype.kind in "biu"
    return x, (y.astype(np.int64) if integral else y)
