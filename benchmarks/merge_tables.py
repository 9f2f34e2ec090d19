#!/usr/bin/env python
"""One markdown table from several ``aural bench`` results on the same pairs.

    python benchmarks/merge_tables.py BENCH_DIR[/bench.json][::SYSTEM[::LABEL]] ... [--metrics a,b,c]

Each argument names a bench result and, optionally, one of its systems and the label to show
for it (default: every system, under its own name). Rows come overall first, then per profile
(or group) when the benches have them; columns are the metrics every bench has (or
``--metrics``) and the CPU real-time factor. Benches of different pairs are refused.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SEPARATOR = "::"


def load(spec: str) -> tuple[dict, str | None, str | None]:
    path, system, label = (spec.split(SEPARATOR) + [None, None])[:3]
    path = Path(path)
    path = path / "bench.json" if path.is_dir() else path
    if not path.is_file():
        sys.exit(f"merge_tables.py: {path}: no bench.json there")
    bench = json.loads(path.read_text())
    if system and not any(row["system"] == system for row in bench["table"]):
        sys.exit(f"merge_tables.py: {path}: no system {system!r} "
                 f"(has {', '.join(row['system'] for row in bench['table'])})")
    return bench, system, label


def merge(specs: list[str], metrics: list[str] | None = None) -> str:
    loaded = [load(spec) for spec in specs]
    first = loaded[0][0]
    for (bench, _, _), spec in zip(loaded[1:], specs[1:]):
        if sorted(bench.get("files", {})) != sorted(first.get("files", {})):  # names, wherever the folder was
            sys.exit(f"merge_tables.py: {spec} scored other pairs than {specs[0]}")
    metrics = metrics or [m for m in first["metrics"] if all(m in b["metrics"] for b, _, _ in loaded)]

    def rows(table: list[dict], system: str | None, label: str | None) -> list[tuple[str, dict]]:
        picked = [row for row in table if system in (None, row["system"])]
        return [(label or f"`{row['system']}`", row) for row in picked]

    def line(scope: str, label: str, row: dict) -> str:
        cells = [f"{row[m]:.3f}" if row.get(m) is not None else "n/a" for m in metrics]
        return f"| {scope} | {label} | " + " | ".join(cells) + f" | {row['rtf_cpu']:.4f} |"

    out = ["| pairs | system | " + " | ".join(metrics) + " | cpu rtf |",
           "|---|---|" + "---:|" * (len(metrics) + 1)]
    for bench, system, label in loaded:
        out += [line(f"all ({bench['num_files']})", name, row) for name, row in rows(bench["table"], system, label)]
    for profile in sorted(first.get("profiles", {})):
        count = None
        for bench, system, label in loaded:
            table = bench.get("profiles", {}).get(profile, [])
            for name, row in rows(table, system, label):
                count = count or row.get("files")
                out.append(line(f"{profile} ({count})" if count else profile, name, row))
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benches", nargs="+", metavar="BENCH[::SYSTEM[::LABEL]]")
    parser.add_argument("--metrics", default=None, help="metrics to show, separated by commas")
    args = parser.parse_args(argv)
    print(merge(args.benches, args.metrics.split(",") if args.metrics else None), end="")


if __name__ == "__main__":
    main(sys.argv[1:])
