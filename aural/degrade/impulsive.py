"""Impulsive noise: clicks, pops and keyboard-like transients at a drawn rate.

Events are drawn per second of signal from ``default_rng([seed, second])`` (a Poisson count,
then each event's time, kind, level and waveform seed), so a chunk renders exactly the events
that reach into it, wherever it starts.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import scipy.signal

from aural.degrade.base import TRANSFORMS, Transform, db_to_gain, log_uniform, uniform
from aural.degrade.impulse import to_tensor

MAX_EVENT_S = 0.12
KINDS = ("click", "pop", "key")


def click_burst(rng: np.random.Generator, length: int, level: float) -> np.ndarray:
    """A click: ``length`` samples of Gaussian noise under a Hann window, at ``level`` times 0.3-1."""
    return level * rng.uniform(0.3, 1) * rng.standard_normal(length) * np.hanning(length + 2)[1:-1]


def event_wave(kind: str, seed: int, sample_rate: int) -> np.ndarray:
    """The waveform of one event (peak about 1)."""
    rng = np.random.default_rng(seed)
    if kind == "click":  # a digital glitch or a crackle: 1-8 samples (at 48 kHz; scaled with the rate)
        length = max(1, int(round(rng.integers(1, 9) * sample_rate / 48000)))
        wave = click_burst(rng, length, 1.0)
    elif kind == "pop":  # a plosive-like thump or a cable knock: a decaying low sine
        t = np.arange(int(rng.uniform(0.02, 0.08) * sample_rate)) / sample_rate
        wave = np.sin(2 * np.pi * rng.uniform(30, 160) * t + rng.uniform(0, 2 * np.pi)) \
            * np.exp(-t / rng.uniform(0.004, 0.02)) * np.minimum(1.0, t * sample_rate / 8)
    else:  # a key press and its release: band-passed noise bursts with fast decay
        t = np.arange(int(rng.uniform(0.04, 0.1) * sample_rate)) / sample_rate
        centre = min(rng.uniform(1500, 6000), 0.4 * sample_rate)
        sos = scipy.signal.butter(2, [centre / 2, min(centre * 2, 0.45 * sample_rate)], "bandpass",
                                  fs=sample_rate, output="sos")
        noise = scipy.signal.sosfilt(sos, rng.standard_normal(len(t)))
        release = rng.uniform(0.015, 0.6 * t[-1])
        envelope = np.exp(-t / rng.uniform(0.002, 0.008)) \
            + rng.uniform(0.2, 0.6) * (t >= release) * np.exp(-np.maximum(t - release, 0) / 0.004)
        wave = noise * envelope
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    return wave / peak if peak > 0 else wave


def events(params, sample_rate: int, start: int, stop: int) -> list[tuple[int, float, str, int]]:
    """``(sample, gain, kind, seed)`` of the events that can reach samples ``start:stop``."""
    reach = int(math.ceil(MAX_EVENT_S * sample_rate))
    first, last = max(0, (start - reach) // sample_rate), max(0, stop // sample_rate)
    kinds = params["kinds"]
    names, weights = list(kinds), np.asarray(list(kinds.values()), dtype=np.float64)
    out = []
    for second in range(first, last + 1):
        rng = np.random.default_rng([int(params["seed"]), second])
        for _ in range(int(rng.poisson(params["rate_per_s"]))):
            at = second * sample_rate + int(rng.integers(sample_rate))
            kind = names[int(rng.choice(len(names), p=weights / weights.sum()))]
            gain = db_to_gain(params["gain_db"] + rng.uniform(-12.0, 0.0)) * (1 if rng.random() < 0.5 else -1)
            out.append((at, gain, kind, int(rng.integers(2**31))))
    return out


@TRANSFORMS.register("clicks")
class Clicks(Transform):
    """Impulsive noise at ``rate_per_s`` events a second (Poisson): clicks (1-8 samples), pops
    (decaying 30-160 Hz thumps) and keyboard-like transients, in drawn proportions.

    ``peak_db``: the loudest events' peak relative to the speech's active level (each event
    is 0-12 dB below it, either polarity).
    """

    name = "clicks"

    def __init__(self, rate_per_s: Sequence[float] = (0.2, 5.0), peak_db: Sequence[float] = (-6.0, 12.0),
                 kinds: Sequence[str] | None = None):
        self.rate_per_s = rate_per_s
        self.peak_db = peak_db
        self.kinds = tuple(kinds) if kinds else KINDS

    def draw(self, rng, context):
        weights = rng.dirichlet(np.ones(len(self.kinds)))
        peak = uniform(rng, self.peak_db, 2)
        return {"rate_per_s": log_uniform(rng, self.rate_per_s, 3), "peak_db": peak,
                "kinds": {k: round(float(w), 4) for k, w in zip(self.kinds, weights)},
                "gain_db": round(context.speech_level_db + peak, 3), "seed": int(rng.integers(2**31))}

    def apply(self, audio, sample_rate, params, *, offset_samples=0, resources=None):
        n = audio.shape[-1]
        added = np.zeros(n)
        for at, gain, kind, seed in events(params, sample_rate, offset_samples, offset_samples + n):
            wave = event_wave(kind, seed, sample_rate)
            lo, hi = at - offset_samples, at - offset_samples + len(wave)
            if hi <= 0 or lo >= n:
                continue
            added[max(0, lo):min(n, hi)] += gain * wave[max(0, -lo):min(len(wave), n - lo)]
        return audio + to_tensor(added[None, :])
