"""Wind on the microphone: low-frequency rumble in gusts.

Wind noise on a small microphone is turbulence at the port: its power sits below a few hundred
hertz and comes and goes with the gusts, by 10-25 dB within a second. Here: white noise
low-passed at ``cutoff_hz`` (second order), its level following a gust envelope (a sum of
slow sinusoids in dB, 0.05-1.5 Hz) and gated down in lulls, so that calm stretches are near
silent. Both the noise (:func:`aural.degrade.noise.filtered_noise`) and the envelope are
functions of the absolute sample position: chunks render exactly.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import scipy.signal

from aural.degrade.base import TRANSFORMS, Transform, db_to_gain, log_uniform, uniform
from aural.degrade.impulse import to_tensor
from aural.degrade.noise import filtered_noise

NUM_GUST_COMPONENTS = 4
LULL_DB = 30.0  # how far the lulls drop below the gusts' mean level at most
CALIBRATION_S = 600.0


def gust_db(params, sample_rate: int, start: int, num_samples: int) -> np.ndarray:
    """The gust envelope in dB at samples ``start .. start+num_samples-1`` (mean power 0 dB)."""
    t = np.arange(start, start + num_samples, dtype=np.float64) / sample_rate
    return _envelope_db(params, t) - params["calibration_db"]


def _envelope_db(params, t: np.ndarray) -> np.ndarray:
    shape = np.zeros_like(t)
    for freq, phase, weight in params["gusts"]:
        shape += weight * np.sin(2 * np.pi * freq * t + phase)
    # depth_db of swing around the mean; below the gate the level drops towards -LULL_DB
    level = params["depth_db"] * shape
    return np.where(level < params["gate_db"], params["gate_db"] - 2.0 * (params["gate_db"] - level), level) \
        .clip(-LULL_DB - params["depth_db"], None)


def _calibration_db(params) -> float:
    """dB of the envelope's mean power over ``CALIBRATION_S`` (so ``level_db`` is the mean level)."""
    t = np.arange(0.0, CALIBRATION_S, 0.01)
    return float(10 * np.log10(np.mean(10 ** (_envelope_db(params, t) / 10))))


def _lowpass(cutoff_hz: float, sample_rate: int):
    return scipy.signal.butter(2, min(cutoff_hz, 0.45 * sample_rate), "lowpass", fs=sample_rate)


@TRANSFORMS.register("wind")
class Wind(Transform):
    """Gusting wind rumble at ``level_db`` (mean power relative to the speech's active level)."""

    name = "wind"

    def __init__(self, level_db: Sequence[float] = (-20.0, 5.0), cutoff_hz: Sequence[float] = (60.0, 400.0),
                 depth_db: Sequence[float] = (4.0, 12.0), gust_hz: Sequence[float] = (0.05, 1.5)):
        self.level_db = level_db
        self.cutoff_hz = cutoff_hz
        self.depth_db = depth_db
        self.gust_hz = gust_hz

    def draw(self, rng, context):
        weights = rng.uniform(0.3, 1.0, NUM_GUST_COMPONENTS)
        weights /= np.sqrt(np.sum(weights ** 2) / 2)  # the shape has unit RMS
        gusts = [[log_uniform(rng, self.gust_hz, 3), uniform(rng, (0, 2 * math.pi), 3), round(float(w), 3)]
                 for w in weights]
        level = uniform(rng, self.level_db, 2)
        params = {"level_db": level, "gain_db": round(context.speech_level_db + level, 3),
                  "cutoff_hz": log_uniform(rng, self.cutoff_hz, 1), "depth_db": uniform(rng, self.depth_db, 2),
                  "gate_db": uniform(rng, (-6.0, 0.0), 2), "gusts": gusts, "seed": int(rng.integers(2**31))}
        params["calibration_db"] = round(_calibration_db(params), 4)
        return params

    def apply(self, audio, sample_rate, params, *, offset_samples=0, resources=None):
        n = audio.shape[-1]
        b, a = _lowpass(params["cutoff_hz"], sample_rate)
        rumble = filtered_noise(b, a, int(params["seed"]), offset_samples, n)
        # unit power: a second-order Butterworth low-pass's noise bandwidth is pi / (2 sqrt 2) = 1.11 cutoffs
        bandwidth_hz = math.pi / (2 * math.sqrt(2)) * min(params["cutoff_hz"], 0.45 * sample_rate)
        rumble /= math.sqrt(min(1.0, bandwidth_hz / (sample_rate / 2)))
        envelope = db_to_gain(params["gain_db"]) * 10 ** (gust_db(params, sample_rate, offset_samples, n) / 20)
        return audio + to_tensor((rumble * envelope)[None, :])
