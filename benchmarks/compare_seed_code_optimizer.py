"""Do the seed's phenomena depend on the seed code's optimizer? One measured comparison.

The seed author's code never zeroed gradients between steps, so each step applied the running sum
of every gradient so far (``training.optimizer = "kong2019_code"``, old spelling "seed_code": SGD with momentum 1). The shipped
configs train with plain-SGD momentum (0.995 for fig2, 0.999 for figs 4-5) standing in for it. This
script runs each named experiment twice over the same seeds, changing nothing but the optimizer:

* ``shipped``: the shipped config as it is;
* ``seed_code``: ``optimizer = "kong2019_code"``, ``momentum = 0``, the seed's learning rate (unchanged);
* for fig2 also ``seed_code_full_batch``: additionally the seed code's one full batch of 25
  (``train_size = batch_size = 25``; the shipped fig2 uses two batches of 25),

then checks the seed's claims on every run (:func:`infoflow.papers.kong2019.claims.check_claims`)
and compares the exact I(X;T_l) trajectories (truth.py; sample propagation where there is none).

Run: ``python benchmarks/compare_seed_code_optimizer.py --out DIR [--seeds 3] [--experiments fig2 fig4]``.
Runs already complete in DIR are reused, so a rerun only prints.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from infoflow.config.schema import load_config, with_seeds
from infoflow.papers.kong2019.claims import check_claims
from infoflow.runs.reader import read_run
from infoflow.training.experiment import run_experiment
from infoflow.training.trainer import TrainingDiverged

REPORT_EPOCHS = (0, 10, 25, 50, 100, 150, 200, 300)


def variants(name: str, seeds: int) -> dict[str, object]:
    """Return {variant: config} for one experiment: the shipped config and its seed-code versions."""
    shipped = with_seeds(load_config(name), seeds)
    seed_code_training = dataclasses.replace(shipped.training, optimizer="kong2019_code", momentum=0.0)
    configs = {"shipped": shipped, "seed_code": dataclasses.replace(shipped, training=seed_code_training)}
    if name == "fig2":
        full_batch = dataclasses.replace(seed_code_training, train_size=25, batch_size=25)
        configs["seed_code_full_batch"] = dataclasses.replace(shipped, training=full_batch)
    return configs


def trajectory(run_dir: Path, seed_index: int, layer: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Return (epochs, nats, which) for one seed's I(X;T_layer): exact where recorded, else SP."""
    run = read_run(run_dir)
    if run.true_mi is not None:
        epochs, nats = run.mi_series(seed_index, layer, run.true_mi)
        if nats.size:
            return epochs, nats, "exact"
    epochs, nats = run.mi_series(seed_index, layer)
    return epochs, nats, "SP"


def describe(name: str, label: str, run_dir: Path, baseline: Path | None) -> list[str]:
    """Return report lines for one run: claims (k/K and per seed), MI at REPORT_EPOCHS, lr drop, gap to baseline."""
    run = read_run(run_dir)
    lines = [f"#### {name} / {label} ({run_dir})"]
    for result in check_claims(run_dir, name):
        tag = result.claim if result.layer is None else f"{result.claim} (T_{result.layer})"
        lines.append(f"- {tag}: {result.seeds_passed}/{result.seeds_total} seeds pass")
        lines.extend(f"  - seed {o.seed}: {'PASS' if o.passed else 'FAIL'} {o.detail}" for o in result.per_seed)
    for index, seed in enumerate(run.seeds):
        drops = np.flatnonzero(np.diff(run.lr[index]) < 0)
        drop = f"lr drop after epoch {int(run.epochs[drops[0]])}" if drops.size else "no lr drop"
        final_accuracy = float(run.accuracy[index][np.isfinite(run.accuracy[index])][-1])
        for layer in range(1, run.n_layers + 1):
            epochs, nats, which = trajectory(run_dir, index, layer)
            shown = ", ".join(f"{e}: {nats[epochs == e][0]:.3f}" for e in REPORT_EPOCHS if np.any(epochs == e))
            gap = ""
            if baseline is not None:
                base_epochs, base_nats, _ = trajectory(baseline, index, layer)
                common, here, there = np.intersect1d(epochs, base_epochs, return_indices=True)
                if common.size:
                    gap = f"; mean |I - I_shipped| {np.mean(np.abs(nats[here] - base_nats[there])):.3f} nats"
            lines.append(
                f"- seed {int(seed)} {which} I(X;T_{layer}) [{shown}]; peak {np.max(nats):.3f} at epoch "
                f"{int(epochs[np.argmax(nats)])}{gap}; {drop}; final test accuracy {final_accuracy:.3f}"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for the run folders")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per run (default 3)")
    parser.add_argument("--experiments", nargs="+", default=["fig2"], help="shipped experiments (default fig2)")
    arguments = parser.parse_args()
    report: list[str] = []
    for name in arguments.experiments:
        baseline = None
        for label, config in variants(name, arguments.seeds).items():
            run_dir = arguments.out / f"{name}-{label}"
            started = time.perf_counter()
            try:
                run_experiment(config, run_dir, resume=True, missing_ok=True, progress=False)
            except TrainingDiverged as error:
                report.append(f"#### {name} / {label}: diverged ({error})")
                continue
            print(f"{name} / {label}: {time.perf_counter() - started:.1f} s", flush=True)
            report.extend(describe(name, label, run_dir, baseline))
            baseline = baseline or run_dir
    print("\n".join(report))


if __name__ == "__main__":
    main()
