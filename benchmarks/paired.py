#!/usr/bin/env python
"""The file-by-file comparison of ``aural bench --baseline``, from a saved ``bench.json``, against
any system of that run (no system runs again).

    python benchmarks/paired.py OUT/bench.json --baseline SYSTEM [--systems A,B]

Prints, overall and per profile, each system minus the baseline: mean, 95 % bootstrap interval,
files better / worse, ▲ / ▼ where the interval excludes zero (:mod:`aural.evaluate.paired`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aural.evaluate.paired import differences, differences_markdown


def tables(report: dict, baseline: str, systems: list[str]) -> str:
    """The overall table and one per profile, as ``aural bench --baseline`` prints them."""
    metrics = report["metrics"]
    directions = {name: report["metric_info"][name]["higher_is_better"] for name in metrics}
    scores = {spec: report["systems"][spec]["scores"] for spec in [baseline, *systems]}
    profiles = sorted({profile for profile in report["files"].values() if profile})
    parts = []
    for profile in [None, *profiles]:
        files = {f for f, p in report["files"].items() if profile is None or p == profile}
        title = "all files" if profile is None else f"profile `{profile}`"
        parts.append(f"{title} ({len(files)}), " + differences_markdown(
            differences(scores, baseline, metrics, directions, files), baseline, metrics))
    return "\n\n".join(parts)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench_json", type=Path)
    parser.add_argument("--baseline", required=True, help="a system of that run")
    parser.add_argument("--systems", default=None, help="systems to compare (default: every other one that ran)")
    args = parser.parse_args(argv)
    try:
        report = json.loads(args.bench_json.read_text())
    except (OSError, ValueError) as exc:
        sys.exit(f"{args.bench_json}: not a readable bench.json ({exc})")
    ran = [spec for spec, run in report.get("systems", {}).items() if run.get("ran")]
    wanted = [s.strip() for s in args.systems.split(",")] if args.systems else [s for s in ran if s != args.baseline]
    unknown = [s for s in [args.baseline, *wanted] if s not in ran]
    if unknown:
        sys.exit(f"{args.bench_json}: {', '.join(unknown)}: not a system that ran there ({', '.join(ran)})")
    print(tables(report, args.baseline, wanted))


if __name__ == "__main__":
    main(sys.argv[1:])
