"""Time one default measurement with and without bounds, side by side in one process.

"Before" is today's code path without the bounds (``bounds=False``: the SP estimates alone, the
same draws and entropies as before bounds existed); "after" is the default (``bounds=True``);
"exact kernel" is the default with the one-dimensional binned mixture switched off (every
cross-entropy and influence value summed over all centres, as the bounds first shipped), to show
what ``infoflow.entropy.binned_mixture`` saves.
Cases: the seed's tanh-tanh on X ~ N(0, 0.25) with labels (figs 4-5's measurement), the seed's
leaky-leaky on X uniform on 1..8 (fig 3), and a linear 3-6-4 net on a 3-D Gaussian (Monte Carlo).
Run: ``python benchmarks/bench_bounds.py [--repeats N]``; prints best-of-N seconds and the ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from infoflow import DiscreteUniform, Gaussian, NoisyMLP, measure_information
from infoflow.data.labels import ThresholdLabels
from infoflow.entropy import cross_entropy


def scalar(widths, activation, weights, biases):
    net = NoisyMLP(widths, activation, 0.05)
    with torch.no_grad():
        for linear, weight, bias in zip(net.linears, weights, biases):
            linear.weight.fill_(weight)
            linear.bias.fill_(bias)
    return net


def cases():
    torch.manual_seed(3)
    linear = NoisyMLP([3, 6, 4], "linear", 0.05)
    return {
        "tanh-tanh, Gaussian X, labels": (scalar([1, 1, 1], "tanh", [3.0, 3.0], [0.0, 0.0]), Gaussian(0.0, 0.25),
                                          ThresholdLabels(0.0, -1.0, 1.0)),
        "leaky-leaky, X on 1..8, labels": (scalar([1, 1, 1], "leaky_relu", [0.4, -1.2], [-1.5, 0.5]),
                                           DiscreteUniform(list(range(1, 9))), ThresholdLabels(4.5, 0.0, 0.25)),
        "linear 3-6-4, 3-D Gaussian X": (linear, Gaussian(np.zeros(3), np.eye(3)), None),
        "leaky-tanh, Gaussian X, labels, fig5's n_samples = 4000": (
            scalar([1, 1, 1], ["leaky_relu", "tanh"], [6.0, 1.5], [1.0, -2.0]), Gaussian(0.0, 0.25),
            ThresholdLabels(0.0, -1.0, 1.0), {"n_samples": 4000, "n_inputs": 500}),
    }


def best_times(functions, repeats):
    """Best-of-``repeats`` seconds of each function, the calls alternating (a shared machine's load hits all)."""
    times = [[] for _ in functions]
    for _ in range(repeats):
        for function, spent in zip(functions, times):
            start = time.perf_counter()
            function()
            spent.append(time.perf_counter() - start)
    return [min(spent) for spent in times]


def exact_kernel(net, inputs, labels, settings):
    """The default measurement with every mixture log density summed over all centres."""
    binned = cross_entropy.MAX_GRID_ENTRIES
    cross_entropy.MAX_GRID_ENTRIES = -1  # no grid is small enough: the exact sum everywhere
    try:
        return measure_information(net, inputs, labels, seed=0, **settings)
    finally:
        cross_entropy.MAX_GRID_ENTRIES = binned


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("| case | before: bounds=False (s) | after: bounds=True (s) | ratio | bounds, exact kernel (s) | binned saves |")
    print("|---|---|---|---|---|---|")
    for name, (net, inputs, labels, *extra) in cases().items():
        settings = extra[0] if extra else {}
        before, after, exact = best_times(
            [
                lambda: measure_information(net, inputs, labels, seed=0, bounds=False, **settings),
                lambda: measure_information(net, inputs, labels, seed=0, **settings),
                lambda: exact_kernel(net, inputs, labels, settings),
            ],
            args.repeats,
        )
        print(f"| {name} | {before:.3f} | {after:.3f} | {after / before:.2f}x | {exact:.3f} | {exact / after:.2f}x |")


if __name__ == "__main__":
    main()
