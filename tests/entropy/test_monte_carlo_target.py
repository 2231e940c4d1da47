"""The Monte-Carlo engine meets its target standard error, or says it did not (issue 19)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import infoflow.entropy.monte_carlo as monte_carlo
from infoflow import sp_entropy
from infoflow.data.szt import szt_dataset


def szt_like_layer(seed: int, n: int = 1000) -> torch.Tensor:
    """A tanh layer of width 10 fed the SZT patterns: clusters that overlap at beta = 0.1."""
    x = szt_dataset("all").x.numpy()
    rng = np.random.default_rng(seed)
    weights, bias = rng.normal(size=(12, 10)), rng.normal(size=10)
    return torch.from_numpy(np.tanh(x @ weights + bias)[:n])


# Seeds 4 and 8 are ones whose pilot under-estimated the variance (0.0111 and 0.0102 before top-ups).
@pytest.mark.parametrize("seed", [4, 8])
def test_target_standard_error_is_met(seed: int) -> None:
    points = szt_like_layer(seed)
    _, std_error = sp_entropy(
        points, 0.1, method="monte_carlo", target_std_error=0.01, return_std_error=True, seed=seed
    )
    assert float(std_error) <= 0.01
    estimate = monte_carlo.monte_carlo_entropy(points[None], 0.1, target_std_error=0.01, seed=seed)
    assert estimate.target_met is not None and bool(estimate.target_met.all())


def test_a_missed_target_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(monte_carlo, "MAX_TOP_UPS", 0)  # the pilot's count alone
    estimate = monte_carlo.monte_carlo_entropy(szt_like_layer(4)[None], 0.1, target_std_error=0.01, seed=4)
    assert float(estimate.std_error[0]) > 0.01
    assert estimate.target_met is not None and not bool(estimate.target_met[0])


def test_fixed_draws_have_no_target() -> None:
    estimate = monte_carlo.monte_carlo_entropy(torch.zeros(1, 3, 4), 1.0, n_noise=2)
    assert estimate.target_met is None
