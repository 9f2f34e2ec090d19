"""A gentle random equaliser: a spectral tilt and a few broad bells (tonal variety, not a device).

The magnitude response is ``tilt_db_per_octave`` around 1 kHz (limited to +-``MAX_TILT_DB``
at the band edges) times 1-3 peaking bells, realised as a zero-phase FIR, so the output stays
sample-aligned with the input; the response is normalised to 0 dB at 1 kHz.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import scipy.signal

from aural.degrade.base import TRANSFORMS, Params, Transform, log_uniform, uniform
from aural.degrade.impulse import convolve_aligned
from aural.dsp import filters

MAX_TILT_DB = 9.0
PIVOT_HZ = 1000.0
FIR_S = 0.02


def eq_magnitude(params: Params, freqs_hz: np.ndarray, sample_rate: int) -> np.ndarray:
    """The EQ's linear magnitude at ``freqs_hz`` (0 dB at ``PIVOT_HZ``)."""
    octaves = np.log2(np.maximum(freqs_hz, 20.0) / PIVOT_HZ)
    tilt_db = np.clip(params["tilt_db_per_octave"] * octaves, -MAX_TILT_DB, MAX_TILT_DB)
    magnitude = 10 ** (tilt_db / 20)
    bells = [filters.peaking(b["freq_hz"], b["gain_db"], sample_rate, b["q"]) for b in params["bells"]
             if b["freq_hz"] < 0.45 * sample_rate]
    if bells:
        sos = np.concatenate(bells)
        magnitude = magnitude * np.abs(scipy.signal.sosfreqz(sos, worN=freqs_hz, fs=sample_rate)[1])
        magnitude /= np.abs(scipy.signal.sosfreqz(sos, worN=[PIVOT_HZ], fs=sample_rate)[1][0])
    return magnitude


def eq_fir(params: Params, sample_rate: int) -> np.ndarray:
    """A zero-phase (odd, centred) FIR of about ``FIR_S`` with :func:`eq_magnitude`."""
    num_taps = int(FIR_S * sample_rate) | 1
    n_grid = 1 << int(math.ceil(math.log2(4 * num_taps)))
    freqs = np.arange(n_grid // 2 + 1) * sample_rate / n_grid
    impulse = np.fft.irfft(eq_magnitude(params, freqs, sample_rate), n_grid)
    half = num_taps // 2
    return np.concatenate([impulse[-half:], impulse[:half + 1]]) * np.hanning(num_taps + 2)[1:-1]


@TRANSFORMS.register("eq")
class Equalizer(Transform):
    """Random gentle EQ: tilt in ``tilt_db_per_octave`` and ``num_bells`` bells of ``bell_gain_db``."""

    name = "eq"

    def __init__(self, tilt_db_per_octave: Sequence[float] = (-1.5, 1.5), num_bells: Sequence[int] = (1, 3),
                 bell_hz: Sequence[float] = (100.0, 8000.0), bell_gain_db: Sequence[float] = (-6.0, 6.0),
                 bell_q: Sequence[float] = (0.5, 2.0)):
        self.tilt_db_per_octave = tilt_db_per_octave
        self.num_bells = num_bells
        self.bell_hz = bell_hz
        self.bell_gain_db = bell_gain_db
        self.bell_q = bell_q

    def draw(self, rng, context):
        count = int(rng.integers(self.num_bells[0], self.num_bells[1] + 1))
        return {"tilt_db_per_octave": uniform(rng, self.tilt_db_per_octave, 3),
                "bells": [{"freq_hz": log_uniform(rng, self.bell_hz), "gain_db": uniform(rng, self.bell_gain_db, 2),
                           "q": uniform(rng, self.bell_q, 2)} for _ in range(count)]}

    def apply(self, audio, sample_rate, params, *, offset_samples=0, resources=None):
        kernel = eq_fir(params, sample_rate)
        return convolve_aligned(audio, kernel, len(kernel) // 2)

    def context_samples(self, params, sample_rate):
        half = (int(FIR_S * sample_rate) | 1) // 2
        return half, half
