"""Cost of one probe record at real width: the digits CNN, every row, default settings, bounds on.

The network and data of ``benchmarks/check_digits_cnn.py``: scikit-learn's 1797 8x8 digits
(``FiniteDataset(x, y)``, all rows), noise layers of 512, 256, 32 and 10 units, beta 0.1, trained
20 epochs (seed 0). One ``InformationProbe(net, data).record(1)`` with default settings (bounds,
labels, densities) is timed in a fresh subprocess per variant, alternating:

* "before": the code of a git ref (default ``main``), extracted with ``git archive`` into a
  temporary folder and put first on the child's PYTHONPATH: today's cost, exactly;
* "after": this checkout's ``src``.

Peak memory is the child's ``resource.getrusage(RUSAGE_SELF).ru_maxrss``: the kernel's high-water
mark of the process's resident memory, which counts torch's allocations (tracemalloc sees only
Python's allocator, not torch's). It includes the interpreter, torch and the training (about
0.3-0.4 GB, printed as "before record"), so it over-states the record's own peak.

Run: ``python benchmarks/bench_record_cnn.py --digits-csv PATH [--repeats 2] [--before-ref main]``
(PATH: the digits.csv.gz of a scikit-learn wheel; scikit-learn itself is used when installed).
The machine's other load changes wall times: the script prints the load average with each run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
import torch
sys.path.insert(0, sys.argv[2])
from check_digits_cnn import load_digits, noisy_cnn
from infoflow import FiniteDataset, InformationProbe
x, y, _ = load_digits(sys.argv[1] or None)
torch.manual_seed(0)
net = noisy_cnn().double()
optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
xt, yt = torch.as_tensor(x), torch.as_tensor(y)
for _ in range(20):
    for rows in torch.randperm(len(x)).split(128):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(xt[rows]), yt[rows]).backward()
        optimizer.step()
probe = InformationProbe(net, FiniteDataset(x, y))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
started = time.perf_counter()
record = probe.record(1)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak": peak, "before_record": before,
                  "mi": record.mi_input, "lower": record.mi_lower, "upper": record.mi_upper,
                  "mi_label": record.mi_label}))
"""


def extract(ref: str, into: Path) -> Path:
    """Write ``src`` of git ``ref`` into ``into``; return the folder to put on PYTHONPATH."""
    archive = into / "src.tar"
    with open(archive, "wb") as out:
        subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def run_child(src: Path, code: str, *arguments: str) -> dict:
    """Run ``python -c code arguments`` with ``src`` first on PYTHONPATH; return the JSON of its last line."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run([sys.executable, "-c", code, *arguments], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"child failed ({src}, {' '.join(arguments)}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(src: Path, digits_csv: str) -> dict:
    return run_child(src, CHILD, digits_csv, str(ROOT / "benchmarks"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--digits-csv", default="")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--before-ref", default="main")
    args = parser.parse_args()
    gib = 2**30
    results: dict[str, list[dict]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as folder:
        sources = {"before": extract(args.before_ref, Path(folder)), "after": ROOT / "src"}
        for repeat in range(args.repeats):
            for name in ("before", "after") if repeat % 2 == 0 else ("after", "before"):
                outcome = run(sources[name], args.digits_csv)
                results[name].append(outcome)
                print(
                    f"{name:6s} ({args.before_ref if name == 'before' else 'this checkout'}): record "
                    f"{outcome['seconds']:6.1f} s, peak {outcome['peak'] / gib:.2f} GiB "
                    f"(before record {outcome['before_record'] / gib:.2f} GiB), load average "
                    f"{os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    best = {name: min(r["seconds"] for r in runs) for name, runs in results.items()}
    peak = {name: max(r["peak"] for r in runs) for name, runs in results.items()}
    print(f"best of {args.repeats}: before {best['before']:.1f} s, after {best['after']:.1f} s, "
          f"ratio {best['before'] / best['after']:.1f}x faster; peak before {peak['before'] / gib:.2f} GiB, "
          f"after {peak['after'] / gib:.2f} GiB ({os.cpu_count()} cores)")
    last = results["after"][-1]
    for layer, (mi, lower, upper) in enumerate(zip(last["mi"], last["lower"], last["upper"]), start=1):
        label = last["mi_label"][layer - 1] if last["mi_label"] else float("nan")
        print(f"after, layer {layer}: I(X;T) {mi:.3f} [{lower:.3f}, {upper:.3f}], I(T;Y) {label:.3f}")


if __name__ == "__main__":
    main()
