"""Benchmark the SP entropy engine against the obvious baselines, side by side in one process.

(a) 500 sets x 1000 one-dimensional samples shaped like a seed network's second-layer
    conditionals: batched quadrature (Hermite fast Gauss transform) vs the dense-grid evaluation
    (full Gaussian sum on a grid of step beta/5), with the largest difference.
(b) The seed code's way: scipy ``quad`` over [-10, 10] of -p log p per entropy, timed on a few
    sets and extrapolated to the batch.
(c) Monte Carlo in d = 5, n = 4096 (s.d. 0.3 = 6 beta) with m = 4 draws per point: dense, cut-off and
    automatic kernel sums, in dense-equivalent kernel evaluations per second.
(d) The same set to a target standard error (pilot-sized, control variate).

Run: ``python benchmarks/bench_entropy.py [--quick]``.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from scipy import integrate

from infoflow.data.distributions import Gaussian
from infoflow.entropy import dense_quadrature_entropy, monte_carlo_entropy, quadrature_entropy
from infoflow.entropy.quadrature import STEP_RATIO
from infoflow.papers.kong2019.networks import seed_network

BETA = 0.05


def best_time(function, repeats: int) -> tuple[float, object]:
    """Return the best wall time in seconds over ``repeats`` calls and the last result."""
    best, result = math.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def second_layer_conditionals(n_inputs: int, n_conditional: int) -> torch.Tensor:
    """Return S_2 | X=x samples of a trained-looking tanh-tanh seed network, shape (n_inputs, n_conditional, 1)."""
    net = seed_network("tanh-tanh", BETA)
    with torch.no_grad():
        net.linears[0].weight.fill_(3.0)
        net.linears[1].weight.fill_(2.5)
        net.linears[1].bias.fill_(0.1)
    generator = torch.Generator().manual_seed(0)
    x = Gaussian(0.0, 0.25).sample(n_inputs, generator)
    repeated = x.repeat_interleave(n_conditional, dim=0)
    with torch.no_grad():
        clean = net.propagate(repeated, generator).clean[1]
    return clean.reshape(n_inputs, n_conditional, 1)


def seed_code_entropy(samples: np.ndarray, beta: float) -> float:
    """-integral p log p over [-10, 10] with scipy quad, p the Gaussian mixture (the seed code's way)."""

    def integrand(t: float) -> float:
        density = np.mean(np.exp(-0.5 * ((t - samples) / beta) ** 2)) / (beta * math.sqrt(2 * math.pi))
        return -density * math.log(density) if density > 0 else 0.0

    return integrate.quad(integrand, -10, 10, limit=200)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeats = 2 if args.quick else 5

    sets = second_layer_conditionals(500, 1000)
    print(f"(a) 500 sets x 1000 samples, second-layer conditionals of tanh-tanh (beta={BETA})")
    ours_s, ours = best_time(lambda: quadrature_entropy(sets, BETA), repeats)
    dense_s, dense = best_time(lambda: dense_quadrature_entropy(sets, BETA, step_ratio=0.2), max(1, repeats // 2))
    error = float((ours - dense).abs().max())
    print(f"    ours (Hermite FGT, step beta*{STEP_RATIO}): {ours_s * 1e3:6.1f} ms")
    print(f"    dense grid (step beta/5):       {dense_s * 1e3:9.1f} ms")
    print(f"    speed-up: {dense_s / ours_s:.1f}x   max |difference|: {error:.2e} nats")

    few = 3 if args.quick else 6
    start = time.perf_counter()
    seed_values = [seed_code_entropy(s[:, 0].numpy(), BETA) for s in sets[:few]]
    per_entropy = (time.perf_counter() - start) / few
    seed_error = max(abs(v - float(o)) for v, o in zip(seed_values, ours[:few]))
    print(f"(b) seed code's way (scipy quad on [-10, 10]): {per_entropy * 1e3:.1f} ms per entropy,")
    print(
        f"    extrapolated to 500 sets: {per_entropy * 500:.1f} s  ->  ratio {per_entropy * 500 / ours_s:.0f}x;"
        f" its max |difference| from ours on {few} sets: {seed_error:.2e} nats"
    )

    generator = torch.Generator().manual_seed(0)
    points = torch.randn(1, 4096, 5, generator=generator, dtype=torch.float64) * 0.3
    n_noise = 4
    kernel_evaluations = 4096 * n_noise * 4096
    for algorithm in ("dense", "cutoff", "auto"):
        mc_s, estimate = best_time(
            lambda: monte_carlo_entropy(points, BETA, n_noise=n_noise, seed=1, algorithm=algorithm), repeats
        )
        print(
            f"(c) Monte Carlo, d=5, n=4096, m={n_noise}, {algorithm:>6} ({estimate.algorithm[0]}): {mc_s * 1e3:.1f} ms,"
            f" {kernel_evaluations / mc_s:.2e} dense-equivalent kernel evaluations/s"
            f" (h = {float(estimate.nats[0]):.4f} +- {float(estimate.std_error[0]):.4f} nats)"
        )
    for target in (0.01, 0.003):
        mc_s, estimate = best_time(lambda: monte_carlo_entropy(points, BETA, target_std_error=target, seed=1), repeats)
        print(
            f"(d) Monte Carlo to SE {target}: {mc_s * 1e3:.1f} ms, {int(estimate.n_evaluations[0])} evaluation points"
            f" ({estimate.algorithm[0]}; h = {float(estimate.nats[0]):.4f} +- {float(estimate.std_error[0]):.4f} nats)"
        )


if __name__ == "__main__":
    main()
