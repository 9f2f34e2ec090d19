"""The band above a low-rate stage's Nyquist, carried around it in a faster stream.

A 16 kHz restoration stage inside a 48 kHz pipeline would otherwise drop everything above
8 kHz. Instead the stream is split: the stage processes ``low`` (the input brought to its
rate and back, which is the band it can see), and the rest of the input, ``high = input -
low``, bypasses it. So that the bypassed band does not keep the noise the stage removed,
it is scaled by :class:`HighBandFollower`: per 10 ms frame, the ratio of the stage's output
to its input in the stage's own top band (``band_low_hz`` up to its Nyquist), smoothed and
capped at 1. A stage that passes audio unchanged therefore passes the whole band unchanged.
"""

from __future__ import annotations

import math

import numpy as np

from aural.dsp.filters import SosFilter, highpass

FRAME_MS = 10.0
SMOOTHING_MS = 30.0
TOP_BAND_OCTAVES = 1.0   # the follower listens to the stage's top octave
EPS = 1e-12


def top_band_low_hz(stage_sample_rate: int, octaves: float = TOP_BAND_OCTAVES) -> float:
    """Lower edge of the stage's top band: ``octaves`` below its Nyquist."""
    return 0.5 * stage_sample_rate / 2.0 ** octaves


class HighBandFollower:
    """Per-sample gains for the bypassed band, from what a stage did to its top band.

    :meth:`gains` takes the stage's output and input (both at the stream's rate, aligned,
    ``(channels, n)``, whole frames) and returns one gain per sample, shared by all
    channels (the stereo image stays put). Gains move once per frame, ramped linearly
    within it; a stream's first frame takes its own gain at once (starting from 1 would
    leave the band unprocessed for the smoothing's first tens of milliseconds).
    """

    def __init__(self, sample_rate: int, num_channels: int, band_low_hz: float, *,
                 frame_ms: float = FRAME_MS, smoothing_ms: float = SMOOTHING_MS):
        sos = np.concatenate([highpass(band_low_hz, sample_rate), highpass(band_low_hz, sample_rate)])
        self._wet_filter = SosFilter(sos, num_channels)
        self._dry_filter = SosFilter(sos, num_channels)
        self.frame = max(1, round(sample_rate * frame_ms / 1000.0))
        self.coefficient = math.exp(-self.frame / (sample_rate * smoothing_ms / 1000.0))
        self.reset()

    def reset(self) -> None:
        self._wet_filter.reset()
        self._dry_filter.reset()
        self._gain: float | None = None

    def gains(self, wet: np.ndarray, dry: np.ndarray) -> np.ndarray:
        """One gain per sample of ``wet``/``dry``, whose length is a whole number of frames
        (the last call of a stream may end with a partial frame)."""
        wet_top = self._wet_filter.process(np.asarray(wet, dtype=np.float64))
        dry_top = self._dry_filter.process(np.asarray(dry, dtype=np.float64))
        out = np.empty(wet_top.shape[-1], dtype=np.float64)
        for start in range(0, out.size, self.frame):
            part = slice(start, min(start + self.frame, out.size))
            wet_energy = float(np.sum(wet_top[:, part] ** 2))
            dry_energy = float(np.sum(dry_top[:, part] ** 2))
            target = min(1.0, math.sqrt((wet_energy + EPS) / (dry_energy + EPS)))
            previous = target if self._gain is None else self._gain
            self._gain = target if previous == target else (
                self.coefficient * previous + (1.0 - self.coefficient) * target)
            ramp = np.arange(1, part.stop - part.start + 1) / self.frame
            out[part] = previous + (self._gain - previous) * ramp
        return out
