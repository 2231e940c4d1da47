"""Time ``infoflow reproduce --seeds K``: wall time, per-experiment compute, pass fractions, machine load.

Runs the command in a fresh folder (a subprocess, so the time includes imports and the Dask
cluster), once per source tree given: the current tree, and optionally a baseline (another
checkout's ``src``) for a side-by-side ratio. The load average is printed before and after: on a
shared machine the times mean little without it.

Run: ``python benchmarks/bench_seeds.py --seeds 10 [--jobs 2] [--baseline-src /path/to/old/src] [fig4 ...]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "src"


def reproduce_once(src: Path, names: list[str], seeds: int, jobs: int | None, out: Path) -> dict[str, object]:
    """Run the reproduction from ``src`` into ``out``; return wall time, compute times and pass fractions."""
    command = [sys.executable, "-m", "infoflow", "reproduce", *names, "--out", str(out), "--seeds", str(seeds)]
    command += ["--no-progress"] + (["--jobs", str(jobs)] if jobs else [])
    environment = dict(os.environ, PYTHONPATH=str(src))
    load_before = os.getloadavg()
    started = time.perf_counter()
    finished = subprocess.run(command, env=environment, capture_output=True, text=True)
    wall = time.perf_counter() - started
    compute = {}
    for manifest in sorted(out.glob("*/manifest.json")):
        timings = json.loads(manifest.read_text())["timings_s"]
        compute[manifest.parent.name] = (timings["total"], timings["per_seed"])
    reports = sorted(out.glob("report*.md"))
    claims = []
    if reports:
        pattern = r"^\| (fig\d) \| (C\d(?: \(T_\d\))?) \| (PASS|FAIL) \| ([^|]+) \|$"
        claims = [" ".join(row).strip() for row in re.findall(pattern, reports[0].read_text(), re.M)]
    summary = "; ".join(claims)
    return {
        "returncode": finished.returncode,
        "stderr_tail": finished.stderr.strip().splitlines()[-3:],
        "wall_s": wall,
        "compute_s": compute,
        "claims": summary,
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }


def show(label: str, result: dict[str, object]) -> None:
    print(f"== {label}: wall {result['wall_s']:.1f} s (exit {result['returncode']})")
    print(f"   load average before {tuple(round(v, 2) for v in result['load_before'])}, "
          f"after {tuple(round(v, 2) for v in result['load_after'])} on {os.cpu_count()} cores")
    total = 0.0
    for name, (seconds, per_seed) in result["compute_s"].items():
        total += seconds
        seeds = ", ".join(f"{value:.1f}" for value in per_seed)
        print(f"   {name}: compute {seconds:.1f} s (per seed: {seeds})")
    print(f"   compute, all experiments: {total:.1f} s")
    print(f"   claims: {result['claims']}")
    if result["returncode"]:
        print("   stderr: " + " | ".join(result["stderr_tail"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="experiments (default: fig2..fig6)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, help="local Dask workers (default: one per core)")
    parser.add_argument("--baseline-src", type=Path, help="another checkout's src folder, timed the same way after")
    parser.add_argument("--keep", type=Path, help="write the outputs here instead of a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch)
        current = reproduce_once(SOURCE, args.names, args.seeds, args.jobs, root / "current")
        show(f"current ({SOURCE})", current)
        if args.baseline_src:
            baseline = reproduce_once(args.baseline_src, args.names, args.seeds, args.jobs, root / "baseline")
            show(f"baseline ({args.baseline_src})", baseline)
            print(f"speed-up (baseline wall / current wall): {baseline['wall_s'] / current['wall_s']:.2f}x")


if __name__ == "__main__":
    main()
