"""Mains interference: hum (a few harmonics of 50/60 Hz) and buzz (a harmonic-rich, mains-locked wave).

Both are :func:`mains_wave`: harmonics of a fundamental that drifts slowly,
``f(t) = mains_hz + drift_hz sin(2 pi t / drift_period_s + drift_phase)``, whose phase is the
running sum of ``f`` over the samples, in closed form, so that any excerpt (a chunk at
``offset_samples``) is exact. Levels are relative to the clean input's active speech level.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from aural.degrade.base import TRANSFORMS, Transform, choice, db_to_gain, uniform
from aural.degrade.impulse import to_tensor

BUZZ_MAX_HZ = 8000.0
BUZZ_SHAPE_POINTS = 4096


def mains_phase(start: int, num_samples: int, sample_rate: int, mains_hz: float, drift_hz: float = 0.0,
                drift_period_s: float = 20.0, drift_phase: float = 0.0) -> np.ndarray:
    """Phase (radians) at samples ``start .. start+num_samples-1``: ``2 pi / sample_rate`` times the
    sum of the instantaneous frequency over samples ``0..n`` (``np.cumsum`` of it, in closed form)."""
    n = np.arange(start, start + num_samples, dtype=np.float64)
    phase = 2 * np.pi * mains_hz * (n + 1) / sample_rate
    if drift_hz:
        w = 2 * np.pi / (drift_period_s * sample_rate)
        # sum_{m=0}^{n} sin(w m + p) = sin((n+1) w / 2) sin(n w / 2 + p) / sin(w / 2)
        total = np.sin((n + 1) * w / 2) * np.sin(n * w / 2 + drift_phase) / np.sin(w / 2)
        phase += 2 * np.pi * drift_hz * total / sample_rate
    return phase


def mains_wave(start: int, num_samples: int, sample_rate: int, mains_hz: float, amplitudes: Sequence[float],
               phases: Sequence[float], drift_hz: float = 0.0, drift_period_s: float = 20.0,
               drift_phase: float = 0.0) -> np.ndarray:
    """``sum_k amplitudes[k-1] sin(k phase + phases[k-1])``; harmonics at or above Nyquist are left out."""
    phase = mains_phase(start, num_samples, sample_rate, mains_hz, drift_hz, drift_period_s, drift_phase)
    out = np.zeros(num_samples)
    top = 0.5 * sample_rate / (mains_hz + abs(drift_hz))
    for k, (amplitude, offset) in enumerate(zip(amplitudes, phases), start=1):
        if k >= top:
            break
        if amplitude:
            out += amplitude * np.sin(k * phase + offset)
    return out


def _wave_rms(amplitudes: Sequence[float], mains_hz: float, sample_rate: int) -> float:
    kept = [a for k, a in enumerate(amplitudes, start=1) if k < 0.5 * sample_rate / mains_hz]
    return math.sqrt(0.5 * sum(a * a for a in kept)) or 1.0


def _draw_drift(rng: np.random.Generator, drift_hz: Sequence[float]) -> dict[str, float]:
    return {"drift_hz": uniform(rng, drift_hz, 4), "drift_period_s": uniform(rng, (8.0, 60.0), 2),
            "drift_phase": uniform(rng, (0.0, 2 * math.pi), 4)}


class _MainsTransform(Transform):
    """Adds :func:`mains_wave` of the recorded ``amplitudes``/``phases`` scaled by ``gain_db``."""

    def apply(self, audio, sample_rate, params, *, offset_samples=0, resources=None):
        wave = mains_wave(offset_samples, audio.shape[-1], sample_rate, params["mains_hz"], params["amplitudes"],
                          params["phases"], params["drift_hz"], params["drift_period_s"], params["drift_phase"])
        return audio + to_tensor(wave[None, :] * db_to_gain(params["gain_db"]))

    def _level(self, rng, context, amplitudes, mains_hz, relative_db) -> dict[str, float]:
        level = uniform(rng, relative_db, 2)
        rms_db = 20 * math.log10(_wave_rms(amplitudes, mains_hz, context.sample_rate))
        return {"level_db": level, "gain_db": round(context.speech_level_db + level - rms_db, 3)}


@TRANSFORMS.register("hum")
class Hum(_MainsTransform):
    """Mains hum: 50 or 60 Hz (a little off nominal, drifting slowly) and its first harmonics.

    Harmonic ``k`` falls ``slope_db`` per harmonic with +-3 dB of scatter (odd harmonics of a
    saturated transformer are often stronger: ``odd_boost_db``). ``level_db`` is the hum's RMS
    level relative to the speech's active level.
    """

    name = "hum"

    def __init__(self, level_db: Sequence[float] = (-40.0, -15.0), mains: dict[float, float] | Sequence[float] = (50.0, 60.0),
                 offset_hz: Sequence[float] = (-0.1, 0.1), drift_hz: Sequence[float] = (0.0, 0.05),
                 num_harmonics: Sequence[int] = (3, 16), slope_db: Sequence[float] = (2.0, 8.0),
                 odd_boost_db: Sequence[float] = (0.0, 6.0)):
        self.level_db = level_db
        self.mains = mains
        self.offset_hz = offset_hz
        self.drift_hz = drift_hz
        self.num_harmonics = num_harmonics
        self.slope_db = slope_db
        self.odd_boost_db = odd_boost_db

    def draw(self, rng, context):
        mains_hz = float(choice(rng, self.mains)) + uniform(rng, self.offset_hz, 3)
        count = int(rng.integers(self.num_harmonics[0], self.num_harmonics[1] + 1))
        slope, odd = uniform(rng, self.slope_db, 2), uniform(rng, self.odd_boost_db, 2)
        amplitudes = [round(db_to_gain(-slope * (k - 1) + (odd if k % 2 else 0.0) + rng.uniform(-3, 3)), 5)
                      for k in range(1, count + 1)]
        phases = [round(float(p), 4) for p in rng.uniform(0, 2 * math.pi, count)]
        return {"mains_hz": round(mains_hz, 3), "amplitudes": amplitudes, "phases": phases,
                **_draw_drift(rng, self.drift_hz), **self._level(rng, context, amplitudes, mains_hz, self.level_db)}


def _shape(kind: str, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, float]]:
    """One period of a buzz waveform (``BUZZ_SHAPE_POINTS`` samples) and what defines it."""
    theta = 2 * np.pi * np.arange(BUZZ_SHAPE_POINTS) / BUZZ_SHAPE_POINTS
    if kind == "rectified":      # a full-wave rectifier's ripple: even harmonics
        return np.abs(np.sin(theta)), {}
    if kind == "dimmer":         # a phase-cut (triac) dimmer: the sine switched on at a firing angle
        angle = uniform(rng, (0.3, 2.6), 3)
        return np.sin(theta) * ((theta % np.pi) >= angle), {"firing_angle": angle}
    drive = uniform(rng, (3.0, 30.0), 2)  # "saturated": a transformer or amplifier driven into saturation
    return np.tanh(drive * np.sin(theta)), {"drive": drive}


@TRANSFORMS.register("buzz")
class Buzz(_MainsTransform):
    """Electrical buzz: a mains-locked rectified, phase-cut (dimmer) or saturated wave, rich in
    harmonics up to ``BUZZ_MAX_HZ`` (band-limited: synthesised from its Fourier series), tilted
    up by ``tilt_db`` per harmonic (capacitive coupling favours the high harmonics: the rasp)."""

    name = "buzz"

    def __init__(self, level_db: Sequence[float] = (-40.0, -18.0), mains: Sequence[float] = (50.0, 60.0),
                 kinds: dict[str, float] | Sequence[str] = ("rectified", "dimmer", "saturated"),
                 drift_hz: Sequence[float] = (0.0, 0.05), tilt_db: Sequence[float] = (0.0, 0.12)):
        self.level_db = level_db
        self.mains = mains
        self.kinds = kinds
        self.drift_hz = drift_hz
        self.tilt_db = tilt_db

    def draw(self, rng, context):
        mains_hz = float(choice(rng, self.mains)) + uniform(rng, (-0.1, 0.1), 3)
        kind = str(choice(rng, self.kinds))
        shape, facts = _shape(kind, rng)
        count = int(min(BUZZ_MAX_HZ, 0.45 * context.sample_rate) // mains_hz)
        spectrum = np.fft.rfft(shape - shape.mean())[1:count + 1] * 2 / BUZZ_SHAPE_POINTS
        tilt = uniform(rng, self.tilt_db, 3)
        spectrum = spectrum * 10 ** (tilt * np.arange(count) / 20)
        # a sin(k x + p) = Re(c e^{ikx}) ... with c = a e^{i(p - pi/2)}
        amplitudes = [round(float(a), 6) for a in np.abs(spectrum)]
        phases = [round(float(p), 4) for p in (np.angle(spectrum) + np.pi / 2) % (2 * np.pi)]
        return {"kind": kind, **facts, "tilt_db": tilt, "mains_hz": round(mains_hz, 3), "amplitudes": amplitudes,
                "phases": phases, **_draw_drift(rng, self.drift_hz),
                **self._level(rng, context, amplitudes, mains_hz, self.level_db)}
