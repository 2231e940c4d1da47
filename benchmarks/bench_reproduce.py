"""Time the seed experiments: per experiment, per epoch, and the cost of recording the exact MI.

Each shipped experiment runs once in this process on one thread (as ``infoflow reproduce`` runs
each of them), with the time spent inside ``true_mutual_information`` clocked separately; the
overhead is that time over the rest of the run. (Timing two whole runs, with and without the
exact MI, and subtracting was tried first: on a shared machine the difference was noise of +-40 %.)

Run: ``python benchmarks/bench_reproduce.py [--epochs N] [fig2 ...]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import infoflow.training.trainer as training
from infoflow.config.schema import load_config, shipped_experiments
from infoflow.training.experiment import run_experiment


class ClockedTruth:
    """Wraps ``true_mutual_information`` and adds up the seconds spent in it."""

    def __init__(self, function) -> None:
        self.function = function
        self.seconds = 0.0

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="experiments (default: all shipped)")
    parser.add_argument("--epochs", type=int, help="shorten every run to this many epochs")
    args = parser.parse_args()
    names = args.names or shipped_experiments()
    print(f"{'experiment':<10} {'epochs':>6} {'total s':>8} {'ms/epoch':>9} {'exact MI s':>11} {'overhead':>9}")
    grand_total = 0.0
    original = training.true_mutual_information
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            config = load_config(name)
            if args.epochs:
                config = dataclasses.replace(config, training=dataclasses.replace(config.training, epochs=args.epochs))
            clock = ClockedTruth(original)
            training.true_mutual_information = clock
            try:
                start = time.perf_counter()
                run_experiment(config, Path(scratch) / name, progress=False)
                seconds = time.perf_counter() - start
            finally:
                training.true_mutual_information = original
            manifest = json.loads((Path(scratch) / name / "manifest.json").read_text())
            assert manifest["status"] == "complete", manifest
            epochs = config.training.epochs
            grand_total += seconds
            print(
                f"{name:<10} {epochs:>6} {seconds:>8.2f} {1e3 * seconds / (epochs + 1):>9.1f} "
                f"{clock.seconds:>11.2f} {100 * clock.seconds / (seconds - clock.seconds):>8.1f}%"
            )
    print(f"all experiments one after another: {grand_total:.1f} s (infoflow reproduce runs them 2 at a time)")


if __name__ == "__main__":
    main()
