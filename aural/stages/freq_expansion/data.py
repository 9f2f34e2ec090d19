"""Training data of ``freq_expansion``: full-band crops, band-limited on the fly.

Every item is a crop of a full-band recording at 48 kHz and a band-limited copy of it. The
cutoff is drawn from the bands people meet (``CUTOFFS_HZ``: telephone, wideband speech, MP3
and old codecs) with a little jitter, and the band limit from several kinds of filter so the
model cannot learn one filter's edge: a round trip through a lower sample rate (soxr, at a
random quality), Butterworth, Chebyshev I and elliptic IIR low-passes, and windowed-sinc FIR
low-passes as codecs use. Some items are damaged first (noise, 8-bit mu-law companding, a
lossy-codec stand-in), always *before* the band limit, while the target keeps the
clean full band: the model learns to continue the signal, not the damage.

Each item also carries ``top_hz``, how far up its reference is known: a 44.1 kHz source holds
nothing above about 20 kHz once upsampled to 48 kHz, and many 48 kHz recordings stop at 21-22
kHz (their converter's anti-alias filter); that empty top must not teach the model that every
recording ends there, so the loss ignores the bins above ``top_hz`` (:func:`known_top_hz`).

Items are pure functions of ``(seed, epoch, index)`` as in :mod:`aural.train.datasets`.
``files`` come from a folder of audio or a text file listing one path per line; a list may
name a file more than once, and it is then drawn that many times as often (how
``scripts/train_freq_expansion.py`` balances material groups of very different file counts).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import soxr
import torch
from scipy import signal as scipy_signal
from torch.utils.data import Dataset

from aural import io
from aural.errors import UsageError
from aural.train.datasets import loudest_channel_crop, split_of

SAMPLE_RATE = 48000
CUTOFFS_HZ = (4000.0, 5500.0, 8000.0, 11025.0, 12000.0, 16000.0)
FILTERS = ("resample", "butterworth", "chebyshev", "elliptic", "fir")
LEVEL_DBFS = (-40.0, -14.0)
MAX_GAIN_DB = 40.0
TOP_FRACTION = 0.9   # of a source's Nyquist frequency that counts as its known band (a resampler's passband)
TOP_SCAN_S = 30.0    # how much of a source known_top_hz reads


def known_top_hz(path: Path, facts: io.AudioInfo) -> float:
    """The highest frequency a source's content reaches at 48 kHz: the median over its frames
    (first ``TOP_SCAN_S``) of the cutoff tracker's top, up to the Nyquist frequency, and at
    most ``TOP_FRACTION`` of the source's own Nyquist frequency when it is below 48 kHz."""
    from aural.dsp.resample import resample
    from aural.stages.freq_expansion.cutoff import CutoffConfig, cutoff_track_hz

    native_top = SAMPLE_RATE / 2 if facts.sample_rate >= SAMPLE_RATE else TOP_FRACTION * facts.sample_rate / 2
    audio = io.read(path, frames=int(TOP_SCAN_S * facts.sample_rate)).audio.float()
    if facts.sample_rate != SAMPLE_RATE:
        audio = resample(audio, facts.sample_rate, SAMPLE_RATE)
    track = cutoff_track_hz(audio, SAMPLE_RATE, config=CutoffConfig(max_cutoff_hz=SAMPLE_RATE / 2 + 1.0,
                                                                    decay_db_per_s=1.0))
    return min(native_top, float(track.median())) if track.numel() else native_top


def list_files(source: str | os.PathLike) -> list[Path]:
    """Audio files of a folder (recursively) or the paths listed in a ``.txt`` file."""
    path = Path(source)
    if path.is_file() and path.suffix == ".txt":
        lines = [line.strip() for line in path.read_text().splitlines()]
        files = [(path.parent / line) if not os.path.isabs(line) else Path(line)
                 for line in lines if line and not line.startswith("#")]
        missing = [f for f in files if not f.is_file()]
        if missing:
            raise UsageError(f"{path}: {len(missing)} listed files do not exist (first: {missing[0]})")
        return files
    if path.is_dir():
        return io.find_audio(path)
    raise UsageError(f"{path}: not a folder of audio or a .txt list of files")


