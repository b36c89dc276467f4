"""The test suite's wall and CPU time: the README's test command and the inner loop, in one run.

    python benchmarks/bench_suite.py [--skip-whole] [--skip-inner] [--serial]

Runs ``python -m pytest -q`` (the whole suite: the README's test command and ``.ci/run``) and
``python -m pytest -q -m "not slow"`` (the inner loop) from the repository root, one after the
other, and prints for each its wall time, its CPU time (user + system of pytest, its xdist
workers and every process they started) and pytest's last line. The targets: whole suite
<= 8 min, inner loop < 2 min, on a 2-core machine. ``--serial`` also runs each command with
``-n 0`` (one process, no xdist) right after it and prints the ratios. The machine's load
average is printed before and after: wall time on a shared machine is only as good as its quiet.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = {"whole": [], "inner": ["-m", "not slow"]}


@dataclass(frozen=True)
class Timing:
    """One pytest run: wall and CPU seconds and pytest's summary line."""

    wall: float
    cpu: float
    summary: str


def _pytest(extra: list[str]) -> Timing:
    """Run ``python -m pytest -q -p no:cacheprovider *extra`` in the repository and time it."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra]
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    summary = lines[-1] if lines else f"no output (exit {done.returncode}): {done.stderr[-500:]}"
    return Timing(wall, cpu, summary)


def _row(label: str, timing: Timing) -> str:
    return f"{label:<28} wall {timing.wall / 60:5.2f} min   CPU {timing.cpu / 60:5.2f} min   {timing.summary}"


def main() -> None:
    """Time the chosen commands and print one line each (and the -n 0 ratios with --serial)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-whole", action="store_true", help="leave out the whole suite")
    parser.add_argument("--skip-inner", action="store_true", help='leave out -m "not slow"')
    parser.add_argument("--serial", action="store_true", help="also run each command with -n 0 and print the ratios")
    args = parser.parse_args()
    chosen = [name for name in COMMANDS if not getattr(args, f"skip_{name}")]
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}  ({os.cpu_count()} CPUs)", flush=True)
    for name in chosen:
        timing = _pytest(COMMANDS[name])
        print(_row(f"{name} (-n 2, setup.cfg)", timing), flush=True)
        if args.serial:
            serial = _pytest([*COMMANDS[name], "-n", "0"])
            print(_row(f"{name} (-n 0)", serial), flush=True)
            print(f"{'':<28} -n 2 / -n 0: wall {timing.wall / serial.wall:.2f}x, CPU {timing.cpu / serial.cpu:.2f}x", flush=True)
    print(f"load average after:  {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
