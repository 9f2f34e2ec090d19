"""Studio/phone pairs: draw a profile's chain for a clean file, render it, write it, reproduce it.

The studio reference is the clean source (resampled to the working rate when asked),
scaled to ``reference_level_db`` active level (by at most +40 dB, without exceeding the
peak ceiling); with ``reference="early"`` (the default) it also keeps the direct path and
early reflections of the chain's room, see :mod:`aural.degrade.reference`. The phone file is the profile's chain applied to that reference, at
the same rate, length and channel count. If the phone file (or the early reference) would peak
above ``PEAK_CEILING`` both are scaled down together by ``pair_gain_db``. Every gain and every
drawn parameter goes into the manifest entry, from which :func:`reproduce` renders the
identical pair.

Files longer than ``chunk_seconds`` are rendered in chunks (each with the context its
transforms need on either side and a 10 ms crossfade), so memory stays flat for long
recordings; the chunk size is recorded so a reproduction chunks the same way.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from aural import __version__, io
from aural.degrade.banks import AudioBank
from aural.degrade.base import Chain, DrawContext, Params, Resources, db_to_gain, fit_length
from aural.degrade.codecs import ffmpeg_version, find_ffmpeg
from aural.degrade.level import SILENCE_DB, active_level_from_powers, frame_powers, frame_samples
from aural.degrade.profiles import Profile, get_profile
from aural.degrade.reference import (DEFAULT_EARLY_REFLECTIONS_MS, DEFAULT_REFERENCE, check_reference,
                                     reference_kernels, render_reference)
from aural.degrade.transforms import describe
from aural.dsp.resample import StreamingResampler, resample
from aural.errors import AudioReadError, StageError, UsageError
from aural.signal import Signal

REFERENCE_LEVEL_DB = -26.0
MAX_REFERENCE_GAIN_DB = 40.0
PEAK_CEILING_DB = -0.5
PEAK_CEILING = 10.0 ** (PEAK_CEILING_DB / 20.0)
DEFAULT_CHUNK_S = 30.0
CROSSFADE_S = 0.01
MANIFEST_VERSION = 2  # 2: "reference" and "early_reflections_ms" (absent: dry)


def item_seed(seed: int, *parts: Any) -> int:
    """A 63-bit seed for one item, from the run seed and what names the item."""
    text = "\0".join([str(int(seed)), *(str(p) for p in parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def make_resources(noise_dir=None, rir_dir=None, mic_ir_dir=None, *,
                   ffmpeg: str | None | bool = True) -> Resources:
    """Resources from folders (``None``: synthetic fallbacks); ``ffmpeg=True`` looks it up."""
    return Resources(noise=AudioBank(noise_dir, what="noise") if noise_dir else None,
                     rir=AudioBank(rir_dir, what="room impulse response") if rir_dir else None,
                     mic_ir=AudioBank(mic_ir_dir, what="microphone impulse response") if mic_ir_dir else None,
                     ffmpeg=find_ffmpeg() if ffmpeg is True else (ffmpeg or None))


# -- the clean input ----------------------------------------------------------------------
class CleanSource:
    """Clean audio at the working rate, read by sample range.

    Held in memory when it fits in one chunk; otherwise read from the file (resampled once,
    streaming, into a temporary float WAV when the rate changes), so memory stays flat.
    """

    def __init__(self, read: Callable[[int, int], torch.Tensor], num_samples: int, sample_rate: int,
                 num_channels: int, source_sample_rate: int, cleanup: ExitStack | None = None):
        self._read = read
        self.num_samples = num_samples
        self.sample_rate = sample_rate
        self.num_channels = num_channels
        self.source_sample_rate = source_sample_rate
        self._stack = cleanup or ExitStack()

    @classmethod
    def from_signal(cls, signal: Signal) -> "CleanSource":
        audio = signal.audio
        return cls(lambda start, frames: audio[:, start:start + frames], signal.num_samples,
                   signal.sample_rate, signal.num_channels, signal.sample_rate)

    @classmethod
    def open(cls, path: Path, *, sample_rate: int | None = None, max_seconds: float | None = None,
             chunk_samples: int = int(DEFAULT_CHUNK_S * 48000)) -> "CleanSource":
        facts = io.info(path)
        native = facts.sample_rate
        rate = sample_rate or native
        frames = facts.num_frames
        if max_seconds is not None:
            frames = min(frames, max(1, int(round(max_seconds * native))))
        num_samples = max(1, int(round(frames * rate / native)))
        if num_samples <= chunk_samples:
            signal = io.read(path, frames=frames)
            audio = signal.audio if rate == native else fit_length(resample(signal.audio, native, rate), num_samples)
            return cls(lambda start, count: audio[:, start:start + count], num_samples, rate,
                       facts.num_channels, native)
        if rate == native:
            return cls(lambda start, count: io.read(path, start=start, frames=count).audio, num_samples, rate,
                       facts.num_channels, native)
        stack = ExitStack()
        try:
            temp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aural-clean-"))) / "clean.wav"
            _stream_resample(path, temp, frames, native, rate, facts.num_channels, num_samples)
        except BaseException:
            stack.close()
            raise
        return cls(lambda start, count: io.read(temp, start=start, frames=count).audio, num_samples, rate,
                   facts.num_channels, native, cleanup=stack)

    def read(self, start: int, frames: int) -> torch.Tensor:
        frames = min(frames, self.num_samples - start)
        return self._read(start, frames) if frames > 0 else torch.zeros(self.num_channels, 0)

    def blocks(self, block_samples: int) -> Iterator[torch.Tensor]:
        for start in range(0, self.num_samples, block_samples):
            yield self.read(start, block_samples)

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> "CleanSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _stream_resample(path: Path, temp: Path, frames: int, native: int, rate: int, channels: int,
                     num_samples: int) -> None:
    resampler = StreamingResampler(native, rate, channels)
    written = 0
    with io.AudioWriter(temp, rate, channels, subtype="FLOAT") as writer:
        remaining = frames
        for block in io.iter_blocks(path):
            if remaining <= 0:
                break
            block = block[:, :remaining]
            remaining -= block.shape[1]
            out = resampler.process(block)[:, :num_samples - written]
            writer.write(out)
            written += out.shape[1]
        tail = resampler.flush()[:, :num_samples - written]
        writer.write(tail)
        written += tail.shape[1]
        if written < num_samples:
            writer.write(torch.zeros(channels, num_samples - written))


# -- planning and rendering ---------------------------------------------------------------
def analyse(source: CleanSource) -> tuple[float, float]:
    """(active level dBFS, peak) of the clean source, streamed in whole 20 ms frames."""
    frame = frame_samples(source.sample_rate)
    block = frame * max(1, (1 << 18) // frame)
    powers, peak = [], 0.0
    for audio in source.blocks(block):
        powers.append(frame_powers(audio, source.sample_rate))
        peak = max(peak, float(audio.abs().max())) if audio.numel() else peak
    return active_level_from_powers(np.concatenate(powers) if powers else np.zeros(0)), peak


def reference_gain_db(level_db: float, peak: float, reference_level_db: float | None) -> float:
    """Gain bringing the clean source to ``reference_level_db`` (peak kept under the ceiling)."""
    gain = 0.0 if reference_level_db is None or level_db <= SILENCE_DB else reference_level_db - level_db
    gain = min(gain, MAX_REFERENCE_GAIN_DB)
    if peak > 0:
        gain = min(gain, 20.0 * math.log10(PEAK_CEILING / peak))
    return round(gain, 4)


def plan(source: CleanSource, profile: Profile, rng: np.random.Generator, resources: Resources,
         reference_level_db: float | None = REFERENCE_LEVEL_DB) -> dict[str, Any]:
    """Levels, the reference gain and the drawn chain for one pair."""
    level_db, peak = analyse(source)
    gain_db = reference_gain_db(level_db, peak, reference_level_db)
    speech_level_db = level_db + gain_db
    if level_db <= SILENCE_DB:  # a silent input: set noise and drive as for speech at the nominal level
        speech_level_db = REFERENCE_LEVEL_DB if reference_level_db is None else reference_level_db
    context = DrawContext(source.sample_rate, source.num_samples, source.num_channels,
                          speech_level_db=speech_level_db, resources=resources)
    steps = profile.chain().draw(rng, context)
    return {"source_level_db": round(level_db, 3), "reference_gain_db": gain_db,
            "speech_level_db": round(context.speech_level_db, 3), "steps": steps}


def render_phone(source: CleanSource, gain_db: float, steps: list[Params], resources: Resources,
                 chunk_samples: int) -> Iterator[torch.Tensor]:
    """The chain's output for the gained clean source, as consecutive chunks."""
    gain = db_to_gain(gain_db)
    rate, total = source.sample_rate, source.num_samples

    def read(start: int, frames: int) -> torch.Tensor:
        return source.read(start, frames) * gain

    if total <= chunk_samples:
        yield _checked(Chain.apply(read(0, total), rate, steps, resources=resources))
        return
    before, after = Chain.context_samples(steps, rate)
    fade = max(1, int(round(CROSSFADE_S * rate)))
    ramp = torch.from_numpy((0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)).astype(np.float32))
    carry = None
    for start in range(0, total, chunk_samples):
        stop = min(total, start + chunk_samples)
        lo, hi = max(0, start - before), min(total, stop + fade + after)
        out = _checked(Chain.apply(read(lo, hi - lo), rate, steps, offset_samples=lo, resources=resources))
        piece = out[:, start - lo:stop - lo].clone()
        if carry is not None:
            k = min(carry.shape[1], piece.shape[1])
            piece[:, :k] = carry[:, :k] * (1.0 - ramp[:k]) + piece[:, :k] * ramp[:k]
        carry = out[:, stop - lo:min(stop + fade, hi) - lo]
        yield piece


