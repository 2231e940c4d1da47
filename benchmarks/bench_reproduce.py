"""Time the seed experiments: per experiment, per epoch, and the cost of recording the exact MI.

Each shipped experiment runs twice in this process, one after the other, on one thread (as
``infoflow reproduce`` runs them): with ``true_information`` on (the shipped setting) and off, so
the ratio is the overhead of recording ``true_mi_nats`` next to the SP estimate.

Run: ``python benchmarks/bench_reproduce.py [--epochs N] [fig2 ...]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

from infoflow.experiments import load_config, run_experiment, shipped_experiments


def timed_run(config, folder: Path) -> tuple[float, int]:
    """Return (wall seconds, epochs) of one run of ``config`` into ``folder``."""
    start = time.perf_counter()
    run_experiment(config, folder, progress=False)
    seconds = time.perf_counter() - start
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete", manifest
    return seconds, config.training.epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="experiments (default: all shipped)")
    parser.add_argument("--epochs", type=int, help="shorten every run to this many epochs")
    args = parser.parse_args()
    names = args.names or shipped_experiments()
    print(f"{'experiment':<10} {'epochs':>6} {'total s':>8} {'ms/epoch':>9} {'without truth s':>16} {'truth overhead':>15}")
    grand_total = 0.0
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            config = load_config(name)
            if args.epochs:
                config = dataclasses.replace(config, training=dataclasses.replace(config.training, epochs=args.epochs))
            without = dataclasses.replace(config, estimation=dataclasses.replace(config.estimation, true_information=False))
            # Warm up (first calls pay for lazy initialisation) so neither variant is charged for it.
            warm_up = dataclasses.replace(config, training=dataclasses.replace(config.training, epochs=2))
            timed_run(warm_up, Path(scratch) / f"{name}-warm-up")
            seconds, epochs = timed_run(config, Path(scratch) / f"{name}-truth")
            seconds_without, _ = timed_run(without, Path(scratch) / f"{name}-plain")
            grand_total += seconds
            print(
                f"{name:<10} {epochs:>6} {seconds:>8.2f} {1e3 * seconds / (epochs + 1):>9.1f} "
                f"{seconds_without:>16.2f} {100 * (seconds / seconds_without - 1):>14.1f}%"
            )
    print(f"all runs one after another (shipped settings): {grand_total:.1f} s")


if __name__ == "__main__":
    main()
