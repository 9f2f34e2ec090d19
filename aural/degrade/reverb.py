"""Reverberation: measured room responses with an ideal direct path, or synthetic rooms."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import scipy.signal

from aural.degrade.base import TRANSFORMS, Params, Resources, Transform, choice, uniform
from aural.degrade.impulse import DIRECT_WINDOW_S, convolve_aligned, measured_ir, speech_band
from aural.errors import UsageError


def synthetic_rir(params: Params, sample_rate: int) -> np.ndarray:
    """Exponentially decaying noise after a direct-path impulse at sample 0 (unit energy).

    The tail starts ``predelay_ms`` after the direct path, decays by 60 dB in ``rt60_s``
    (faster at high frequencies: a one-pole low-pass on the tail) and has ``drr_db``
    direct-to-reverberant energy ratio.
    """
    rt60 = float(params["rt60_s"])
    length = int(round(min(rt60 * 1.2, float(params.get("max_length_s", 2.0))) * sample_rate))
    t = np.arange(length) / sample_rate
    rng = np.random.default_rng(int(params["seed"]))
    tail = rng.standard_normal(length) * np.exp(-6.9078 * t / rt60)
    tail = scipy.signal.lfilter([0.6], [1.0, -0.4], tail)
    tail[:max(1, int(round(params["predelay_ms"] * sample_rate / 1000.0)))] = 0.0
    direct = math.sqrt(float(np.sum(tail ** 2)) * 10.0 ** (params["drr_db"] / 10.0))
    h = tail
    h[0] = direct
    return h / math.sqrt(float(np.sum(h ** 2)))


def measured_rir(h: np.ndarray, direct: int, sample_rate: int, drr_db: float) -> np.ndarray:
    """A room response from a measured one: an ideal direct path plus the measured reverberation.

    The measured direct sound (up to ``DIRECT_WINDOW_S`` after the direct path) is replaced
    by a unit impulse at sample 0, and the reverberation after it (faded in over 0.5 ms) is
    scaled to ``drr_db`` in the speech band (150-3000 Hz). A measured direct sound carries
    the measuring loudspeaker's response, sometimes mostly above the speech band, and some
    responses (plates, occluded positions) have none: the talker's line of sight to a phone
    at arm's length is better modelled by the impulse, which also fixes the alignment.
    """
    start = direct + int(round(DIRECT_WINDOW_S * sample_rate))
    tail = np.zeros(max(1, len(h) - direct))
    tail[start - direct:] = h[start:]
    ramp = min(len(tail), max(1, int(round(0.0005 * sample_rate))))
    lo = start - direct
    tail[lo:lo + ramp] *= np.linspace(0.0, 1.0, ramp + 2)[1:-1][:len(tail[lo:lo + ramp])]
    impulse = np.zeros_like(tail)
    impulse[0] = 1.0
    direct_energy = float(np.sum(speech_band(impulse, sample_rate) ** 2))
    tail_energy = float(np.sum(speech_band(tail, sample_rate) ** 2))
    if tail_energy > 0:
        tail *= math.sqrt(direct_energy * 10.0 ** (-drr_db / 10.0) / tail_energy)
    kernel = impulse + tail
    return kernel / math.sqrt(float(np.sum(kernel ** 2)))


@TRANSFORMS.register("reverb")
class Reverb(Transform):
    """Convolution with a room impulse response whose direct path lands on sample 0.

    Measured responses come from ``resources.rir`` (one drawn channel, cut to
    ``max_length_s`` with a fade): their reverberation follows an ideal direct path at a
    drawn direct-to-reverberant ratio (see :func:`measured_rir`), which places the talker
    at the profile's distance whatever the measurement's. Without a folder (or with
    ``source="synthetic"``) the reverberation is synthetic with a drawn RT60. Kernels
    have unit energy.
    """

    name = "reverb"

    def __init__(self, rt60_s: Sequence[float] = (0.2, 1.0), drr_db: Sequence[float] = (-3.0, 12.0),
                 predelay_ms: Sequence[float] = (1.0, 10.0), max_length_s: float = 1.5,
                 source: str = "auto"):
        if source not in ("auto", "file", "synthetic"):
            raise ValueError(f"reverb source must be auto, file or synthetic, got {source!r}")
        self.rt60_s = rt60_s
        self.drr_db = drr_db
        self.predelay_ms = predelay_ms
        self.max_length_s = max_length_s
        self.source = source

    def draw(self, rng, context):
        bank = context.resources.rir
        if self.source == "file" and bank is None:
            raise UsageError("this profile needs a room impulse response folder (--rir)")
        if bank is not None and self.source != "synthetic":
            rel = choice(rng, bank.files)
            channel = int(rng.integers(bank.info(rel).num_channels))
            return {"source": "file", "file": rel, "channel": channel, "drr_db": uniform(rng, self.drr_db, 2),
                    "max_length_s": self.max_length_s}
        return {"source": "synthetic", "rt60_s": uniform(rng, self.rt60_s),
                "drr_db": uniform(rng, self.drr_db, 2), "predelay_ms": uniform(rng, self.predelay_ms, 2),
                "seed": int(rng.integers(2**31)), "max_length_s": self.max_length_s}

    @staticmethod
    def kernel(params: Params, sample_rate: int, resources: Resources | None) -> np.ndarray:
        """The unit-energy kernel, direct path at sample 0."""
        if params["source"] == "synthetic":
            return synthetic_rir(params, sample_rate)
        h, direct, _ = measured_ir(resources, params["file"], int(params["channel"]), sample_rate,
                                    float(params["max_length_s"]), what="rir")
        return measured_rir(h, direct, sample_rate, float(params["drr_db"]))

    def apply(self, audio, sample_rate, params, *, offset_samples=0, resources=None):
        return convolve_aligned(audio, self.kernel(params, sample_rate, resources), 0)

    def context_samples(self, params, sample_rate):
        return int(math.ceil(float(params["max_length_s"]) * sample_rate)), 0


