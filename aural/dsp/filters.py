"""Biquad filters (RBJ Audio EQ Cookbook) as second-order sections, and a streaming filter.

Every design returns a ``(1, 6)`` float64 SOS row ``[b0, b1, b2, 1, a1, a2]`` normalised by
``a0``, the layout :func:`scipy.signal.sosfilt` takes. Frequencies are in Hz; ``q`` is the
quality factor (``1/sqrt(2)``: Butterworth for high-pass, the classic shelf slope).
Closed forms the designs meet exactly (the bilinear transform is pre-warped at the corner):

- high-pass: gain 0 at DC, 1 at Nyquist, ``q`` at ``cutoff_hz``;
- low shelf: ``gain_db`` at DC, 0 dB at Nyquist, ``gain_db / 2`` at ``cutoff_hz``;
- high shelf: 0 dB at DC, ``gain_db`` at Nyquist, ``gain_db / 2`` at ``cutoff_hz``;
- peaking: 0 dB at DC and Nyquist, ``gain_db`` at ``center_hz``;
- all-pass: unit magnitude everywhere, -1 (phase -180 degrees) at ``center_hz``.

:func:`linear_phase_taps` turns a cascade into an FIR with the cascade's magnitude and no phase
shift (a delay of half its length instead); :class:`FirFilter` runs it over a stream.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.signal

BUTTERWORTH_Q = 1.0 / math.sqrt(2.0)


def _omega(freq_hz: float, sample_rate: int) -> float:
    if not 0.0 < freq_hz < sample_rate / 2:
        raise ValueError(f"filter frequency {freq_hz:g} Hz must lie between 0 and Nyquist "
                         f"({sample_rate / 2:g} Hz)")
    return 2.0 * math.pi * freq_hz / sample_rate


def _sos(b0: float, b1: float, b2: float, a0: float, a1: float, a2: float) -> np.ndarray:
    return np.array([[b0 / a0, b1 / a0, b2 / a0, 1.0, a1 / a0, a2 / a0]], dtype=np.float64)


def highpass(cutoff_hz: float, sample_rate: int, q: float = BUTTERWORTH_Q) -> np.ndarray:
    """Second-order high-pass."""
    w0 = _omega(cutoff_hz, sample_rate)
    cos_w0, alpha = math.cos(w0), math.sin(w0) / (2.0 * q)
    return _sos((1 + cos_w0) / 2, -(1 + cos_w0), (1 + cos_w0) / 2, 1 + alpha, -2 * cos_w0, 1 - alpha)


def lowpass(cutoff_hz: float, sample_rate: int, q: float = BUTTERWORTH_Q) -> np.ndarray:
    """Second-order low-pass."""
    w0 = _omega(cutoff_hz, sample_rate)
    cos_w0, alpha = math.cos(w0), math.sin(w0) / (2.0 * q)
    return _sos((1 - cos_w0) / 2, 1 - cos_w0, (1 - cos_w0) / 2, 1 + alpha, -2 * cos_w0, 1 - alpha)


def peaking(center_hz: float, gain_db: float, sample_rate: int, q: float = 1.0) -> np.ndarray:
    """Peaking (bell) EQ: ``gain_db`` at ``center_hz``, bandwidth set by ``q``."""
    w0 = _omega(center_hz, sample_rate)
    a = 10.0 ** (gain_db / 40.0)
    cos_w0, alpha = math.cos(w0), math.sin(w0) / (2.0 * q)
    return _sos(1 + alpha * a, -2 * cos_w0, 1 - alpha * a, 1 + alpha / a, -2 * cos_w0, 1 - alpha / a)


def low_shelf(cutoff_hz: float, gain_db: float, sample_rate: int, q: float = BUTTERWORTH_Q) -> np.ndarray:
    """Low shelf: ``gain_db`` below ``cutoff_hz`` (half of it at the corner)."""
    w0 = _omega(cutoff_hz, sample_rate)
    a = 10.0 ** (gain_db / 40.0)
    cos_w0, alpha = math.cos(w0), math.sin(w0) / (2.0 * q)
    k = 2.0 * math.sqrt(a) * alpha
    return _sos(a * ((a + 1) - (a - 1) * cos_w0 + k), 2 * a * ((a - 1) - (a + 1) * cos_w0),
                a * ((a + 1) - (a - 1) * cos_w0 - k), (a + 1) + (a - 1) * cos_w0 + k,
                -2 * ((a - 1) + (a + 1) * cos_w0), (a + 1) + (a - 1) * cos_w0 - k)


def high_shelf(cutoff_hz: float, gain_db: float, sample_rate: int, q: float = BUTTERWORTH_Q) -> np.ndarray:
    """High shelf: ``gain_db`` above ``cutoff_hz`` (half of it at the corner)."""
    w0 = _omega(cutoff_hz, sample_rate)
    a = 10.0 ** (gain_db / 40.0)
    cos_w0, alpha = math.cos(w0), math.sin(w0) / (2.0 * q)
    k = 2.0 * math.sqrt(a) * alpha
    return _sos(a * ((a + 1) + (a - 1) * cos_w0 + k), -2 * a * ((a - 1) + (a + 1) * cos_w0),
                a * ((a + 1) + (a - 1) * cos_w0 - k), (a + 1) - (a - 1) * cos_w0 + k,
                2 * ((a - 1) - (a + 1) * cos_w0), (a + 1) - (a - 1) * cos_w0 - k)


def allpass(center_hz: float, sample_rate: int, q: float = BUTTERWORTH_Q) -> np.ndarray:
    """Second-order all-pass: unit gain everywhere, phase -180 degrees at ``center_hz``.

    ``(x - allpass(x)) / 2`` is the RBJ band-pass (0 dB peak, zero phase at the centre)
    and ``(x + allpass(x)) / 2`` its exact complement, a band-stop: the two sum to ``x``.
    """
    w0 = _omega(center_hz, sample_rate)
    cos_w0, alpha = math.cos(w0), math.sin(w0) / (2.0 * q)
    return _sos(1 - alpha, -2 * cos_w0, 1 + alpha, 1 + alpha, -2 * cos_w0, 1 - alpha)


def k_weighting(sample_rate: int) -> np.ndarray:
    """The BS.1770 K-weighting pre-filter, built exactly as pyloudnorm builds it.

    A +4 dB high shelf at 1500 Hz (q = 1/sqrt(2)) followed by a 38 Hz high-pass (q = 0.5),
    both RBJ designs at ``sample_rate``: at 48 kHz their response is within 0.05 dB of the
    coefficients printed in BS.1770 across the audio band. At rates of 3 kHz and below
    the shelf lies past Nyquist and is left out.
    """
    shelf = [high_shelf(1500.0, 4.0, sample_rate, q=BUTTERWORTH_Q)] if sample_rate > 3000 else []
    return np.concatenate([*shelf, highpass(38.0, sample_rate, q=0.5)])


def response(sos: np.ndarray, freqs_hz: np.ndarray | list[float], sample_rate: int) -> np.ndarray:
    """Complex frequency response of ``sos`` at ``freqs_hz``."""
    _, h = scipy.signal.sosfreqz(sos, worN=np.asarray(freqs_hz, dtype=np.float64), fs=sample_rate)
    return h


class SosFilter:
    """A cascade of biquads over ``(channels, samples)`` blocks, carrying its state.

    Filtering a signal block by block gives bit-identical output to filtering it whole:
    the state (direct form II transposed, ``scipy.signal.sosfilt`` with ``zi``) carries
    across calls. An empty cascade passes audio through unchanged.
    """

    def __init__(self, sos: np.ndarray, num_channels: int):
        self.sos = np.asarray(sos, dtype=np.float64).reshape(-1, 6)
        self.num_channels = num_channels
        self.reset()

    def reset(self) -> None:
        self._zi = np.zeros((self.sos.shape[0], self.num_channels, 2), dtype=np.float64)

    def process(self, audio: np.ndarray) -> np.ndarray:
        """Filter the next ``(channels, n)`` float64 block; returns a new array."""
        if self.sos.shape[0] == 0 or audio.shape[-1] == 0:
            return np.array(audio, dtype=np.float64, copy=True)
        out, self._zi = scipy.signal.sosfilt(self.sos, audio, axis=-1, zi=self._zi)
        return out


def linear_phase_taps(sos: np.ndarray, sample_rate: int, num_taps: int) -> np.ndarray:
    """An odd-length, symmetric FIR with the magnitude of ``sos`` and linear phase: every
    frequency is delayed by the same ``(num_taps - 1) / 2`` samples, so a high-pass made this
    way cuts the band under its corner without moving the phase of what it keeps.

    Frequency sampling of ``|H|`` on a grid eight times the length, windowed (Blackman); the
    magnitude follows ``sos`` within 0.15 dB from about 5 / (length in seconds) Hz up.
    """
    if num_taps < 3 or num_taps % 2 == 0:
        raise ValueError(f"a linear-phase FIR needs an odd number of taps (3 or more), not {num_taps}")
    fft_size = 1 << int(math.ceil(math.log2(8 * num_taps)))
    magnitude = np.abs(response(sos, np.fft.rfftfreq(fft_size, 1.0 / sample_rate), sample_rate))
    impulse = np.roll(np.fft.irfft(magnitude, fft_size), num_taps // 2)[:num_taps]
    return impulse * scipy.signal.windows.blackman(num_taps)


class FirFilter:
    """An FIR over ``(channels, samples)`` float64 blocks, carrying the last ``len(taps) - 1``
    input samples: filtering block by block equals filtering the whole signal (to float
    rounding). Overlap-save FFT convolution with the taps' spectrum computed once (FFT four
    times the taps). The output is causal: a linear-phase filter's lags by half its length."""

    def __init__(self, taps: np.ndarray, num_channels: int):
        self.taps = np.asarray(taps, dtype=np.float64).reshape(-1)
        self.num_channels = num_channels
        self._fft_size = 1 << int(math.ceil(math.log2(4 * self.taps.size)))
        self._taps_spectrum = np.fft.rfft(self.taps, self._fft_size)
        self.reset()

    def reset(self) -> None:
        self._history = np.zeros((self.num_channels, self.taps.size - 1), dtype=np.float64)

    def process(self, audio: np.ndarray) -> np.ndarray:
        """Filter the next ``(channels, n)`` float64 block; returns a new array."""
        joined = np.concatenate([self._history, audio], axis=-1)
        self._history = joined[:, joined.shape[-1] - self._history.shape[-1]:].copy()  # not a view of the block
        num_samples, held = audio.shape[-1], self.taps.size - 1
        step = self._fft_size - held  # new outputs per FFT
        out = np.empty((joined.shape[0], num_samples), dtype=np.float64)
        for start in range(0, num_samples, step):
            count = min(step, num_samples - start)
            segment = np.fft.rfft(joined[:, start:start + held + count], self._fft_size, axis=-1)
            out[:, start:start + count] = np.fft.irfft(segment * self._taps_spectrum, self._fft_size,
                                                       axis=-1)[:, held:held + count]
        return out