def render_studio(source: CleanSource, gain_db: float, steps: list[Params], resources: Resources | None,
                  reference: str, early_reflections_ms: float, block_samples: int) -> Iterator[torch.Tensor]:
    """The studio reference (``source`` times ``gain_db``; see :mod:`aural.degrade.reference`) in blocks."""
    gain = db_to_gain(gain_db)
    kernels = reference_kernels(steps, source.sample_rate, resources, reference, early_reflections_ms)
    return render_reference(lambda start, frames: source.read(start, frames) * gain, source.num_samples,
                            kernels, block_samples)


def _checked(audio: torch.Tensor) -> torch.Tensor:
    if not np.isfinite(audio.numpy()).all():
        raise StageError("the degradation chain produced non-finite samples")
    return audio


def pair_gain_db(peak: float) -> float:
    """Joint gain keeping the pair's peak under the ceiling (0 dB when it already is)."""
    return round(min(0.0, 20.0 * math.log10(PEAK_CEILING / peak)), 4) if peak > 0 else 0.0


def studio_peak(source: CleanSource, gain_db: float, steps: list[Params], resources: Resources | None,
                reference: str, early_reflections_ms: float, block_samples: int) -> float:
    """The studio reference's peak before the pair gain: the dry source's is already under the
    ceiling (:func:`reference_gain_db`), but a room's first reflections can add up above it."""
    if not reference_kernels(steps, source.sample_rate, resources, reference, early_reflections_ms):
        return 0.0
    blocks = render_studio(source, gain_db, steps, resources, reference, early_reflections_ms, block_samples)
    return max((float(block.abs().max()) for block in blocks if block.numel()), default=0.0)


