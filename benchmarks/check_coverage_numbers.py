"""Do the coverage study's cases give the same intervals as another git ref? (seeds 0..N-1)

Runs every case of ``infoflow.estimators.coverage.CASES`` (default settings, as the coverage study
does) for the first ``--seeds`` estimation seeds with the code of ``--ref`` (extracted by
``git archive``) and with this checkout, each in a subprocess, and prints the largest absolute
difference of the estimates and bounds. Identical intervals on the same seeds mean the 20-seed
coverage table of ``--ref`` holds for this checkout without rerunning it.

Run: ``python benchmarks/check_coverage_numbers.py [--ref main] [--seeds 2]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench_record_cnn import ROOT, extract, run_child

CHILD = r"""
import json, sys, torch
torch.set_num_threads(1)
from infoflow import measure_information
from infoflow.estimators.coverage import CASES
out = {}
for name, make in CASES.items():
    case = make()
    for seed in range(int(sys.argv[1])):
        m = measure_information(case.net, case.inputs, seed=seed, **case.settings)
        out[f"{name}/{seed}"] = [m.mi_input, m.mi_input_lower, m.mi_input_upper, m.n_conditional]
print(json.dumps(out))
"""


def run(src: Path, seeds: int) -> dict:
    return run_child(src, CHILD, str(seeds))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ref", default="main")
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        before = run(extract(args.ref, Path(folder)), args.seeds)
    after = run(ROOT / "src", args.seeds)
    worst = 0.0
    for key, (mi, lower, upper, n_conditional) in before.items():
        new = after[key]
        worst = max([worst] + [abs(a - b) for old, now in zip((mi, lower, upper), new[:3]) for a, b in zip(old, now)])
        print(f"{key}: n_conditional {n_conditional} -> {new[3]}; lower {[round(v, 6) for v in new[1]]}, "
              f"upper {[round(v, 6) for v in new[2]]}")
    print(f"largest difference of an estimate or bound ({args.ref} vs this checkout): {worst:.2e} nats")


if __name__ == "__main__":
    main()
