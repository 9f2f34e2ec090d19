#!/usr/bin/env python
"""Pack the files of ``.txt`` training lists into one small, self-contained folder.

    python scripts/pack_lists.py runs/separation/data gpu_data/separation --max-seconds 40

Every ``*.txt`` list under SOURCE (e.g. ``train/voice.txt``) is copied to the same place under
DEST, naming copies of its files that are resampled to ``--sample-rate``, cut to their first
``--max-seconds`` and written as Ogg Vorbis (about 9 kB/s at 16 kHz mono, coding noise about
30 dB below speech), with paths relative to the list. The folder then travels where
``../shared/data`` does not (a lent GPU machine carries at most 64 MiB) and trains the same
lists in the same order: ``aural train separation --data DEST/train --val-data DEST/val``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr


def packed_name(source: Path) -> str:
    """A stable, collision-free file name for ``source``."""
    digest = hashlib.sha1(str(source.resolve()).encode()).hexdigest()[:10]
    return f"{source.stem[:40]}-{digest}.ogg"


def pack_file(source: Path, target: Path, sample_rate: int, max_seconds: float, quality: float) -> None:
    with sf.SoundFile(source) as f:
        audio = f.read(min(f.frames, int(max_seconds * f.samplerate)), dtype="float32", always_2d=True)
        rate = f.samplerate
    if rate != sample_rate:
        audio = soxr.resample(audio, rate, sample_rate, quality="VHQ")
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 0.999:  # Vorbis codes floats, but keep the copies inside full scale
        audio = audio * (0.999 / peak)
    sf.write(target, audio, sample_rate, format="OGG", subtype="VORBIS", compression_level=quality)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="folder holding the .txt lists (any depth)")
    parser.add_argument("dest", type=Path, help="the packed folder (lists + audio/)")
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--max-seconds", type=float, default=40.0)
    parser.add_argument("--quality", type=float, default=0.0,
                        help="Vorbis compression level, 0 (best quality) to 1 (smallest)")
    args = parser.parse_args()
    audio_dir = args.dest / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    for listing in sorted(args.source.rglob("*.txt")):
        lines = [line.strip() for line in listing.read_text().splitlines()]
        sources = [Path(line) if Path(line).is_absolute() else listing.parent / line
                   for line in lines if line and not line.startswith("#")]
        target_list = args.dest / listing.relative_to(args.source)
        target_list.parent.mkdir(parents=True, exist_ok=True)
        names = []
        for source in sources:
            name = packed_name(source)
            if not (audio_dir / name).exists():
                pack_file(source, audio_dir / name, args.sample_rate, args.max_seconds, args.quality)
            names.append(Path(os.path.relpath(audio_dir / name, target_list.parent)).as_posix())
        target_list.write_text("".join(f"{name}\n" for name in names))
        print(f"{target_list}: {len(names)} files")
    size_mb = sum(p.stat().st_size for p in audio_dir.iterdir()) / 1e6
    print(f"{audio_dir}: {size_mb:.1f} MB")


if __name__ == "__main__":
    main()
