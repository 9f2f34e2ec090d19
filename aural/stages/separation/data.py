"""Training data of ``separation``: mixtures of a voice and a background, made on the fly.

Each item is a crop of a speech recording (the ``voice``) and a crop of one or two background
recordings (noise, ambience, a music bed), mixed at a drawn voice-to-background ratio and
level. Some voices first go through a synthetic room (the voice stem keeps its room: the
stems add up to what was recorded); a few items have no background at all, so the model
learns to leave a clean voice whole. The target is the voice exactly as it sits in the
mixture.

Items are pure functions of ``(seed, epoch, index)`` as in :mod:`aural.train.datasets`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import scipy.signal
import torch
from torch.utils.data import Dataset

from aural import io
from aural.degrade.augment import change_speed, draw_speed, source_samples
from aural.degrade.base import fit_length
from aural.degrade.eq import Equalizer
from aural.degrade.reverb import synthetic_rir
from aural.errors import UsageError
from aural.train.datasets import loudest_channel_crop

SAMPLE_RATE = 16000
TRAIN_SNR_DB = (-8.0, 12.0)
EVAL_SNR_DB = (-5.0, 5.0)
MIX_LEVEL_DBFS = (-38.0, -16.0)
MIN_VOICE_LEVEL_DB = -50.0
VOICE_ONLY_PROBABILITY = 0.04
TWO_BACKGROUNDS_PROBABILITY = 0.25
ROOM_PROBABILITY = 0.3
AUGMENT_PROBABILITY = 0.5       # of each of: voice speed, voice EQ, background speed, background EQ
VOICE_SPEED = (0.88, 1.12)      # about +-2 semitones: still a plausible voice
BACKGROUND_SPEED = (0.8, 1.25)
AUGMENTED = {"voice": (3, VOICE_SPEED), "background": (4, BACKGROUND_SPEED)}  # source: (generator salt, speeds)


def _level_db(audio: np.ndarray) -> float:
    """Mean power in dB, summed exactly (``math.fsum``): numpy's sums can differ in the last bit
    with the array's memory alignment, and the mix's gains must not (items are reproducible)."""
    return 10.0 * math.log10(math.fsum(np.square(audio, dtype=np.float64).ravel()) / max(audio.size, 1) + 1e-20)


@dataclass(frozen=True)
class Augmentation:
    """A speed factor (1: none) and the parameters of :class:`~aural.degrade.eq.Equalizer`
    (``None``: none) for one source of one item."""

    speed: float
    eq: dict[str, Any] | None

    @classmethod
    def draw(cls, rng: np.random.Generator, speed_bounds: tuple[float, float]) -> "Augmentation":
        speed = draw_speed(rng, AUGMENT_PROBABILITY, speed_bounds)
        eq = Equalizer().draw(rng, {}) if rng.random() < AUGMENT_PROBABILITY else None
        return cls(speed, eq)

    def apply(self, crop: np.ndarray, sample_rate: int, num_samples: int) -> np.ndarray:
        audio = torch.from_numpy(crop.astype(np.float64)).unsqueeze(0)
        if self.speed != 1.0:
            audio = fit_length(change_speed(audio, sample_rate, self.speed), num_samples)
        if self.eq is not None:
            audio = Equalizer().apply(audio, sample_rate, self.eq)
        return audio[0].numpy().astype(np.float64)


class MixtureDataset(Dataset):
    """``(mixture, voice)`` crops of ``(1, segment_samples)`` at 16 kHz.

    ``snr_db``: the range of voice-to-background ratios drawn (uniform in dB); ``rooms``:
    whether voices may be put in a synthetic room; ``voice_only``: whether a few items have
    no background; ``augment``: speed and EQ changes of voices and backgrounds (module docstring).
    """

    def __init__(self, voices: Sequence[Path], backgrounds: Sequence[Path], *, segment_samples: int,
                 seed: int = 0, num_items: int | None = None, snr_db: tuple[float, float] = TRAIN_SNR_DB,
                 rooms: bool = True, voice_only: bool = True, augment: bool = False,
                 sample_rate: int = SAMPLE_RATE):
        if not voices:
            raise UsageError("separation data: no voice (speech) files")
        if not backgrounds:
            raise UsageError("separation data: no background (noise or music) files")
        self.voices = list(voices)
        self.backgrounds = list(backgrounds)
        self.segment_samples = int(segment_samples)
        self.seed = int(seed)
        self.epoch = 0
        self.num_items = int(num_items) if num_items is not None else len(self.voices)
        self.snr_db = (float(snr_db[0]), float(snr_db[1]))
        self.rooms = rooms
        self.voice_only = voice_only
        self.augment = augment
        self.sample_rate = int(sample_rate)
        self._info: dict[Path, Any] = {}

    def __len__(self) -> int:
        return self.num_items

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _crop(self, path: Path, rng: np.random.Generator, min_level_db: float,
              changes: Augmentation | None = None) -> np.ndarray:
        """A crop of ``segment_samples``; with ``changes``, read long enough for its speed and
        then sped up or slowed down and equalised."""
        facts = self._info.get(path) or self._info.setdefault(path, io.info(path))
        speed = changes.speed if changes is not None else 1.0
        length = self.segment_samples if speed == 1.0 else source_samples(self.segment_samples, speed)
        crop, _ = loudest_channel_crop(path, facts, rng, length, self.sample_rate, min_level_db, loop_short=True)
        if changes is None:
            return crop.astype(np.float64)
        return changes.apply(crop, self.sample_rate, self.segment_samples)

    def _changes(self, index: int, source: str) -> Augmentation | None:
        """The augmentation of an item's voice or background (``None`` without ``augment``)."""
        if not self.augment:
            return None
        salt, speeds = AUGMENTED[source]
        return Augmentation.draw(np.random.default_rng([self.seed, self.epoch, index, salt]), speeds)

    def _pick(self, files: list[Path], rng: np.random.Generator, index: int, salt: int) -> Path:
        n = len(files)
        order = np.random.default_rng([self.seed, self.epoch, index // n, salt]).permutation(n)
        return files[int(order[index % n])]

    def _background(self, rng: np.random.Generator, index: int) -> tuple[np.ndarray, list[str]]:
        first = self._pick(self.backgrounds, rng, index, 2)
        audio = self._crop(first, rng, -70.0, self._changes(index, "background"))
        names = [str(first)]
        if rng.random() < TWO_BACKGROUNDS_PROBABILITY:
            second = self.backgrounds[int(rng.integers(len(self.backgrounds)))]
            other = self._crop(second, rng, -70.0)
            relative_db = rng.uniform(-12.0, 6.0)
            scale = 10.0 ** ((_level_db(audio) - _level_db(other) + relative_db) / 20.0)
            audio = audio + other * min(scale, 1e4)
            names.append(str(second))
        return audio, names

    def _in_room(self, voice: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
        params = {"rt60_s": float(rng.uniform(0.15, 1.0)), "drr_db": float(rng.uniform(-3.0, 12.0)),
                  "predelay_ms": float(rng.uniform(2.0, 20.0)), "seed": int(rng.integers(2 ** 31)),
                  "max_length_s": 1.2}
        response = synthetic_rir(params, self.sample_rate)
        wet = scipy.signal.oaconvolve(voice, response)[:len(voice)]
        return wet, params["rt60_s"]

    def item(self, index: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        if not 0 <= index < self.num_items:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        voice_path = self._pick(self.voices, rng, index, 1)
        voice = self._crop(voice_path, rng, MIN_VOICE_LEVEL_DB, self._changes(index, "voice"))
        record: dict[str, Any] = {"voice": str(voice_path)}
        if self.rooms and rng.random() < ROOM_PROBABILITY:
            voice, record["rt60_s"] = self._in_room(voice, rng)
        background, record["background"] = self._background(rng, index)
        snr_db = float(rng.uniform(*self.snr_db))
        if self.voice_only and rng.random() < VOICE_ONLY_PROBABILITY:
            background = np.zeros_like(voice)
            snr_db = math.inf
        else:
            gap_db = _level_db(voice) - _level_db(background) - snr_db
            background = background * min(10.0 ** (gap_db / 20.0), 1e5)
        record["snr_db"] = snr_db
        mixture = voice + background
        gain = 10.0 ** ((rng.uniform(*MIX_LEVEL_DBFS) - _level_db(mixture)) / 20.0)
        gain = min(gain, 0.99 / max(float(np.max(np.abs(mixture))), 1e-9))
        mixture, voice = mixture * gain, voice * gain
        return (torch.from_numpy(mixture.astype(np.float32)).unsqueeze(0),
                torch.from_numpy(voice.astype(np.float32)).unsqueeze(0), record)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        mixture, voice, _ = self.item(index)
        return mixture, voice