def simulate_pair(clean: Signal, profile: Profile | str, rng: np.random.Generator,
                  resources: Resources | None = None, *,
                  reference_level_db: float | None = REFERENCE_LEVEL_DB, reference: str = DEFAULT_REFERENCE,
                  early_reflections_ms: float = DEFAULT_EARLY_REFLECTIONS_MS) -> tuple[Signal, Signal, dict[str, Any]]:
    """(studio, phone, record) for an in-memory clean signal (training crops).

    ``reference``: ``early`` (direct path and the first ``early_reflections_ms`` of the
    room) or ``dry`` (the clean source); see :mod:`aural.degrade.reference`.
    """
    check_reference(reference, early_reflections_ms)
    profile = get_profile(profile) if isinstance(profile, str) else profile
    resources = resources or Resources()
    source = CleanSource.from_signal(clean)
    record = plan(source, profile, rng, resources, reference_level_db)
    phone = next(render_phone(source, record["reference_gain_db"], record["steps"], resources, source.num_samples))
    studio_top = studio_peak(source, record["reference_gain_db"], record["steps"], resources, reference,
                             early_reflections_ms, max(1, source.num_samples))
    record["pair_gain_db"] = pair_gain_db(max(float(phone.abs().max()) if phone.numel() else 0.0, studio_top))
    pair = db_to_gain(record["pair_gain_db"])
    studio = next(render_studio(source, record["reference_gain_db"] + record["pair_gain_db"], record["steps"],
                                resources, reference, early_reflections_ms, max(1, source.num_samples)))
    record.update(profile=profile.name, reference=reference, early_reflections_ms=early_reflections_ms)
    return Signal(studio, clean.sample_rate), Signal(phone * pair, clean.sample_rate), record


