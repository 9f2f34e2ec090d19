#!/usr/bin/env python
"""aural pipelines next to other systems on paired data (a thin wrapper around ``aural bench``).

    python benchmarks/compare.py --pairs PAIRS/ --out bench/ [any `aural bench` option]
    python benchmarks/compare.py --shared-pairs --out bench/ --max-files 20

``--shared-pairs`` benchmarks the real recorded pairs in ``$AURAL_DATA/pairs`` (default
``../shared/data`` from the repository root), whose layout is one folder per pair holding
``clean.flac`` and one or more degraded files (``noisy*.flac``, ``degraded_<kind>.flac``). They
are linked (never copied) into a temporary ``phone/`` + ``studio/`` folder with a
``manifest.jsonl`` whose ``profile`` is the degraded file's kind, so a table per kind follows.

Thread variables are set to 1 here, before numpy and torch load, so every library starts
single-threaded (``aural bench`` itself limits threads only once they are loaded).
"""

from __future__ import annotations

import os
import sys

THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS")
for _name in THREAD_ENV:
    os.environ[_name] = "1"

import json  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def link_shared_pairs(source: Path, target: Path) -> int:
    """Link ``source/<pair>/{clean,<degraded>}.*`` as ``target/{studio,phone}/<pair>__<kind>.*``."""
    from aural.io import AUDIO_EXTENSIONS

    entries = []
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)
        clean = next((p for p in files if p.stem == "clean"), None)
        if clean is None:
            continue
        for degraded in (p for p in files if p is not clean):
            kind = degraded.stem.removeprefix("degraded_")
            name = f"{folder.name}__{degraded.stem}"
            for side, path in (("studio", clean), ("phone", degraded)):
                link = target / side / f"{name}{path.suffix}"
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(path.resolve())
            entries.append({"profile": kind.split("_")[0], "phone": f"phone/{name}{degraded.suffix}",
                            "studio": f"studio/{name}{clean.suffix}"})
    (target / "manifest.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    return len(entries)


def main(argv: list[str]) -> None:
    from aural.cli import main as aural_main

    if "--shared-pairs" not in argv:
        aural_main(["bench", *argv])
        return
    argv = [a for a in argv if a != "--shared-pairs"]
    data = Path(os.environ.get("AURAL_DATA", REPO.parent / "shared" / "data"))
    if not (data / "pairs").is_dir():
        sys.exit(f"compare.py: {data / 'pairs'}: no such folder (set AURAL_DATA)")
    with tempfile.TemporaryDirectory(prefix="aural-bench-pairs-") as folder:
        count = link_shared_pairs(data / "pairs", Path(folder))
        print(f"{count} pairs from {data / 'pairs'}", file=sys.stderr)
        aural_main(["bench", "--pairs", folder, *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
