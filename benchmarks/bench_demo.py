#!/usr/bin/env python
"""Benchmark of the README's demo, ``medpair run --demo --out demo_out``, from scratch.

Runs the demo in a subprocess in a fresh temporary folder (``--runs N`` times, each in its own
folder) and prints, per run: wall time, the CPU time of the run (user + system, all its
threads), the machine's load average before and after (other work on the machine slows the
run down), the ratio of the wall time to the 2-minute target, and whether the report is
byte-identical to the first run's.

Usage::

    python benchmarks/bench_demo.py            # one run
    python benchmarks/bench_demo.py --runs 2   # and check that a second run writes the same report
    taskset -c 0,1 python benchmarks/bench_demo.py   # on 2 cores of a larger machine

The temporary folders are deleted unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 120.0
REPORT_FILES = ("report.md", "comparisons.json", "comparisons.csv", "forest.png")


def _medpair() -> str:
    found = shutil.which("medpair", path=str(Path(sys.executable).parent)) or shutil.which("medpair")
    if not found:
        raise SystemExit("the medpair command is not installed (pip install -e .)")
    return found


def run_once(folder: Path) -> tuple[float, float, tuple[float, float]]:
    """Wall seconds, CPU seconds and (load before, load after) of one demo run in ``folder``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run([_medpair(), "run", "--demo", "--out", "demo_out"], cwd=folder,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the demo failed ({done.returncode}):\n{done.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, (load_before, os.getloadavg()[0])


def main() -> int:
    """Run the benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="demo runs, each in a fresh folder (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"medpair run --demo, from scratch; {cores} CPU cores available to this process")
    root = Path(tempfile.mkdtemp(prefix="medpair-bench-demo-"))
    try:
        first: dict[str, bytes] = {}
        for number in range(1, args.runs + 1):
            folder = root / f"run{number}"
            folder.mkdir()
            wall, cpu, (load_before, load_after) = run_once(folder)
            report = {name: (folder / "demo_out" / "report" / name).read_bytes() for name in REPORT_FILES}
            first = first or report
            same = "same report as run 1" if report == first else "REPORT DIFFERS from run 1"
            print(f"run {number}: wall {wall:.1f} s ({wall / TARGET_S:.2f}x the {TARGET_S:.0f} s target), "
                  f"CPU {cpu:.1f} s, load average {load_before:.1f} before / {load_after:.1f} after; {same}")
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