# -- files and manifests ------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """How ``aural data simulate`` renders pairs."""

    sample_rate: int | None = None
    max_seconds: float | None = None
    chunk_seconds: float = DEFAULT_CHUNK_S
    reference_level_db: float | None = REFERENCE_LEVEL_DB
    subtype: str = "PCM_24"
    reference: str = DEFAULT_REFERENCE
    early_reflections_ms: float = DEFAULT_EARLY_REFLECTIONS_MS

    def __post_init__(self) -> None:
        check_reference(self.reference, self.early_reflections_ms)


def output_rel(rel: str, profile: str, variant: int, *, with_profile: bool, num_variants: int) -> str:
    """``<profile>/<rel stem>[-vN].wav``: the path of a pair under studio/ and phone/."""
    path = Path(rel)
    name = path.stem + (f"-v{variant}" if num_variants > 1 else "") + ".wav"
    out = path.with_name(name)
    return (Path(profile) / out).as_posix() if with_profile else out.as_posix()


def simulate_file(source_path: Path, rel: str, profile: Profile, *, seed: int, variant: int,
                  resources: Resources, settings: Settings, out_dir: Path, pair_rel: str,
                  clean_dir: Path | None = None) -> dict[str, Any]:
    """Render and write one pair; returns its manifest entry."""
    out_dir = Path(out_dir)
    seed_item = item_seed(seed, profile.name, rel, variant)
    facts = io.info(source_path)
    rate = settings.sample_rate or facts.sample_rate
    chunk = max(1, int(round(settings.chunk_seconds * rate)))
    with CleanSource.open(source_path, sample_rate=settings.sample_rate, max_seconds=settings.max_seconds,
                          chunk_samples=chunk) as source:
        record = plan(source, profile, np.random.default_rng(seed_item), resources, settings.reference_level_db)
        entry = {
            "manifest_version": MANIFEST_VERSION, "aural_version": __version__,
            "profile": profile.name, "seed": int(seed), "variant": variant, "item_seed": seed_item,
            "source": str(Path(source_path).resolve()), "source_rel": rel,
            "clean_dir": str(Path(clean_dir).resolve()) if clean_dir else None,
            "studio": f"studio/{pair_rel}", "phone": f"phone/{pair_rel}",
            "sample_rate": rate, "source_sample_rate": facts.sample_rate, "num_channels": source.num_channels,
            "num_samples": source.num_samples, "duration_s": round(source.num_samples / rate, 3),
            "max_seconds": settings.max_seconds, "chunk_samples": chunk,
            "noise_dir": _root(resources.noise), "rir_dir": _root(resources.rir), "mic_ir_dir": _root(resources.mic_ir),
            "ffmpeg": ffmpeg_version(resources.ffmpeg) if resources.ffmpeg else None,
            "reference_level_db": settings.reference_level_db,
            "reference": settings.reference, "early_reflections_ms": settings.early_reflections_ms,
            **{k: record[k] for k in ("source_level_db", "reference_gain_db", "speech_level_db")},
        }
        entry["summary"] = describe(record["steps"])
        studio_path, phone_path = out_dir / entry["studio"], out_dir / entry["phone"]
        studio_path.parent.mkdir(parents=True, exist_ok=True)
        phone_path.parent.mkdir(parents=True, exist_ok=True)
        phones = render_phone(source, record["reference_gain_db"], record["steps"], resources, chunk)
        studio_top = studio_peak(source, record["reference_gain_db"], record["steps"], resources, settings.reference,
                                 settings.early_reflections_ms, io.READ_BLOCK_SAMPLES)
        if source.num_samples <= chunk:
            phone = next(phones)
            entry["pair_gain_db"] = pair_gain_db(max(float(phone.abs().max()), studio_top))
            pair = db_to_gain(entry["pair_gain_db"])
            io.write(Signal(phone * pair, rate), phone_path, subtype=settings.subtype)
        else:
            with tempfile.TemporaryDirectory(prefix=".aural-phone-", dir=phone_path.parent) as folder:
                temp = Path(folder) / "phone.wav"
                peak = 0.0
                with io.AudioWriter(temp, rate, source.num_channels, subtype="FLOAT") as writer:
                    for piece in phones:
                        peak = max(peak, float(piece.abs().max()))
                        writer.write(piece)
                entry["pair_gain_db"] = pair_gain_db(max(peak, studio_top))
                pair = db_to_gain(entry["pair_gain_db"])
                with io.AudioWriter(phone_path, rate, source.num_channels, subtype=settings.subtype) as writer:
                    for block in io.iter_blocks(temp):
                        writer.write(block * pair)
        entry["steps"] = record["steps"]
        with io.AudioWriter(studio_path, rate, source.num_channels, subtype=settings.subtype) as writer:
            for block in render_studio(source, entry["reference_gain_db"] + entry["pair_gain_db"], entry["steps"],
                                       resources, settings.reference, settings.early_reflections_ms,
                                       io.READ_BLOCK_SAMPLES):
                writer.write(block)
    return entry


