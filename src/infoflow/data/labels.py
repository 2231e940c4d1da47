"""Labelling rules: the label of an input x."""

from __future__ import annotations

from dataclasses import dataclass

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

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Return labels of shape (n, 1) for inputs x of shape (n, 1)."""
        return torch.where(x > self.threshold, self.above, self.below).to(torch.float64)

    @property
    def decision_threshold(self) -> float:
        """Output value separating the classes when reading predictions (midpoint of the labels)."""
        return 0.5 * (self.below + self.above)
