"""The only place that reads and writes audio files.

Reads every format libsndfile reads (WAV, FLAC, OGG/Vorbis, MP3 where the bundled
libsndfile supports it, AIFF, ...), in blocks when asked. Writes WAV and FLAC atomically:
into a temporary file beside the target (named by :mod:`aural.atomic_files`, so that a later
run removes what a killed one left), renamed into place only when complete, and never over a
file that appeared meanwhile unless asked to overwrite. Integer
outputs are clipped to full scale; 16-bit (and 8-bit) outputs get TPDF dither.

Every failure is an :class:`AudioReadError` or :class:`AudioWriteError` whose message
starts with the path.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np
import soundfile as sf

from aural.atomic_files import rename_no_replace, temp_prefix
from aural.errors import AudioReadError, AudioWriteError

if TYPE_CHECKING:  # torch loads on the first read or write, so a CLI that fails early stays light
    import torch

    from aural.signal import Signal

AUDIO_EXTENSIONS = frozenset({
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc",
    ".au", ".snd", ".caf", ".w64", ".rf64",
})
WRITE_FORMATS = {".wav": "WAV", ".flac": "FLAC"}
SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")
DITHERED_BITS = {"PCM_16": 16, "PCM_S8": 8, "PCM_U8": 8}
DEFAULT_SUBTYPE = "PCM_24"
READ_BLOCK_SAMPLES = 1 << 16
# audio extensions of formats aural reads but does not write (``-o out.mp3`` is a usage error)
NON_WRITABLE_EXTENSIONS = (AUDIO_EXTENSIONS | {".m4a", ".aac", ".wma", ".mka", ".ape", ".alac"}) \
    - set(WRITE_FORMATS)
WAV_BYTES_PER_SAMPLE = {"PCM_U8": 1, "PCM_S8": 1, "ULAW": 1, "ALAW": 1, "PCM_16": 2, "PCM_24": 3,
                        "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}


class AudioWarning(UserWarning):
    """A readable file with a problem worth telling (e.g. truncated): ``path: problem``."""


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
    kind = file_kind(path)
    if kind == "missing":
        raise AudioReadError(f"{path}: no such file")
    if kind == "folder":
        raise AudioReadError(f"{path}: is a folder, not an audio file")
    if kind != "file":  # opening a FIFO would block; a device is never audio
        raise AudioReadError(f"{path}: is a {kind}, not an audio file")
    if os.path.getsize(path) == 0:
        raise AudioReadError(f"{path}: is empty (0 bytes)")
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


def file_kind(path: Path) -> str:
    """``file``, ``folder``, ``missing``, or what else ``path`` is (``FIFO``, ``symbolic link loop``...)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "broken symbolic link" if os.path.islink(path) else "missing"
    except OSError as exc:
        return "symbolic link loop" if exc.errno == errno.ELOOP else f"unreadable path ({exc.strerror})"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "device file"


def _reason(exc: Exception) -> str:
    text = str(exc).strip().replace("\n", " ")
    if text.startswith("Error opening"):
        text = text.split(":", 1)[-1].strip() or text
    return text or type(exc).__name__


def _check_header(path: Path, handle: sf.SoundFile) -> None:
    from aural.signal import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE

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
        declared = _wav_declared_frames(path, handle)
        if declared is not None and declared > handle.frames:
            warnings.warn(AudioWarning(f"{path}: truncated: the header declares {declared} samples, the file "
                                       f"holds {handle.frames}; only those are processed"), stacklevel=2)
        return AudioInfo(path, handle.samplerate, handle.channels, handle.frames,
                         handle.format, handle.subtype)


def _wav_declared_frames(path: Path, handle: sf.SoundFile) -> int | None:
    """The sample count a RIFF WAV header declares (None where unknown or not plain WAV)."""
    width = WAV_BYTES_PER_SAMPLE.get(handle.subtype)
    if handle.format != "WAV" or width is None:
        return None
    with open(path, "rb") as raw:
        if raw.read(12)[8:12] != b"WAVE":
            return None
        while len(header := raw.read(8)) == 8:
            size = int.from_bytes(header[4:], "little")
            if header[:4] == b"data":
                return None if size in (0, 0xFFFFFFFF) else size // (width * handle.channels)
            raw.seek(size + (size & 1), os.SEEK_CUR)
    return None


def _to_tensor(path: Path, frames: np.ndarray, offset: int) -> torch.Tensor:
    import torch

    if not np.isfinite(frames).all():
        bad = int(np.argwhere(~np.isfinite(frames))[0][0]) + offset
        raise AudioReadError(f"{path}: contains NaN or infinite samples (first at sample {bad})")
    return torch.from_numpy(np.ascontiguousarray(frames.T))


def read(path: str | os.PathLike, *, start: int = 0, frames: int | None = None) -> Signal:
    """Read a whole file (or ``frames`` samples from ``start``) as a float32 Signal."""
    from aural.signal import Signal

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


