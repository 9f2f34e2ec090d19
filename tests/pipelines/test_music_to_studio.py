"""music_to_studio keeps music's sustained notes and spectrum (no speech denoiser, no compressor)."""

from __future__ import annotations

import numpy as np
import torch

from aural.pipeline import load_pipeline
from aural.signal import Signal

RATE = 48000


def plucked_then_sustained(seconds: float = 5.0) -> np.ndarray:
    """A 220 Hz note with harmonics: a plucked second, then held at -20 dBFS."""
    t = np.arange(int(seconds * RATE)) / RATE
    note = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in range(1, 8))
    out = note * np.where(t < 1.0, np.exp(-t / 0.2), 1.0)
    return (out / np.sqrt(np.mean(out[RATE:] ** 2)) * 0.1).astype(np.float32)


def level_db(audio: np.ndarray) -> float:
    return 10 * np.log10(np.mean(audio.astype(np.float64) ** 2) + 1e-20)


def test_a_sustained_note_keeps_its_level_within_1_db():
    note = plucked_then_sustained()
    out = load_pipeline("music_to_studio").process(Signal(torch.from_numpy(note)[None], RATE)).audio[0].numpy()
    held_in = level_db(note[4 * RATE:]) - level_db(note[RATE:2 * RATE])
    held_out = level_db(out[4 * RATE:]) - level_db(out[RATE:2 * RATE])
    assert abs(held_out - held_in) <= 1.0
    assert np.isfinite(out).all() and out.shape == note.shape
