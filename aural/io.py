"""The only place that reads and writes audio files.

Reads every format libsndfile reads (WAV, FLAC, OGG/Vorbis, MP3 where the bundled
libsndfile supports it, AIFF, ...), in blocks when asked. Writes WAV and FLAC atomically:
into a temporary file beside the target, renamed over it only when complete. Integer
outputs are clipped to full scale; 16-bit (and 8-bit) outputs get TPDF dither.

Every failure is an :class:`AudioReadError` or :class:`AudioWriteError` whose message
starts with the path.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
import torch

from aural.errors import AudioReadError, AudioWriteError
from aural.signal import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, Signal

AUDIO_EXTENSIONS = frozenset({
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc",
    ".au", ".snd", ".caf", ".w64", ".rf64",
})
WRITE_FORMATS = {".wav": "WAV", ".flac": "FLAC"}
SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")
DITHERED_BITS = {"PCM_16": 16, "PCM_S8": 8, "PCM_U8": 8}
DEFAULT_SUBTYPE = "PCM_24"
READ_BLOCK_SAMPLES = 1 << 16


@dataclass(frozen=True)
class AudioInfo:
    path: Path
    sample_rate: int
    num_channels: int
    num_frames: int
    format: str
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.sample_rate


def _open_for_reading(path: Path) -> sf.SoundFile:
    if not path.exists():
        raise AudioReadError(f"{path}: no such file")
    if path.is_dir():
        raise AudioReadError(f"{path}: is a folder, not an audio file")
    try:
        handle = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioReadError(f"{path}: not a readable audio file ({_reason(exc)})") from None
    try:
        _check_header(path, handle)
    except AudioReadError:
        handle.close()
        raise
    return handle


def _reason(exc: Exception) -> str:
    text = str(exc).strip().replace("\n", " ")
    if text.startswith("Error opening"):
        text = text.split(":", 1)[-1].strip() or text
    return text or type(exc).__name__


def _check_header(path: Path, handle: sf.SoundFile) -> None:
    if not MIN_SAMPLE_RATE <= handle.samplerate <= MAX_SAMPLE_RATE:
        raise AudioReadError(f"{path}: unsupported sample rate {handle.samplerate} Hz")
    if handle.channels < 1:
        raise AudioReadError(f"{path}: has no channels")
    if handle.frames == 0:
        raise AudioReadError(f"{path}: contains no audio (0 samples)")


def info(path: str | os.PathLike) -> AudioInfo:
    """Format facts without reading the samples."""
    path = Path(path)
    with _open_for_reading(path) as handle:
        return AudioInfo(path, handle.samplerate, handle.channels, handle.frames,
                         handle.format, handle.subtype)


def _to_tensor(path: Path, frames: np.ndarray, offset: int) -> torch.Tensor:
    if not np.isfinite(frames).all():
        bad = int(np.argwhere(~np.isfinite(frames))[0][0]) + offset
        raise AudioReadError(f"{path}: contains NaN or infinite samples (first at sample {bad})")
    return torch.from_numpy(np.ascontiguousarray(frames.T))


def read(path: str | os.PathLike, *, start: int = 0, frames: int | None = None) -> Signal:
    """Read a whole file (or ``frames`` samples from ``start``) as a float32 Signal."""
    path = Path(path)
    with _open_for_reading(path) as handle:
        try:
            handle.seek(start)
            data = handle.read(-1 if frames is None else frames, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioReadError(f"{path}: corrupt or truncated audio ({_reason(exc)})") from None
        if data.shape[0] == 0:
            raise AudioReadError(f"{path}: contains no audio (0 samples)")
        audio = _to_tensor(path, data, start)
        return Signal(audio, handle.samplerate, {"source": str(path), "subtype": handle.subtype})


def iter_blocks(path: str | os.PathLike, block_samples: int = READ_BLOCK_SAMPLES) -> Iterator[torch.Tensor]:
    """Stream ``(channels, <= block_samples)`` float32 blocks of a file."""
    path = Path(path)
    with _open_for_reading(path) as handle:
        offset = 0
        while True:
            try:
                data = handle.read(block_samples, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise AudioReadError(f"{path}: corrupt or truncated audio at sample {offset} "
                                     f"({_reason(exc)})") from None
            if data.shape[0] == 0:
                return
            yield _to_tensor(path, data, offset)
            offset += data.shape[0]


def find_audio(folder: str | os.PathLike) -> list[Path]:
    """Audio files below ``folder`` (recursive, sorted, hidden files skipped)."""
    folder = Path(folder)
    found = [p for p in folder.rglob("*")
             if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    return sorted(found)


def output_format(path: Path) -> str:
    fmt = WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise AudioWriteError(f"{path}: cannot write {path.suffix or 'files without an extension'}; "
                              f"use {' or '.join(WRITE_FORMATS)}")
    return fmt


def check_subtype(path: Path, subtype: str) -> None:
    fmt = output_format(path)
    if subtype not in SUBTYPES or not sf.check_format(fmt, subtype):
        allowed = [s for s in SUBTYPES if sf.check_format(fmt, s)]
        raise AudioWriteError(f"{path}: subtype {subtype} is not available for {fmt}; "
                              f"use one of {', '.join(allowed)}")


class AudioWriter:
    """Write blocks to a temporary file; ``commit`` renames it into place.

    Used as a context manager it commits on success and removes the temporary file on any
    error, so a failed run never leaves a partial output behind.
    """

    def __init__(self, path: str | os.PathLike, sample_rate: int, num_channels: int, *,
                 subtype: str | None = None, dither: bool = True, seed: int = 0):
        self.path = Path(path)
        fmt = output_format(self.path)
        if fmt == "FLAC" and sample_rate > 655350:
            raise AudioWriteError(f"{self.path}: FLAC cannot store {sample_rate} Hz")
        self.subtype = subtype or DEFAULT_SUBTYPE
        check_subtype(self.path, self.subtype)
        self.num_channels = num_channels
        self._dither_bits = DITHERED_BITS.get(self.subtype) if dither else None
        self._integer = self.subtype.startswith("PCM")
        self._generator = torch.Generator().manual_seed(seed)
        folder = self.path.parent
        if not folder.is_dir():
            raise AudioWriteError(f"{self.path}: output folder {folder} does not exist")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=folder)
            os.close(fd)
            self._tmp = Path(tmp)
            self._handle = sf.SoundFile(tmp, "w", samplerate=sample_rate, channels=num_channels,
                                        format=fmt, subtype=self.subtype)
        except (OSError, sf.LibsndfileError, RuntimeError) as exc:
            if getattr(self, "_tmp", None) is not None:
                self._tmp.unlink(missing_ok=True)
            raise AudioWriteError(f"{self.path}: cannot write ({_reason(exc)})") from None

    def write(self, audio: torch.Tensor) -> None:
        if audio.shape[0] != self.num_channels:
            raise AudioWriteError(f"{self.path}: block has {audio.shape[0]} channels, "
                                  f"file has {self.num_channels}")
        if audio.shape[1] == 0:
            return
        if self._dither_bits:
            from aural.dsp.dither import tpdf_dither

            audio = tpdf_dither(audio, self._dither_bits, self._generator)
        if self._integer:
            audio = audio.clamp(-1.0, 1.0)
        try:
            self._handle.write(np.ascontiguousarray(audio.detach().cpu().numpy().T))
        except (OSError, sf.LibsndfileError, RuntimeError) as exc:
            self.abort()
            raise AudioWriteError(f"{self.path}: write failed ({_reason(exc)})") from None

    def commit(self) -> Path:
        self._handle.close()
        try:
            os.chmod(self._tmp, 0o666 & ~_umask())
            os.replace(self._tmp, self.path)
        except OSError as exc:
            self._tmp.unlink(missing_ok=True)
            raise AudioWriteError(f"{self.path}: cannot move the finished file into place "
                                  f"({_reason(exc)})") from None
        return self.path

    def abort(self) -> None:
        if not self._handle.closed:
            self._handle.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "AudioWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write(signal: Signal, path: str | os.PathLike, *, subtype: str | None = None,
          dither: bool = True) -> Path:
    """Write a whole Signal atomically (WAV or FLAC by extension)."""
    with AudioWriter(path, signal.sample_rate, signal.num_channels, subtype=subtype,
                     dither=dither) as writer:
        for start in range(0, signal.num_samples, READ_BLOCK_SAMPLES):
            writer.write(signal.audio[:, start:start + READ_BLOCK_SAMPLES])
    return Path(path)
