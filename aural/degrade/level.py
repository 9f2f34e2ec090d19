"""Signal levels the simulator sets SNRs and gains against.

Active level (a simple stand-in for ITU-T P.56): the power mean of the 20 ms frames whose
level lies within ``ACTIVE_RANGE_DB`` of the 95th-percentile frame level, so pauses and
leading silence do not pull the level down. Levels are in dBFS of the channel-averaged power
(a full-scale sine measures -3 dB).
"""

from __future__ import annotations

import math

import numpy as np
import torch

FRAME_MS = 20.0
ACTIVE_RANGE_DB = 35.0
SILENCE_DB = -120.0


def frame_samples(sample_rate: int) -> int:
    return max(1, int(round(sample_rate * FRAME_MS / 1000.0)))


def frame_powers(audio: torch.Tensor, sample_rate: int) -> np.ndarray:
    """Mean-square power of each whole 20 ms frame (channels averaged); a short tail is a frame too."""
    x = audio.detach().double().pow(2).mean(dim=0).numpy()
    size = frame_samples(sample_rate)
    whole = (len(x) // size) * size
    powers = x[:whole].reshape(-1, size).mean(axis=1) if whole else np.zeros(0)
    if whole < len(x):
        powers = np.append(powers, x[whole:].mean())
    return powers


def active_level_from_powers(powers: np.ndarray) -> float:
    """Active level in dBFS from :func:`frame_powers`; ``SILENCE_DB`` for silence."""
    powers = np.asarray(powers, dtype=np.float64)
    if powers.size == 0 or not np.any(powers > 0):
        return SILENCE_DB
    levels = 10.0 * np.log10(np.maximum(powers, 1e-30))
    reference = np.percentile(levels, 95)
    active = powers[levels >= reference - ACTIVE_RANGE_DB]
    return max(SILENCE_DB, 10.0 * math.log10(float(active.mean())))


def active_level_db(audio: torch.Tensor, sample_rate: int) -> float:
    """Active level of ``(channels, samples)`` audio in dBFS."""
    return active_level_from_powers(frame_powers(audio, sample_rate))


def rms_db(audio: torch.Tensor) -> float:
    """Plain RMS level in dBFS (channels averaged); ``SILENCE_DB`` for silence."""
    if audio.numel() == 0:
        return SILENCE_DB
    power = float(audio.detach().double().pow(2).mean())
    return max(SILENCE_DB, 10.0 * math.log10(power)) if power > 0 else SILENCE_DB
