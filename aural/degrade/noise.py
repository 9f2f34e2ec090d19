"""Additive noise: recordings from a folder (looped, at a drawn offset) or synthetic colours."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

import numpy as np
import scipy.signal
import torch

from aural.degrade.base import TRANSFORMS, Params, Resources, Transform, choice, db_to_gain, fit_length, uniform
from aural.degrade.impulse import needs, to_tensor
from aural.dsp.resample import resample
from aural.errors import UsageError


NOISE_BLOCK = 1 << 16
NOISE_WARMUP = 1 << 14
# IIR colourings of white noise, scaled to unit output power (see _colour_gain)
_COLOURS: dict[str, tuple[list[float], list[float]]] = {
    "white": ([1.0], [1.0]),
    # pink (-3 dB/octave): J. O. Smith's 4-pole/4-zero approximation
    "pink": ([0.049922035, -0.095993537, 0.050612699, -0.004408786],
             [1.0, -2.494956002, 2.017265875, -0.522189400]),
    # brown-ish (-6 dB/octave above a low corner): a leaky integrator
    "brown": ([1.0], [1.0, -0.995]),
}


@lru_cache(maxsize=None)
def _colour_gain(colour: str) -> float:
    b, a = _COLOURS[colour]
    impulse = np.zeros(NOISE_WARMUP * 4)
    impulse[0] = 1.0
    h = scipy.signal.lfilter(b, a, impulse)
    return 1.0 / math.sqrt(float(np.sum(h * h)))


def _white_block(seed: int, index: int) -> np.ndarray:
    if index < 0:
        return np.zeros(NOISE_BLOCK)
    return np.random.default_rng([seed, index]).standard_normal(NOISE_BLOCK)


def synthetic_noise(colour: str, seed: int, start: int, num_samples: int) -> np.ndarray:
    """Samples ``start:start+num_samples`` of an endless unit-power coloured noise."""
    b, a = _COLOURS[colour]
    return filtered_noise(b, a, seed, start, num_samples, gain=_colour_gain(colour))


def filtered_noise(b, a, seed: int, start: int, num_samples: int, gain: float = 1.0) -> np.ndarray:
    """Samples ``start:start+num_samples`` of endless white noise through the IIR filter ``b, a``.

    Built from independent blocks; each block is filtered after a warm-up on the end of
    the previous one, so any excerpt comes out the same however the signal is chunked.
    """
    out = np.empty(num_samples)
    first, last = start // NOISE_BLOCK, (start + num_samples - 1) // NOISE_BLOCK
    pos = 0
    for index in range(first, last + 1):
        white = np.concatenate([_white_block(seed, index - 1)[-NOISE_WARMUP:], _white_block(seed, index)])
        block = scipy.signal.lfilter(b, a, white)[NOISE_WARMUP:] * gain
        lo = max(start, index * NOISE_BLOCK) - index * NOISE_BLOCK
        hi = min(start + num_samples, (index + 1) * NOISE_BLOCK) - index * NOISE_BLOCK
        out[pos:pos + hi - lo] = block[lo:hi]
        pos += hi - lo
    return out


def read_looped(bank, rel: str, start: int, frames: int) -> torch.Tensor:
    """``frames`` mono samples of ``rel`` from ``start``, looping the file as often as needed."""
    total = bank.info(rel).num_frames
    pieces, pos, left = [], start % total, frames
    while left > 0:
        take = min(left, total - pos)
        pieces.append(bank.read(rel, start=pos, frames=take).audio.mean(dim=0))
        left -= take
        pos = 0
    return torch.cat(pieces)[None, :]


@TRANSFORMS.register("noise")
class AddNoise(Transform):
    """Additive noise at a drawn SNR, from a folder of recordings or synthetic.

    SNR is the clean input's active speech level (see :mod:`aural.degrade.level`) over the
    RMS level of the whole noise recording (mixed to mono); the resulting ``gain_db`` is
    recorded with the file and the ``offset_frames`` (at the file's own rate) where the
    noise starts. Short recordings loop. Without a noise folder (or with
    ``source="synthetic"``) the noise is white, pink or brown.
    """

    name = "noise"

    def __init__(self, snr_db: Sequence[float] = (0.0, 30.0), source: str = "auto",
                 colours: Sequence[str] | dict[str, float] = ("white", "pink", "brown")):
        if source not in ("auto", "file", "synthetic"):
            raise ValueError(f"noise source must be auto, file or synthetic, got {source!r}")
        self.snr_db = snr_db
        self.source = source
        self.colours = colours

    def draw(self, rng, context):
        snr_db = uniform(rng, self.snr_db, 2)
        bank = context.resources.noise
        if self.source == "file" and bank is None:
            raise UsageError("this profile needs a noise folder (--noise)")
        if bank is not None and self.source != "synthetic":
            rel = choice(rng, bank.files)
            offset = int(rng.integers(bank.info(rel).num_frames))
            gain_db = context.speech_level_db - snr_db - bank.rms_db(rel)
            return {"source": "file", "file": rel, "offset_frames": offset, "snr_db": snr_db,
                    "gain_db": round(gain_db, 3)}
        return {"source": "synthetic", "colour": str(choice(rng, self.colours)),
                "seed": int(rng.integers(2**31)), "snr_db": snr_db,
                "gain_db": round(context.speech_level_db - snr_db, 3)}

    def noise(self, num_samples: int, sample_rate: int, params: Params, offset_samples: int,
              resources: Resources | None) -> torch.Tensor:
        """The scaled mono noise for ``num_samples`` from ``offset_samples``."""
        gain = db_to_gain(params["gain_db"])
        if params["source"] == "synthetic":
            noise = synthetic_noise(params["colour"], int(params["seed"]), offset_samples, num_samples)
            return to_tensor(noise[None, :] * gain)
        bank = needs(resources, "noise", "noise")
        rate = bank.info(params["file"]).sample_rate
        margin = int(math.ceil(0.01 * rate))
        start = int(params["offset_frames"]) + (offset_samples * rate) // sample_rate - margin
        frames = int(math.ceil(num_samples * rate / sample_rate)) + 2 * margin
        segment = resample(read_looped(bank, params["file"], start, frames), rate, sample_rate)
        skip = int(round(margin * sample_rate / rate))
        return fit_length(segment[:, skip:], num_samples) * gain

    def apply(self, audio, sample_rate, params, *, offset_samples=0, resources=None):
        return audio + self.noise(audio.shape[-1], sample_rate, params, offset_samples, resources)


