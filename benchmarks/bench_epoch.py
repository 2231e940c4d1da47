"""Profile one measured epoch of the seed's fig4 and fig5 runs, exact kernel vs binned, in one process.

Each experiment (seed 0, its shipped config) is trained without measuring to epoch ``--epoch``;
then the next ``--epochs`` epochs are recorded twice from the same trainer state: once with every
mixture log density of the bounds summed over all centres (the bounds as first shipped, "before")
and once with the one-dimensional binned mixture (today's default, "after"), alternating. Prints
CPU seconds per epoch of each and the ratio, then the top functions of the "after" profile.

Run: ``python benchmarks/bench_epoch.py [--epoch 150] [--epochs 5] [--top 12]``.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import io
import pstats
import time

import torch

from infoflow.config.loading import load_config
from infoflow.entropy import cross_entropy
from infoflow.training.build import build_trainer


def trained_to(name: str, epoch: int):
    """Return the seed-0 trainer of ``name`` after ``epoch`` epochs trained without measuring."""
    trainer = build_trainer(load_config(name), 0)
    schedule, trainer.schedule = trainer.schedule, set()
    for record in trainer.run():
        if record.epoch >= epoch:
            break
    trainer.schedule = schedule
    return trainer


def timed_epochs(trainer, state, epochs: int, exact: bool, profile: cProfile.Profile | None) -> float:
    """Return CPU seconds per epoch of ``epochs`` recorded epochs from ``state``."""
    trainer.load_state_dict(copy.deepcopy(state))
    binned = cross_entropy.MAX_GRID_ENTRIES
    cross_entropy.MAX_GRID_ENTRIES = -1 if exact else binned
    started = time.process_time()
    try:
        if profile is not None:
            profile.enable()
        run = trainer.run()
        for _ in range(epochs):
            next(run)
    finally:
        if profile is not None:
            profile.disable()
        cross_entropy.MAX_GRID_ENTRIES = binned
    return (time.process_time() - started) / epochs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epoch", type=int, default=150)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| experiment | before: exact kernel (CPU ms/epoch) | after: binned (CPU ms/epoch) | ratio |")
    print("|---|---|---|---|")
    profiles = {}
    for name in ("fig4", "fig5"):
        trainer = trained_to(name, args.epoch)
        state = copy.deepcopy(trainer.state_dict())
        # Warm-up, untimed: one-time costs (loading compiled loops, cached constants) stay out.
        timed_epochs(trainer, state, 1, False, None)
        profile = cProfile.Profile(time.process_time)
        before = timed_epochs(trainer, state, args.epochs, True, None)
        after = timed_epochs(trainer, state, args.epochs, False, profile)
        profiles[name] = profile
        print(f"| {name} | {1000 * before:.0f} | {1000 * after:.0f} | {before / after:.1f}x |")
    for name, profile in profiles.items():
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(args.top)
        print(f"\n{name}, after, top {args.top} by cumulative CPU time over {args.epochs} epochs:")
        print("\n".join(line for line in text.getvalue().splitlines() if line.strip()[:1].isdigit()))


if __name__ == "__main__":
    main()
