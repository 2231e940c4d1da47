"""One measured epoch of the seed's runs, the code of a git ref against this checkout: CPU time and where it goes.

For each experiment (default fig4 and fig5, seed 0, shipped configs) a child process trains to
``--epoch`` without measuring, then records ``--epochs`` epochs (training and measuring, as a run
does) twice: once timed (CPU time, ``time.process_time``) and once under cProfile for the split
into parts (draws, SP's estimates and its conditional quadrature, the bounds, the PDF grids, the
exact MI, training). The "before" child runs ``src`` of ``--before-ref`` (extracted with ``git
archive``), the "after" child this checkout; they alternate ``--repeats`` times and the best CPU
time of each is kept (each child records one epoch untimed first, so one-time costs such as
loading compiled loops stay out). Training is bit for bit the same in both, so both measure the same network
states. Every child uses one thread.

Run: ``python benchmarks/bench_epoch_refs.py [--before-ref 747977d] [--epoch 150] [--epochs 5] [--repeats 2] [fig4 fig5]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from bench_record_cnn import ROOT, extract, run_child

CHILD = r"""
import cProfile, json, pstats, sys, time
import torch
torch.set_num_threads(1)
from infoflow.config.loading import load_config
from infoflow.training.build import build_trainer

name, epoch, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
PARTS = {  # label: (file suffix, function name); cumulative CPU time of each
    "draws": ("estimators/draws.py", "draw_samples"),
    "SP estimates": ("estimators/sp_estimates.py", "estimate_all"),
    "  of which conditional h(T|X)": ("estimators/sp_estimates.py", "_expected_conditional_entropy"),
    "bounds": ("estimators/brackets.py", "information_brackets"),
    "PDF grids": ("measure/probe.py", "_densities"),
    "exact MI": ("measure/probe.py", "_true_information"),
    "training": ("training/trainer.py", "_train_one_epoch"),
}

def trainer_at():
    trainer = build_trainer(load_config(name), 0)
    schedule, trainer.schedule = trainer.schedule, set()
    run = trainer.run()
    for record in run:
        if record.epoch >= epoch:
            break
    trainer.schedule = schedule
    return run

# Warm-up: one recorded epoch first, so one-time costs (loading compiled loops, cached constants)
# fall outside the timing, on both sides alike.
next(trainer_at())
run = trainer_at()
started = time.process_time()
for _ in range(epochs):
    next(run)
cpu = (time.process_time() - started) / epochs
run = trainer_at()
profile = cProfile.Profile(time.process_time)
profile.enable()
for _ in range(epochs):
    next(run)
profile.disable()
stats = pstats.Stats(profile).stats
parts = {}
for label, (suffix, function) in PARTS.items():
    parts[label] = sum(value[3] for (path, _, fn), value in stats.items() if fn == function and path.endswith(suffix)) / epochs
total = sum(value[2] for value in stats.values()) / epochs
print(json.dumps({"cpu": cpu, "parts": parts, "profiled_total": total}))
"""


def child(src: Path, name: str, epoch: int, epochs: int) -> dict:
    """Run the child on ``src``; return its JSON."""
    return run_child(src, CHILD, name, str(epoch), str(epochs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=["fig4", "fig5"])
    parser.add_argument("--before-ref", default="747977d")
    parser.add_argument("--epoch", type=int, default=150)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(f"load average {tuple(round(v, 2) for v in os.getloadavg())} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as folder:
        sources = {"before": extract(args.before_ref, Path(folder)), "after": ROOT / "src"}
        results: dict[str, dict[str, dict]] = {}
        for name in args.names:
            best: dict[str, dict] = {}
            for _ in range(args.repeats):
                for label, src in sources.items():
                    result = child(src, name, args.epoch, args.epochs)
                    if label not in best or result["cpu"] < best[label]["cpu"]:
                        best[label] = result
            results[name] = best
    print(f"\nCPU ms per recorded epoch from epoch {args.epoch} ({args.epochs} epochs, best of {args.repeats}, "
          f"before = {args.before_ref}, after = this checkout)")
    print("| experiment | before | after | ratio |")
    print("|---|---|---|---|")
    for name, best in results.items():
        before, after = best["before"]["cpu"], best["after"]["cpu"]
        print(f"| {name} | {1000 * before:.0f} | {1000 * after:.0f} | {before / after:.2f}x |")
    for name, best in results.items():
        print(f"\n{name}: where an epoch goes (cProfile, CPU ms per epoch; the profiler adds its own overhead)")
        print("| part | before | after |")
        print("|---|---|---|")
        for label in best["before"]["parts"]:
            print(f"| {label} | {1000 * best['before']['parts'][label]:.1f} | {1000 * best['after']['parts'][label]:.1f} |")
        print(f"| (profiled total) | {1000 * best['before']['profiled_total']:.1f} | {1000 * best['after']['profiled_total']:.1f} |")


if __name__ == "__main__":
    main()
