#!/usr/bin/env python
"""aural pipelines next to other systems on paired data (a thin wrapper around ``aural bench``).

    python benchmarks/compare.py --pairs PAIRS/ --out bench/ [any `aural bench` option]
    python benchmarks/compare.py --shared-pairs --out bench/ --max-files 20

``--shared-pairs`` benchmarks the real recorded pairs in ``$AURAL_DATA/pairs`` (default
``../shared/data`` from the repository root), whose layout is one folder per pair holding
``clean.flac`` and one or more degraded files (``noisy*.flac``, ``degraded_<kind>.flac``).
``aural bench --pairs`` reads that layout as it is; here the pairs are linked (never copied)
into a temporary ``phone/`` + ``studio/`` folder with a ``manifest.jsonl`` naming each pair's
group (``degraded_<kind>``: the kind; else the folder's first word: ``vbd``, ``nhans``,
``emgse``), so a table per group follows.

Thread variables are set to 1 here, before numpy and torch load, so every library starts
single-threaded (``aural bench`` itself limits threads only once they are loaded).
"""

from __future__ import annotations

import os
import sys

from aural.threads import POOL_ENV  # light: imports no numpy or torch

for _name in POOL_ENV:
    os.environ[_name] = "1"

import json  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def link_shared_pairs(source: Path, target: Path) -> int:
    """Link every pair of ``source`` (one folder per pair, see :func:`aural.evaluate.pairs.match_pairs`)
    as ``target/{studio,phone}/<folder>__<degraded stem>.*``, with a ``manifest.jsonl`` whose
    ``profile`` is the pair's group: the kind of a ``degraded_<kind>`` file, else the folder
    name's first word (``vbd``, ``nhans``, ``emgse``)."""
    from aural.evaluate.pairs import match_pairs

    matching, _ = match_pairs(source)
    if message := matching.unmatched_message():
        print(f"{source}: {message}", file=sys.stderr)
    entries = []
    for pair in matching.pairs:
        folder, stem = pair.file.split("/")
        group = stem.removeprefix("degraded_") if stem.startswith("degraded_") else folder.split("_")[0]
        name = f"{folder}__{stem}"
        for side, path in (("studio", pair.reference), ("phone", pair.degraded)):
            link = target / side / f"{name}{path.suffix}"
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path.resolve())
        entries.append({"profile": group, "phone": f"phone/{name}{pair.degraded.suffix}",
                        "studio": f"studio/{name}{pair.reference.suffix}"})
    (target / "manifest.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    return len(entries)


def shared_pairs_dir() -> Path:
    """``$AURAL_DATA/pairs`` (default ``../shared/data/pairs``); a missing folder ends the script."""
    pairs = Path(os.environ.get("AURAL_DATA", REPO.parent / "shared" / "data")) / "pairs"
    if not pairs.is_dir():
        sys.exit(f"{Path(sys.argv[0]).name}: {pairs}: no such folder (set AURAL_DATA)")
    return pairs


def main(argv: list[str]) -> None:
    from aural.cli import main as aural_main

    if "--shared-pairs" not in argv:
        aural_main(["bench", *argv])
        return
    argv = [a for a in argv if a != "--shared-pairs"]
    pairs = shared_pairs_dir()
    with tempfile.TemporaryDirectory(prefix="aural-bench-pairs-") as folder:
        count = link_shared_pairs(pairs, Path(folder))
        print(f"{count} pairs from {pairs}", file=sys.stderr)
        aural_main(["bench", "--pairs", folder, *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
