"""Start-up time of the light ``aural`` commands against a bare ``python -c pass``.

    python benchmarks/startup.py                 # 15 runs of each, table on stdout
    python benchmarks/startup.py --runs 30 --json
    python benchmarks/startup.py --checkout ../main    # another checkout, for before/after

Each command runs as a fresh process (``python -m aural ...`` with this checkout first on
``PYTHONPATH``) from the repository root; the figure is the median wall time over the runs,
after one untimed warm-up run of each (file cache). Load on the machine inflates every row
alike, so ``python -c pass`` is the floor to read the others against. Nothing here is a test;
``tests/cli/test_startup.py`` checks that these commands import no torch, scipy or numba.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "aural --help": ["-m", "aural", "--help"],
    "aural --version": ["-m", "aural", "--version"],
    "aural stages": ["-m", "aural", "stages"],
    "aural validate pipelines/phone_to_studio.yaml": ["-m", "aural", "validate", "pipelines/phone_to_studio.yaml"],
}


def wall_times_s(args: list[str], runs: int, checkout: Path) -> list[float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(checkout), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, *args]
    subprocess.run(command, cwd=checkout, env=env, check=True, capture_output=True)  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=checkout, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command")
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    parser.add_argument("--checkout", type=Path, default=REPO, help="the aural checkout to time (default: this one)")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = []
    for name, command in COMMANDS.items():
        times = wall_times_s(command, args.runs, args.checkout.resolve())
        rows.append({"command": name, "median_s": round(statistics.median(times), 3),
                     "min_s": round(min(times), 3), "max_s": round(max(times), 3), "runs": args.runs})
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load:.2f} at start\n")
    print("| command | median s | min s | max s |")
    print("|---|---:|---:|---:|")
    for row in rows:
        print(f"| `{row['command']}` | {row['median_s']:.3f} | {row['min_s']:.3f} | {row['max_s']:.3f} |")


if __name__ == "__main__":
    main()
