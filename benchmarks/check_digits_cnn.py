"""The issue-17 check on a real network: a noisy CNN on the 8x8 digits (1797 rows, 10 classes).

Noise layers of 512, 256, 32 and 10 units (beta 0.1), trained a few epochs with cross-entropy in a
plain torch loop, then one default ``measure_information`` with ``FiniteDataset``. Prints, per
layer, I(X;T_l) and I(T_l;Y) with their bounds and flags, and checks: no value negative, none above
log 1797, data processing between the layers' bounds, unresolved layers flagged.

Data: the digits shipped with infoflow (``infoflow.data.digits``); for an older infoflow without
them, scikit-learn's when installed, else ``--digits-csv`` (the digits.csv.gz file of a
scikit-learn wheel), else a synthetic stand-in of the same shape (said so).
Run: ``python benchmarks/check_digits_cnn.py [--digits-csv PATH] [--epochs N]``.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from torch import nn

from infoflow import FiniteDataset, GaussianNoise, measure_information


def load_digits(path: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    try:
        from infoflow.data.digits import load_digits as shipped_digits

        x, y = shipped_digits()
        return x, y, "the digits shipped with infoflow (scikit-learn 1.6.1's copy)"
    except ImportError:
        pass  # an older infoflow (the benchmark's "before" tree) without the shipped copy
    try:
        from sklearn.datasets import load_digits as sklearn_digits

        data = sklearn_digits()
        return data.data / 16.0, data.target, "scikit-learn digits"
    except ImportError:
        pass
    if path:
        table = np.loadtxt(path, delimiter=",")
        return table[:, :64] / 16.0, table[:, 64].astype(int), f"digits from {path}"
    generator = np.random.default_rng(0)
    prototypes = generator.uniform(0, 1, (10, 64))
    labels = np.arange(1797) % 10
    x = np.clip(prototypes[labels] + 0.25 * generator.standard_normal((1797, 64)), 0, 1)
    return x, labels, "SYNTHETIC stand-in (1797 x 64, 10 classes): scikit-learn digits unavailable"


def noisy_cnn(beta: float = 0.1) -> nn.Module:
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 8, 3, padding=1), nn.Tanh(), GaussianNoise(beta),   # 8 x 8 x 8 = 512 units
        nn.Conv2d(8, 4, 3, padding=1), nn.Tanh(), GaussianNoise(beta),   # 4 x 8 x 8 = 256 units
        nn.Flatten(), nn.Linear(256, 32), nn.Tanh(), GaussianNoise(beta),  # 32 units
        nn.Linear(32, 10), GaussianNoise(beta),                             # 10 units (logits)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--digits-csv", default=None)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    x, y, source = load_digits(args.digits_csv)
    print(source)
    torch.manual_seed(0)
    net = noisy_cnn().double()
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    for _ in range(args.epochs):
        for rows in torch.randperm(len(x)).split(128):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(net(xt[rows]), yt[rows])
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        accuracy = float((net(xt).argmax(1) == yt).double().mean())
    print(f"trained {args.epochs} epochs: accuracy {accuracy:.3f} (noisy output)")
    started = time.perf_counter()
    m = measure_information(net, FiniteDataset(x, y), seed=0)
    print(f"one default measurement: {time.perf_counter() - started:.1f} s")
    log_n = math.log(len(x))
    print(f"H(X) = log 1797 = {log_n:.3f}; H(Y) = {math.log(10):.3f} (nearly uniform classes)")
    print("layer | I(X;T) [lower, upper] resolved source | I(T;Y) [lower, upper] resolved | SP alone I(X;T)")
    for layer in range(len(m.mi_input)):
        print(
            f"{layer + 1} | {m.mi_input[layer]:.3f} [{m.mi_input_lower[layer]:.3f}, {m.mi_input_upper[layer]:.3f}] "
            f"{m.mi_input_resolved[layer]} {m.mi_input_source[layer]} | {m.mi_label[layer]:.3f} "
            f"[{m.mi_label_lower[layer]:.3f}, {m.mi_label_upper[layer]:.3f}] {m.mi_label_resolved[layer]} | "
            f"{m.mi_input_by_estimator['sp'][layer]:.3f}"
        )
    values = m.mi_input + m.mi_label + m.mi_input_lower + m.mi_label_lower
    assert min(values) >= 0.0, "negative value"
    assert max(m.mi_input_upper + m.mi_input) <= log_n + 1e-9, "above log 1797"
    for layer in range(1, len(m.mi_input)):
        assert m.mi_input_upper[layer] <= m.mi_input_upper[layer - 1] and m.mi_input_lower[layer] <= m.mi_input_lower[layer - 1]
    for layer in range(len(m.mi_input)):
        assert m.mi_label_upper[layer] <= m.mi_input_upper[layer]
    print("checks passed: no negative value, nothing above log 1797, bounds consistent with data processing")


if __name__ == "__main__":
    main()