def _root(bank: AudioBank | None) -> str | None:
    return str(bank.root.resolve()) if bank is not None else None


def reproduce(entry: dict[str, Any], *, clean_dir=None, noise_dir=None, rir_dir=None, mic_ir_dir=None,
              resources: Resources | None = None) -> tuple[Signal, Signal]:
    """Re-create the (studio, phone) pair of a manifest entry, as written by ``simulate``.

    Folders default to those recorded in the entry; pass them when the data moved. An entry
    without ``reference`` (written before it was recorded) has the dry reference.
    """
    source_path = Path(clean_dir) / entry["source_rel"] if clean_dir else Path(entry["source"])
    if not source_path.exists():
        raise AudioReadError(f"{source_path}: clean source of this manifest entry not found "
                             f"(pass clean_dir if the data moved)")
    if resources is None:
        resources = make_resources(*(_needed(entry, given, key) for given, key in
                                     ((noise_dir, "noise_dir"), (rir_dir, "rir_dir"), (mic_ir_dir, "mic_ir_dir"))))
    rate = int(entry["sample_rate"])
    with CleanSource.open(source_path, sample_rate=rate, max_seconds=entry.get("max_seconds"),
                          chunk_samples=int(entry["chunk_samples"])) as source:
        if source.num_samples != entry["num_samples"]:
            raise UsageError(f"{source_path}: has changed since the manifest was written "
                             f"({source.num_samples} samples at {rate} Hz, manifest says {entry['num_samples']})")
        phone = torch.cat(list(render_phone(source, entry["reference_gain_db"], entry["steps"], resources,
                                            int(entry["chunk_samples"]))), dim=1)
        studio = torch.cat(list(render_studio(source, entry["reference_gain_db"] + entry["pair_gain_db"],
                                              entry["steps"], resources, entry.get("reference", "dry"),
                                              float(entry.get("early_reflections_ms", DEFAULT_EARLY_REFLECTIONS_MS)),
                                              io.READ_BLOCK_SAMPLES)), dim=1)
    return Signal(studio, rate), Signal(phone * db_to_gain(entry["pair_gain_db"]), rate)


def _needed(entry: dict[str, Any], given, key: str):
    folder = given or entry.get(key)
    return folder if folder and Path(folder).is_dir() else None
