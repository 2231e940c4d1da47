"""label_classes numbers classes exactly as torch.unique(rows, dim=0) does."""

from __future__ import annotations

import pytest
import torch

from infoflow.estimators.label_classes import label_classes


@pytest.mark.parametrize(
    "values",
    [
        torch.tensor([1.0, -1.0, -1.0, 1.0, 0.25, 0.0]),
        torch.tensor([[3], [1], [2], [1]]),
        torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]),
        torch.randint(0, 5, (1000, 1), generator=torch.Generator().manual_seed(0)).to(torch.float64),
    ],
)
def test_same_classes_as_unique_rows(values: torch.Tensor) -> None:
    n = values.shape[0]
    index, count = label_classes(values, n, torch.device("cpu"))
    classes, expected = torch.unique(values.reshape(n, -1), dim=0, return_inverse=True)
    assert count == classes.shape[0] and torch.equal(index, expected)


def test_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="one label per input"):
        label_classes(torch.zeros(3), 4, torch.device("cpu"))
