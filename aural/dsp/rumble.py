"""Is there rumble under a high-pass corner? The low band's level in a recording's pauses
against its speech band's level in speech.

A rumble high-pass helps where the band under its corner holds noise (traffic, handling,
a room's low modes, HVAC) and only costs where it holds the voice's own low end. Noise is
there when the speech stops; the voice is not. :class:`RumbleMeter` measures, in frames of
``FRAME_MS``, the power of the band from ``LOW_EDGE_HZ`` (or half the corner, if lower) to the corner and of the speech band
(``SPEECH_BAND_HZ``); pauses are the frames whose speech band is within ``PAUSE_MARGIN_DB``
of its quietest fifth, speech the frames within ``SPEECH_RANGE_DB`` of its loudest tenth.
:meth:`RumbleMeter.margin_db` is the median low-band level in pauses minus the median
speech-band level in speech: rumble left by a denoiser or a room sits 20 to 40 dB under the
speech, a clean recording's low band in its pauses 50 to 60 dB under it
(``benchmarks/results/phone_to_studio_rumble.md``). Levels are kept as a joint histogram of
``HISTOGRAM_STEP_DB`` bins, so memory does not grow with the input. Channels are linked
(their mean power).
"""

from __future__ import annotations

import numpy as np
import scipy.signal

FRAME_MS = 50.0
LOW_EDGE_HZ = 20.0
SPEECH_BAND_HZ = (300.0, 3000.0)
PAUSE_QUANTILE, PAUSE_MARGIN_DB = 0.2, 3.0
SPEECH_QUANTILE, SPEECH_RANGE_DB = 0.9, 15.0
FLOOR_DB, CEILING_DB, HISTOGRAM_STEP_DB = -150.0, 10.0, 1.0
MIN_SPEECH_DB = -90.0     # a speech band quieter than this throughout: nothing to judge


class RumbleMeter:
    """Streams ``(channels, n)`` float blocks; :meth:`margin_db` judges what it has seen."""

    def __init__(self, sample_rate: int, num_channels: int, corner_hz: float):
        nyquist = sample_rate / 2
        if not 0 < corner_hz < nyquist:
            raise ValueError(f"corner {corner_hz:g} Hz must lie between 0 and Nyquist ({nyquist:g} Hz)")
        low_edge_hz = min(LOW_EDGE_HZ, corner_hz / 2)
        self._low = scipy.signal.butter(2, [low_edge_hz, corner_hz], "bandpass", output="sos", fs=sample_rate)
        high = min(SPEECH_BAND_HZ[1], 0.9 * nyquist)
        self._speech = scipy.signal.butter(2, [SPEECH_BAND_HZ[0], high], "bandpass", output="sos", fs=sample_rate)
        self.num_channels = num_channels
        self.frame_samples = max(1, int(round(FRAME_MS * sample_rate / 1000.0)))
        self._bins = int(round((CEILING_DB - FLOOR_DB) / HISTOGRAM_STEP_DB))
        self.reset()

    def reset(self) -> None:
        self._low_state = np.zeros((self._low.shape[0], self.num_channels, 2))
        self._speech_state = np.zeros((self._speech.shape[0], self.num_channels, 2))
        self._partial = np.zeros((2, 0))    # band powers of the unfinished frame's samples
        self.histogram = np.zeros((self._bins, self._bins), dtype=np.int64)  # [speech bin, low bin]

    def process(self, audio: np.ndarray) -> None:
        audio = np.asarray(audio, dtype=np.float64)
        if audio.shape[-1] == 0:
            return
        low, self._low_state = scipy.signal.sosfilt(self._low, audio, axis=-1, zi=self._low_state)
        speech, self._speech_state = scipy.signal.sosfilt(self._speech, audio, axis=-1, zi=self._speech_state)
        power = np.concatenate([self._partial, np.stack([np.mean(speech ** 2, axis=0),
                                                         np.mean(low ** 2, axis=0)])], axis=1)
        frames = power.shape[1] // self.frame_samples
        whole = frames * self.frame_samples
        self._partial = power[:, whole:]
        if frames:
            levels_db = 10.0 * np.log10(power[:, :whole].reshape(2, frames, self.frame_samples).mean(axis=2) + 1e-30)
            index = np.clip(((levels_db - FLOOR_DB) / HISTOGRAM_STEP_DB).astype(int), 0, self._bins - 1)
            np.add.at(self.histogram, (index[0], index[1]), 1)

    def margin_db(self) -> float | None:
        """Median low-band level in the pauses minus median speech-band level in speech (dB);
        None where there is no speech to judge by (silence, under a frame of input)."""
        speech_counts = self.histogram.sum(axis=1)
        if speech_counts.sum() == 0:
            return None
        centres = FLOOR_DB + (np.arange(self._bins) + 0.5) * HISTOGRAM_STEP_DB
        loud = _quantile(speech_counts, centres, SPEECH_QUANTILE)
        if loud < MIN_SPEECH_DB:
            return None
        quiet = _quantile(speech_counts, centres, PAUSE_QUANTILE)
        speech_rows = centres >= loud - SPEECH_RANGE_DB
        pause_rows = centres <= quiet + PAUSE_MARGIN_DB
        speech_db = _quantile(speech_counts * speech_rows, centres, 0.5)
        low_in_pauses_db = _quantile(self.histogram[pause_rows].sum(axis=0), centres, 0.5)
        return float(low_in_pauses_db - speech_db)


def _quantile(counts: np.ndarray, centres: np.ndarray, q: float) -> float:
    """The ``q`` quantile of a histogram (the centre of the bin it falls in)."""
    cumulative = np.cumsum(counts)
    return float(centres[np.searchsorted(cumulative, q * cumulative[-1], side="left")])
