"""Benchmark our any-dimension entropy engine against the anchor's KDE + Monte Carlo, at equal SE.

The anchor (Goldfeld et al.'s public code) estimates h(P_hat * N(0, beta^2 I)) by fitting
``sklearn.neighbors.KernelDensity(kernel="gaussian", bandwidth=beta)`` on the n centres, drawing
evaluation points t = s_i + beta z and taking h = -mean(kde.score_samples(t)); its standard error
is sd / sqrt(#evaluations). Here it gets exactly the number of evaluations it needs for the target
standard error, from a pilot (the pilot's draws are kept), and ours gets the same target.

Sample sets are "SZT-like": the 4096 12-bit inputs of Shwartz-Ziv & Tishby (all of {0, 1}^12,
mapped to +-1) pushed through a random tanh layer 12 -> d with weights ~ N(0, 1/12) * scale. At
scale 1 the points are separated at beta = 0.005 (nearest neighbours >= ~13 beta apart) and
overlap at beta = 0.1. Both methods run in one process, one after the other, on the same sets;
timings cover the whole estimate (fit, pilot, evaluations) and nothing else.

Run: ``python benchmarks/bench_kde.py [--target 0.01] [--scales 1.0] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from sklearn.neighbors import KernelDensity

from infoflow.entropy import monte_carlo_entropy

N_BITS = 12
KDE_PILOT = 1000


def szt_like_layer(dim: int, scale: float, seed: int = 0) -> np.ndarray:
    """Return tanh(X W) for the 4096 inputs X in {-1, 1}^12, W ~ N(0, 1/12) * scale; shape (4096, dim)."""
    patterns = np.arange(2**N_BITS)
    bits = (patterns[:, None] >> np.arange(N_BITS - 1, -1, -1)) & 1  # big-endian, as in the data's README
    inputs = 2.0 * bits - 1.0
    weights = np.random.default_rng(seed).normal(0.0, math.sqrt(1 / N_BITS), size=(N_BITS, dim)) * scale
    return np.tanh(inputs @ weights)


def kde_entropy(centres: np.ndarray, beta: float, target: float, seed: int) -> tuple[float, float, int]:
    """The anchor's estimate with just enough evaluations for ``target``: (nats, SE, evaluations)."""
    rng = np.random.default_rng(seed)
    n, dim = centres.shape
    kde = KernelDensity(kernel="gaussian", bandwidth=beta).fit(centres)

    def draw(count: int) -> np.ndarray:
        owners = rng.integers(0, n, size=count)
        return -kde.score_samples(centres[owners] + beta * rng.standard_normal((count, dim)))

    values = draw(KDE_PILOT)
    needed = math.ceil(values.var(ddof=1) / target**2)
    if needed > len(values):
        values = np.concatenate([values, draw(needed - len(values))])
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values))), len(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.01, help="standard error both must reach (nats)")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0], help="weight scales of the tanh layer")
    parser.add_argument("--repeats", type=int, default=5, help="best-of repeats for ours (the KDE runs once)")
    args = parser.parse_args()
    print(f"n = {2**N_BITS} SZT-like points, target SE {args.target} nats, torch threads {torch.get_num_threads()}")
    header = f"{'d':>3} {'beta':>6} {'scale':>5} | {'ours (nats +- SE)':>22} {'evals':>6} {'algo':>6} {'time':>8}"
    print(header + f" | {'KDE (nats +- SE)':>22} {'evals':>6} {'time':>8} | {'ratio':>6} {'|diff|/SE':>9}")
    ratios = []
    for scale in args.scales:
        for dim in (5, 10):
            centres = szt_like_layer(dim, scale)
            points = torch.from_numpy(centres).unsqueeze(0)
            for beta in (0.005, 0.1):
                monte_carlo_entropy(points, beta, target_std_error=args.target, seed=99)  # warm-up, untimed
                ours_s = math.inf
                for repeat in range(args.repeats):
                    start = time.perf_counter()
                    estimate = monte_carlo_entropy(points, beta, target_std_error=args.target, seed=repeat)
                    ours_s = min(ours_s, time.perf_counter() - start)
                ours, ours_se = float(estimate.nats[0]), float(estimate.std_error[0])
                start = time.perf_counter()
                kde, kde_se, kde_evaluations = kde_entropy(centres, beta, args.target, seed=1)
                kde_s = time.perf_counter() - start
                combined = math.hypot(ours_se, kde_se)
                ratios.append(kde_s / ours_s)
                print(
                    f"{dim:>3} {beta:>6} {scale:>5} | {ours:>12.4f} +- {ours_se:.4f} {int(estimate.n_evaluations[0]):>6}"
                    f" {estimate.algorithm[0]:>6} {ours_s * 1e3:>6.1f}ms | {kde:>12.4f} +- {kde_se:.4f}"
                    f" {kde_evaluations:>6} {kde_s * 1e3:>6.0f}ms | {kde_s / ours_s:>5.1f}x {abs(ours - kde) / combined:>9.2f}"
                )
                if abs(ours - kde) > 4 * combined:
                    print(f"    DISAGREEMENT: |difference| {abs(ours - kde):.4f} > 4 combined SEs ({4 * combined:.4f})")
    print(f"smallest ratio (KDE time / ours): {min(ratios):.1f}x")


if __name__ == "__main__":
    main()
