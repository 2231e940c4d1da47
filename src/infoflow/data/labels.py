"""Labelling rules: the label of an input x."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class ThresholdLabels:
    """The seed's labels: ``above`` where x > threshold, else ``below``.

    fig2: ThresholdLabels(2, -1, 1) (only x = 3 is +1); fig3: ThresholdLabels(4.5, 0, 0.25);
    figs 4-6: ThresholdLabels(0, -1, 1) (the sign of x).
    """

    threshold: float = 0.0
    below: float = -1.0
    above: float = 1.0

    def __post_init__(self) -> None:
        for name in ("threshold", "below", "above"):
            object.__setattr__(self, name, _finite_number(name, getattr(self, name)))
        if self.above == self.below:
            raise ValueError(f"above and below must differ; both are {self.above}")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Return labels of shape (n, 1) for inputs x of shape (n, 1)."""
        if not isinstance(x, torch.Tensor) or x.is_complex() or x.dtype == torch.bool:
            shown = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a real tensor of inputs (n, 1); got {shown}")
        return torch.where(x > self.threshold, self.above, self.below).to(torch.float64)

    @property
    def decision_threshold(self) -> float:
        """Output value separating the classes when reading predictions (midpoint of the labels)."""
        return 0.5 * (self.below + self.above)


@dataclass(frozen=True)
class SumThresholdLabels(ThresholdLabels):
    """Labels of a vector (or a sequence): ``above`` where x_1 + ... + x_d > threshold, else ``below``.

    ``SumThresholdLabels()`` is the sign of the sum (the ``rnn`` experiment's task: the sign of
    the sum of a sequence). Accuracy thresholds the output at the midpoint of the labels.
    """

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Return labels of shape (n, 1) for inputs x of shape (n, d)."""
        if not isinstance(x, torch.Tensor) or x.is_complex() or x.dtype == torch.bool or x.ndim != 2:
            shown = f"{x.dtype} of shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a real tensor of inputs (n, d); got {shown}")
        total = x.to(torch.float64).sum(dim=1, keepdim=True)
        return torch.where(total > self.threshold, self.above, self.below).to(torch.float64)


def _finite_number(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is a finite real number (not a bool), else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    return float(value)
