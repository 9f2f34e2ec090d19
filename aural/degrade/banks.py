"""A folder of recordings (noises, room or microphone impulse responses) to draw from."""

from __future__ import annotations

import math
import os
from pathlib import Path

from aural import io
from aural.degrade.level import SILENCE_DB
from aural.errors import UsageError


class AudioBank:
    """Audio files below ``root`` addressed by their relative path (what manifests record).

    File facts and levels are read lazily and cached per process; nothing is held open, so a
    bank can be copied into DataLoader workers.
    """

    def __init__(self, root: str | os.PathLike, *, what: str = "audio"):
        self.root = Path(root)
        self.what = what
        if not self.root.is_dir():
            raise UsageError(f"{self.root}: {what} folder does not exist")
        self.files = [p.relative_to(self.root).as_posix() for p in io.find_audio(self.root)]
        if not self.files:
            raise UsageError(f"{self.root}: {what} folder holds no audio files")
        self._info: dict[str, io.AudioInfo] = {}
        self._rms: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self.files)

    def __repr__(self) -> str:
        return f"AudioBank({str(self.root)!r}, {len(self.files)} files)"

    def path(self, rel: str) -> Path:
        return self.root / rel

    def info(self, rel: str) -> io.AudioInfo:
        if rel not in self._info:
            self._info[rel] = io.info(self.path(rel))
        return self._info[rel]

    def read(self, rel: str, start: int = 0, frames: int | None = None):
        return io.read(self.path(rel), start=start, frames=frames)

    def rms_db(self, rel: str) -> float:
        """RMS level of the whole file (channels averaged), streamed and cached."""
        if rel not in self._rms:
            total, count = 0.0, 0
            for block in io.iter_blocks(self.path(rel)):
                total += float(block.double().pow(2).mean(dim=0).sum())
                count += block.shape[1]
            power = total / max(count, 1)
            self._rms[rel] = max(SILENCE_DB, 10.0 * math.log10(power)) if power > 0 else SILENCE_DB
        return self._rms[rel]