def band_limit(audio: np.ndarray, cutoff_hz: float, kind: str, rng: np.random.Generator,
               sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``audio`` (samples,) low-passed at about ``cutoff_hz`` by a filter of ``kind``."""
    nyquist = sample_rate / 2
    if kind == "resample":
        low_rate = int(round(2 * cutoff_hz))
        quality = str(rng.choice(["HQ", "VHQ", "MQ"]))
        low = soxr.resample(audio, sample_rate, low_rate, quality=quality)
        return soxr.resample(low, low_rate, sample_rate, quality=quality)[:audio.shape[0]].astype(np.float32)
    if kind == "fir":
        taps = int(rng.integers(64, 256)) * 2 + 1
        fir = scipy_signal.firwin(taps, cutoff_hz, window=("kaiser", float(rng.uniform(6.0, 10.0))), fs=sample_rate)
        return scipy_signal.oaconvolve(audio, fir, mode="same").astype(np.float32)
    order = int(rng.integers(6, 13))
    edge = min(cutoff_hz, 0.99 * nyquist)
    if kind == "butterworth":
        sos = scipy_signal.butter(order + 4, edge, fs=sample_rate, output="sos")
    elif kind == "chebyshev":
        sos = scipy_signal.cheby1(order, float(rng.uniform(0.1, 1.0)), edge, fs=sample_rate, output="sos")
    elif kind == "elliptic":
        sos = scipy_signal.ellip(order, float(rng.uniform(0.1, 1.0)), float(rng.uniform(60.0, 90.0)), edge,
                                 fs=sample_rate, output="sos")
    else:
        raise ValueError(f"unknown filter kind {kind!r}")
    return scipy_signal.sosfilt(sos, audio).astype(np.float32)


def _damage(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Noise, companding or codec damage at the input's level (or nothing), before the band limit."""
    from aural.degrade.codecs import g711, spectral_lossy

    choice = rng.random()
    if choice < 0.55:
        return audio
    if choice < 0.8:
        rms = float(np.sqrt(np.mean(audio ** 2)) + 1e-9)
        snr_db = rng.uniform(15.0, 40.0)
        noise = rng.standard_normal(audio.shape[0]).astype(np.float32)
        if rng.random() < 0.5:  # pinkish: one-pole low-pass of white noise
            noise = scipy_signal.lfilter([0.1], [1.0, -0.9], noise).astype(np.float32)
        noise *= rms / (float(np.sqrt(np.mean(noise ** 2))) + 1e-9) * 10.0 ** (-snr_db / 20.0)
        return audio + noise
    if choice < 0.9:
        peak = float(np.max(np.abs(audio))) + 1e-9
        return g711(audio / peak * 0.7, "mulaw") * peak / 0.7
    return spectral_lossy(audio, SAMPLE_RATE, float(rng.uniform(24.0, 96.0)))


class BandLimitDataset(Dataset):
    """``(band-limited, full band, top_hz)``: crops of ``(1, segment_samples)`` at 48 kHz and
    the reference's known band (:func:`known_top_hz`).

    ``damage``: whether items may be damaged before the band limit (training), or clean
    (validation, to measure expansion alone). ``known_band=False``: every item's ``top_hz`` is
    the Nyquist frequency, so what a source lacks up there is taught as absent (music mastered
    at 44.1 kHz holds nothing above 22.05 kHz). Crops quieter than -60 dBFS are redrawn.
    """

    def __init__(self, files: Sequence[Path], *, segment_samples: int, seed: int = 0, num_items: int | None = None,
                 split: str = "all", val_fraction: float = 0.0, damage: bool = True,
                 cutoffs_hz: Sequence[float] = CUTOFFS_HZ, filters: Sequence[str] = FILTERS,
                 known_band: bool = True):
        chosen = [f for f in files if split == "all" or split_of(f.name, val_fraction) == split]
        if not chosen:
            raise UsageError(f"no audio files in the {split} split")
        self.files = list(chosen)
        self.segment_samples = int(segment_samples)
        self.seed = int(seed)
        self.epoch = 0
        self.num_items = int(num_items) if num_items is not None else len(self.files)
        self.damage = damage
        self.cutoffs_hz = tuple(cutoffs_hz)
        self.filters = tuple(filters)
        self.known_band = known_band
        self._info: dict[Path, Any] = {}
        self._top_hz: dict[Path, float] = {}

    def __len__(self) -> int:
        return self.num_items

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _crop(self, path: Path, rng: np.random.Generator) -> np.ndarray:
        facts = self._info.get(path) or self._info.setdefault(path, io.info(path))
        best, best_level = loudest_channel_crop(path, facts, rng, self.segment_samples, SAMPLE_RATE, -60.0)
        gain_db = min(rng.uniform(*LEVEL_DBFS) - best_level, MAX_GAIN_DB)  # a near-silent crop stays quiet
        return (best * 10.0 ** (gain_db / 20.0)).astype(np.float32)

    def _known_top_hz(self, path: Path) -> float:
        if not self.known_band:
            return SAMPLE_RATE / 2
        if path not in self._top_hz:
            self._top_hz[path] = known_top_hz(path, self._info[path])
        return self._top_hz[path]

    def item(self, index: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        if not 0 <= index < self.num_items:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        n = len(self.files)
        order = np.random.default_rng([self.seed, self.epoch, index // n, 1]).permutation(n)
        path = self.files[int(order[index % n])]
        clean = self._crop(path, rng)
        cutoff_hz = float(self.cutoffs_hz[int(rng.integers(len(self.cutoffs_hz)))]) * rng.uniform(0.95, 1.03)
        kind = str(self.filters[int(rng.integers(len(self.filters)))])
        degraded = _damage(clean, rng) if self.damage else clean
        limited = band_limit(degraded, cutoff_hz, kind, rng)
        record = {"source": str(path), "cutoff_hz": cutoff_hz, "filter": kind,
                  "top_hz": self._known_top_hz(path)}
        return torch.from_numpy(limited).unsqueeze(0), torch.from_numpy(clean).unsqueeze(0), record

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        limited, clean, record = self.item(index)
        return limited, clean, torch.tensor(record["top_hz"], dtype=torch.float32)
