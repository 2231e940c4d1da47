"""Time one training epoch of the seed's networks: hand-written MSE gradients vs autograd, in one process.

For each shipped experiment (seed 0) the trainer is built, then training epochs (no measurement)
run alternately with the trainer's gradient plan (``infoflow.training.backprop``, today's
default) and with ``torch.autograd.grad`` (the plan switched off), each from the same network
and optimizer state, so both sides do the same steps; the parameters after each pair must be
identical (printed). Prints ms per epoch, best of ``--repeats``, and the ratio.

Run: ``python benchmarks/bench_training.py [--repeats 5] [--epochs 5] [fig3 ...]``.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

import infoflow.training.trainer as trainer_module
from infoflow.config.loading import load_config
from infoflow.training.build import build_trainer


def epoch_ms(trainer, state, epochs: int, plan: bool) -> tuple[float, list[torch.Tensor]]:
    """Run ``epochs`` training epochs from ``state``; return ms per epoch and the parameters after."""
    original = trainer_module.mse_gradient_plan
    if not plan:
        trainer_module.mse_gradient_plan = lambda *arguments: None
    try:
        net_state, updates_state, generator_state = copy.deepcopy(state)
        trainer.net.load_state_dict(net_state)
        trainer.updates.load_state_dict(updates_state)
        trainer.generators["train"].set_state(generator_state)
        started = time.perf_counter()
        for _ in range(epochs):
            trainer._train_one_epoch()
        elapsed = time.perf_counter() - started
    finally:
        trainer_module.mse_gradient_plan = original
    return elapsed / epochs * 1e3, [parameter.detach().clone() for parameter in trainer.parameters]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=["fig2", "fig3", "fig4", "fig5", "fig6"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("ms per training epoch (no measurement), best of", args.repeats)
    print("| experiment | steps per epoch | plan (ours) | autograd | ratio | same parameters |")
    print("|---|---|---|---|---|---|")
    for name in args.names:
        trainer = build_trainer(load_config(name), 0)
        trainer._train_one_epoch()  # warm up both paths' first-call costs
        state = copy.deepcopy((trainer.net.state_dict(), trainer.updates.state_dict(), trainer.generators["train"].get_state()))
        ours, baseline, same = [], [], True
        for _ in range(args.repeats):
            fast, after_fast = epoch_ms(trainer, state, args.epochs, plan=True)
            slow, after_slow = epoch_ms(trainer, state, args.epochs, plan=False)
            ours.append(fast)
            baseline.append(slow)
            same &= all(torch.equal(a, b) for a, b in zip(after_fast, after_slow))
        steps = -(-trainer.training.train_size // trainer.training.batch_size)
        print(
            f"| {name} | {steps} | {min(ours):.2f} | {min(baseline):.2f} | {min(baseline) / min(ours):.2f}x | {same} |"
        )


if __name__ == "__main__":
    main()
