"""FiniteDataset.from_torch: a map-style torch Dataset's (input, label) rows, read once (issue 18)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset, IterableDataset, TensorDataset

import infoflow
from infoflow import FiniteDataset, GaussianNoise


class Images(Dataset):
    """A custom Dataset: image i is an (1, 3, 3) array of i / 10, its label i % 3 (a Python int)."""

    def __init__(self, n: int, *, bad: dict[int, Any] | None = None) -> None:
        self.n = n
        self.bad = bad or {}

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> Any:
        if index >= self.n:
            raise IndexError(index)
        if index in self.bad:
            return self.bad[index]
        return np.full((1, 3, 3), index / 10, dtype=np.float32), index % 3


def test_tensor_dataset_rows_and_labels_are_kept() -> None:
    x = torch.arange(24, dtype=torch.float32).reshape(6, 2, 2)
    y = torch.tensor([0, 1, 1, 0, 2, 2])
    data = FiniteDataset.from_torch(TensorDataset(x, y))
    assert data.n_rows == 6 and data.event_shape == (2, 2) and data.dim == 4
    assert data.x.dtype == torch.float64 and torch.equal(data.x, x.to(torch.float64))
    assert data.y.dtype == torch.int64 and torch.equal(data.y, y)
    # The support is uniform over the rows.
    support, weights = data.support()
    assert torch.equal(support, x.to(torch.float64))
    assert torch.allclose(weights, torch.full((6,), 1 / 6, dtype=torch.float64))


def test_limit_takes_the_first_rows() -> None:
    x = torch.randn(10, 3)
    y = torch.arange(10) % 2
    data = FiniteDataset.from_torch(TensorDataset(x, y), limit=4)
    assert data.n_rows == 4 and torch.equal(data.x, x[:4].double()) and torch.equal(data.y, y[:4])
    # A limit beyond the length reads every row.
    assert FiniteDataset.from_torch(TensorDataset(x, y), limit=100).n_rows == 10


def test_custom_dataset_with_python_labels_and_float_labels() -> None:
    data = FiniteDataset.from_torch(Images(7))
    assert data.event_shape == (1, 3, 3)
    assert data.y.dtype == torch.int64 and data.y.tolist() == [i % 3 for i in range(7)]
    assert np.allclose(data.x[:, 0, 0, 0].numpy(), np.arange(7) / 10)
    # Value labels (floats) stay values.
    values = FiniteDataset.from_torch(TensorDataset(torch.zeros(3, 2), torch.tensor([0.25, 0.0, 0.5])))
    assert values.y.dtype == torch.float64 and values.y.tolist() == [0.25, 0.0, 0.5]


def test_images_feed_a_cnn_as_its_loader_does() -> None:
    """A CNN taking (N, 1, 3, 3) images is measured on the dataset's rows unchanged, and the
    first layer's I(X;T_1) of a one-unit linear read-out with widely separated rows is log k."""
    k = 4
    images = torch.zeros(k, 1, 3, 3)
    for i in range(k):
        images[i, 0, 1, 1] = float(i)
    data = FiniteDataset.from_torch(TensorDataset(images, torch.arange(k) % 2))
    conv = nn.Conv2d(1, 1, kernel_size=3, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 1, 1] = 1.0
    beta = 0.01
    model = nn.Sequential(conv, nn.Flatten(), GaussianNoise(beta)).double()
    measured = infoflow.measure_information(model, data, n_samples=400, n_conditional=10, n_inputs=k, seed=0)
    # Rows 1 apart at beta = 0.01: the mixture's components do not overlap, I = H(X) = log 4.
    assert measured.mi_input[0] == pytest.approx(math.log(k), abs=1e-3)


class Endless(IterableDataset):
    def __iter__(self):
        yield torch.zeros(2), 0


class NoLength(Dataset):
    def __getitem__(self, index: int) -> Any:
        return torch.zeros(2), 0


BAD: dict[str, tuple[Any, dict[str, Any], tuple[str, ...]]] = {
    "iterable-style": (Endless(), {}, ("dataset", "map-style", "IterableDataset")),
    "no __len__": (NoLength(), {}, ("dataset", "__len__")),
    "a list of arrays is not pairs": ([np.zeros(2), np.zeros(2)], {}, ("dataset[0]", "pair")),
    "empty": (TensorDataset(torch.zeros(0, 2), torch.zeros(0)), {}, ("dataset", "empty")),
    "ragged inputs": (Images(5, bad={3: (np.zeros((1, 3, 4)), 0)}), {}, ("dataset[3]", "shape", "(1, 3, 4)")),
    "ragged labels": (Images(5, bad={2: (np.zeros((1, 3, 3)), [0, 1])}), {}, ("dataset[2]", "label", "shape")),
    "text input": (Images(5, bad={1: ("image", 0)}), {}, ("dataset[1]", "input", "real numbers")),
    "text label": (Images(5, bad={4: (np.zeros((1, 3, 3)), "cat")}), {}, ("dataset[4]", "label", "real numbers")),
    "NaN input": (Images(5, bad={2: (np.full((1, 3, 3), np.nan), 0)}), {}, ("dataset[2]", "NaN or inf")),
    "inf label": (Images(5, bad={4: (np.zeros((1, 3, 3)), math.inf)}), {}, ("dataset[4]", "label", "NaN or inf")),
    "a triple": (Images(5, bad={0: (np.zeros((1, 3, 3)), 0, 1)}), {}, ("dataset[0]", "pair", "length 3")),
    "limit 0": (Images(5), {"limit": 0}, ("limit", ">= 1")),
    "limit -3": (Images(5), {"limit": -3}, ("limit", ">= 1")),
    "limit a float": (Images(5), {"limit": 2.5}, ("limit", "integer")),
    "limit True": (Images(5), {"limit": True}, ("limit", "integer")),
    "too many axes": (TensorDataset(torch.zeros(2, 1, 1, 1, 1, 2), torch.zeros(2)), {}, ("dataset[0]", "axes")),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_datasets_are_one_value_error_naming_the_argument(case: str) -> None:
    dataset, kwargs, words = BAD[case]
    with pytest.raises(ValueError) as raised:
        FiniteDataset.from_torch(dataset, **kwargs)
    message = str(raised.value)
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)


def test_a_bad_row_after_the_limit_is_never_read() -> None:
    data = FiniteDataset.from_torch(Images(5, bad={4: ("image", 0)}), limit=4)
    assert data.n_rows == 4