@dataclass(frozen=True)
class AudioScan:
    """Audio files found below a folder, and the entries skipped with the reason."""

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def scan_audio(folder: str | os.PathLike, exclude: tuple[Path, ...] = ()) -> AudioScan:
    """Audio files below ``folder`` (recursive, sorted, hidden entries and ``exclude`` folders
    skipped, symbolic links to folders not followed); FIFOs, devices and broken or looping
    links with an audio extension are listed in ``skipped``."""
    folder = Path(folder)
    excluded = {Path(os.path.realpath(p)) for p in exclude}
    scan = AudioScan()
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and Path(os.path.realpath(os.path.join(root, d))) not in excluded
                         and not os.path.islink(os.path.join(root, d)))
        for name in names:
            path = Path(root) / name
            if name.startswith(".") or path.suffix.lower() not in AUDIO_EXTENSIONS:
                continue
            kind = file_kind(path)
            if kind == "file":
                scan.files.append(path)
            elif kind != "folder":
                scan.skipped.append((path, kind))
    scan.files.sort()
    scan.skipped.sort()
    return scan


def find_audio(folder: str | os.PathLike) -> list[Path]:
    """Audio files below ``folder`` (see :func:`scan_audio`)."""
    return scan_audio(folder).files


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
    error, so a failed run never leaves a partial output behind. With ``overwrite=False``
    the rename refuses a target that appeared meanwhile (another process), atomically.
    """

    def __init__(self, path: str | os.PathLike, sample_rate: int, num_channels: int, *,
                 subtype: str | None = None, dither: bool = True, seed: int = 0, overwrite: bool = True):
        self.path = Path(path)
        self.overwrite = overwrite
        fmt = output_format(self.path)
        if fmt == "FLAC" and sample_rate > 655350:
            raise AudioWriteError(f"{self.path}: FLAC cannot store {sample_rate} Hz")
        self.subtype = subtype or DEFAULT_SUBTYPE
        check_subtype(self.path, self.subtype)
        self.num_channels = num_channels
        self._dither_bits = DITHERED_BITS.get(self.subtype) if dither else None
        self._integer = self.subtype.startswith("PCM")
        import torch

        self._generator = torch.Generator().manual_seed(seed)
        folder = self.path.parent
        if not folder.is_dir():
            raise AudioWriteError(f"{self.path}: output folder {folder} does not exist")
        self._tmp = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=temp_prefix(self.path.name), suffix=".part", dir=folder)
            os.close(fd)
            self._tmp = Path(tmp)
            self._handle = sf.SoundFile(tmp, "w", samplerate=sample_rate, channels=num_channels,
                                        format=fmt, subtype=self.subtype)
        except (OSError, sf.LibsndfileError, RuntimeError) as exc:
            if self._tmp is not None:
                self._tmp.unlink(missing_ok=True)
            raise AudioWriteError(f"{self.path}: cannot write ({write_error_reason(exc, folder)})") from None

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
            reason = write_error_reason(exc, self.path.parent, self._handle)
            self.abort()
            raise AudioWriteError(f"{self.path}: write failed ({reason})") from None

    def commit(self) -> Path:
        try:
            self._handle.close()
            os.chmod(self._tmp, 0o666 & ~_umask())
            if self.overwrite:
                os.replace(self._tmp, self.path)
            else:
                rename_no_replace(self._tmp, self.path)
        except FileExistsError:
            self._tmp.unlink(missing_ok=True)
            raise AudioWriteError(f"{self.path}: exists (written meanwhile by another process); "
                                  "use --overwrite to replace it") from None
        except (OSError, sf.LibsndfileError, RuntimeError) as exc:
            self._tmp.unlink(missing_ok=True)
            raise AudioWriteError(f"{self.path}: cannot move the finished file into place "
                                  f"({write_error_reason(exc, self.path.parent)})") from None
        return self.path

    def abort(self) -> None:
        if not self._handle.closed:
            try:
                self._handle.close()
            except (OSError, sf.LibsndfileError, RuntimeError):
                pass  # a full disk fails the header update too; the file goes either way
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "AudioWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_error_reason(exc: Exception, folder: Path, handle: sf.SoundFile | None = None) -> str:
    """The cause of a failed write into ``folder`` in words (``no space left on device``,
    ``permission denied in FOLDER``), never libsndfile's bare "System error."."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror.lower()} in {folder}" if exc.errno in _FOLDER_ERRORS else exc.strerror.lower()
    text = _reason(exc)
    if handle is not None and text.startswith("System error"):
        try:  # libsndfile keeps the errno text of the failed call; soundfile does not show it
            detail = sf._ffi.string(sf._snd.sf_strerror(handle._file)).decode(errors="replace")
            text = detail.split(":", 1)[-1].strip().rstrip(".") or text
        except (AttributeError, TypeError):
            pass
    if text.startswith("System error"):
        free = shutil.disk_usage(folder).free if folder.exists() else None
        if free is not None and free < (1 << 20):
            text = f"no space left on device ({free} bytes free in {folder})"
    return text[:1].lower() + text[1:]


_FOLDER_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


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
