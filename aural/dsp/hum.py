"""Mains hum: find the 50 or 60 Hz line spectrum of a recording and subtract it.

Hum from mains power is a sum of steady sinusoids at (close to) whole multiples of 50 or 60
Hz whose frequency drifts slowly. Notch filters remove it only after they ring in (a fraction
of a second of hum at the start of every file) and need the frequency to within a hundredth of
a hertz to reach 30 dB; here the hum is *modelled* and subtracted:

1. **Analysis** (a first pass over the input, :class:`HumAnalyzer`): the channels are
   resampled to ``ANALYSIS_SAMPLE_RATE`` and cut into Hann windows of ``WINDOW_S`` centred every
   ``HOP_S``. A window *anchors* hum when one of the first three harmonics of 50 or 60 Hz
   stands out of the spectrum around it; the fundamental is then sharpened on every harmonic
   that stands out. Each window measures, for every harmonic ``k`` up to ``max_freq_hz``, the
   least-squares phasor (amplitude and phase at the window centre, per channel) at ``k f0``, and
   the level a phasor of the surrounding spectrum has (the noise it must be told from).
2. **Tracking** (:meth:`HumAnalyzer.finish`): per harmonic, the phase advance from window to
   window corrects its frequency (drift, and the small errors of ``k f0`` at high ``k``), and
   each window's phasor becomes the inverse-noise-weighted mean of its neighbours' (``SMOOTH_WINDOWS``
   either side), brought to its centre: windows where speech or music covers a line count
   little, pauses count much, so the model follows the hum and not the programme. A line that
   stands out of its noise but does not keep its phase across those windows (the magnitude of
   their mean under ``MIN_COHERENCE`` of their mean magnitude) is not hum, and is left alone.
3. **Subtraction** (:class:`HumCanceller`): between two window centres the two local models
   are cross-faded linearly and subtracted. Nothing else is filtered: only the modelled lines
   leave, from the first sample to the last.

Windows more than ``SMOOTH_WINDOWS`` from any anchoring window are left alone, so a file
without hum passes unchanged. Short-lived tones (a note, a whistle) do not anchor: they rarely
sit within 1 % of a mains harmonic, and a ``WINDOW_S`` (3 s) window spreads them.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import soxr

ANALYSIS_SAMPLE_RATE = 6000  # Hz: a whole number of samples per period of 50 and of 60 Hz
WINDOW_S = 3.0
HOP_S = 1.0
MIN_WINDOW_S = 1.0
FFT_SIZE = 1 << 16           # 0.09 Hz bins (peaks are interpolated)
SEARCH_FRACTION = 0.01       # an anchor is looked for within +-1 % of k * mains_hz
FLOOR_SPAN_HZ = (3.0, 15.0)  # the spectrum 3-15 Hz either side of a line is its surroundings
AGREEMENT_HZ = 0.05          # a line is searched for this close to k * f0 (widening with k)
MAINS_HZ = (50.0, 60.0)
ANCHOR_DB = 6.0              # hum is declared only when a low harmonic stands out this much more
MIN_HARMONICS = 10           # in hum, at least this many harmonics are modelled
SMOOTH_WINDOWS = 4           # tracking: neighbours either side of a window
PAIR_SMOOTH = 2              # tracking: phase advances averaged either side of a window pair
LEVEL_RANGE = 1e-2           # measure(): the programme's level is floored this far (40 dB) below its mean
MIN_LINE_SNR = 2.0           # a harmonic above MIN_HARMONICS is modelled from this tracked SNR (power ratio) on
MIN_COHERENCE = 0.9          # a line above its noise is modelled where its phase holds this well across windows


@dataclass(frozen=True)
class HumWindow:
    """The hum model around one window centre: line frequencies and per-channel phasors."""

    centre_s: float
    frequencies_hz: np.ndarray   # (lines,)
    phasors: np.ndarray          # (channels, lines) complex: amplitude and phase at centre_s


@dataclass(frozen=True)
class _Measure:
    """What one analysis window saw (window ``i`` is centred at ``i * HOP_S``): the phasor of every
    harmonic at ``f0_hz`` and their noise."""

    mains_hz: float
    f0_hz: float
    phasors: np.ndarray          # (channels, harmonics)
    noise: np.ndarray            # (harmonics,) phasor power of the surrounding spectrum


def _whitened_db(power_db: np.ndarray, bin_hz: float) -> np.ndarray:
    """Log power above its local mean over +-``FLOOR_SPAN_HZ[1]`` (a line stands out, a slope does not)."""
    from scipy.ndimage import uniform_filter1d

    return power_db - uniform_filter1d(power_db, size=int(2 * FLOOR_SPAN_HZ[1] / bin_hz) | 1, mode="nearest")


def _peak(power_db: np.ndarray, bin_hz: float, frequency_hz: float, span_hz: float) -> tuple[float, int]:
    """The interpolated frequency and the bin of the highest point within ``span_hz`` of ``frequency_hz``."""
    lo = max(1, int(math.floor((frequency_hz - span_hz) / bin_hz)))
    hi = min(len(power_db) - 2, int(math.ceil((frequency_hz + span_hz) / bin_hz)))
    peak = lo + int(np.argmax(power_db[lo:hi + 1]))
    left, mid, right = power_db[peak - 1], power_db[peak], power_db[peak + 1]
    curvature = left - 2 * mid + right
    offset = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
    return (peak + offset) * bin_hz, peak


def _anchor(power_db: np.ndarray, whitened: np.ndarray, bin_hz: float, mains_hz: float, max_freq_hz: float,
            min_prominence_db: float) -> tuple[float, float] | None:
    """``(f0, strength_db)`` when a harmonic ``k <= 3`` of ``mains_hz`` stands out, else None.

    The fundamental is then sharpened on every harmonic that stands out as much (least squares
    of ``f_k = k f0``, each line searched for close to ``k f0``)."""
    best = None
    for k in (1, 2, 3):
        frequency, peak = _peak(power_db, bin_hz, k * mains_hz, SEARCH_FRACTION * k * mains_hz)
        if whitened[peak] >= min_prominence_db + ANCHOR_DB and (best is None or whitened[peak] > best[2]):
            best = (k, frequency, float(whitened[peak]))
    if best is None:
        return None
    k0, frequency0, strength = best
    f0 = frequency0 / k0
    weighted, weights = frequency0 * k0, float(k0 * k0)
    for k in range(1, int(max_freq_hz // mains_hz) + 1):
        frequency, peak = _peak(power_db, bin_hz, k * f0, AGREEMENT_HZ * (1.0 + 0.05 * k))
        if whitened[peak] >= min_prominence_db + ANCHOR_DB:
            weighted, weights = weighted + frequency * k, weights + k * k
            f0 = weighted / weights
    return f0, strength


def _rotations(frequencies_hz: np.ndarray, times_s: np.ndarray, sample_rate: float) -> np.ndarray:
    """``exp(2j pi f t)`` for evenly spaced ``times_s``: one complex multiply per sample."""
    rotation = np.empty((len(frequencies_hz), len(times_s)), dtype=np.complex128)
    if len(times_s):
        rotation[:, 0] = np.exp(2j * np.pi * frequencies_hz * times_s[0])
        rotation[:, 1:] = np.exp(2j * np.pi * frequencies_hz / sample_rate)[:, None]
        np.cumprod(rotation, axis=1, out=rotation)
    return rotation


def _spectrum(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``(window, phasor_power, scale)`` of the channel mean of ``audio`` (a Hann window over it)."""
    window = np.hanning(audio.shape[1] + 2)[1:-1]
    scale = 2.0 / window.sum()                # a sinusoid's phasor magnitude is its amplitude
    return window, np.abs(np.fft.rfft(audio.mean(axis=0) * window, FFT_SIZE) * scale) ** 2, scale


def find_anchor(audio: np.ndarray, mains: str, max_freq_hz: float, min_prominence_db: float
                ) -> tuple[float, float, float] | None:
    """``(mains_hz, f0, strength_db)`` of the hum anchored in one window of ``audio`` at ``ANALYSIS_SAMPLE_RATE``."""
    if audio.shape[1] < MIN_WINDOW_S * ANALYSIS_SAMPLE_RATE:
        return None
    _, phasor_power, _ = _spectrum(audio)
    power_db = 10.0 * np.log10(phasor_power + 1e-30)
    bin_hz = ANALYSIS_SAMPLE_RATE / FFT_SIZE
    whitened = _whitened_db(power_db, bin_hz)
    found = []
    for mains_hz in MAINS_HZ if mains == "auto" else (float(mains),):
        anchor = _anchor(power_db, whitened, bin_hz, mains_hz, max_freq_hz, min_prominence_db)
        if anchor is not None:
            found.append((mains_hz, *anchor))
    return max(found, key=lambda item: item[2]) if found else None


def measure(audio: np.ndarray, centre_s: float, start_s: float, mains_hz: float, f0_hz: float,
            max_freq_hz: float) -> _Measure:
    """Phasors (at ``centre_s``) of the harmonics of ``f0_hz`` in one window of ``audio`` starting at ``start_s``.

    A first Hann-weighted fit gives the hum; what is left (speech, music, noise) has a level
    that changes from moment to moment, and the second fit weights every sample by the inverse
    of that level over one mains period around it: the pauses between words, where the hum is
    alone, decide the phasors, and the words barely disturb them. (Averaged over exactly one
    period, the weights hold no mains harmonic, so the harmonics' fits stay independent.)
    """
    from scipy.ndimage import uniform_filter1d

    window, phasor_power, scale = _spectrum(audio)
    frequencies = f0_hz * np.arange(1, int(max_freq_hz // mains_hz) + 1)
    times = start_s - centre_s + np.arange(audio.shape[1]) / ANALYSIS_SAMPLE_RATE
    rotations = _rotations(frequencies, times, ANALYSIS_SAMPLE_RATE)
    first = (audio * window) @ np.conj(rotations).T * scale
    programme = audio - np.real(first @ rotations)
    period_samples = int(round(ANALYSIS_SAMPLE_RATE / mains_hz))
    level = uniform_filter1d(np.mean(programme ** 2, axis=0), period_samples, mode="nearest")
    level += LEVEL_RANGE * level.mean() + 1e-30
    weights = window / level
    phasors = (audio * weights) @ np.conj(rotations).T * (2.0 / weights.sum())
    # the fit's variance relative to the Hann fit's, for noise whose level is ``level``
    gain = (np.sum(weights ** 2 * level) / weights.sum() ** 2) / (np.sum(window ** 2 * level) / window.sum() ** 2)
    offsets = np.concatenate([-np.arange(*FLOOR_SPAN_HZ[::-1], -1.0), np.arange(*FLOOR_SPAN_HZ)])
    bin_hz = ANALYSIS_SAMPLE_RATE / FFT_SIZE
    around = np.clip(np.rint((frequencies[:, None] + offsets[None, :]) / bin_hz).astype(int), 0, len(phasor_power) - 1)
    return _Measure(mains_hz, f0_hz, phasors, phasor_power[around].mean(axis=1) * gain)


def _weighted_median(values: list[float], weights: list[float]) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(np.asarray(weights)[order])
    return float(np.asarray(values)[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


def _wrap(phase: np.ndarray) -> np.ndarray:
    return (phase + np.pi) % (2 * np.pi) - np.pi


def track(measures: list[_Measure | None]) -> list[HumWindow | None]:
    """Per-window hum models from the windows' measurements (see the module docstring, step 2)."""
    votes = Counter(m.mains_hz for m in measures if m is not None)
    if not votes:
        return [None] * len(measures)
    mains_hz = votes.most_common(1)[0][0]
    valid = np.array([m is not None and m.mains_hz == mains_hz for m in measures])
    count = min(m.phasors.shape[1] for m, ok in zip(measures, valid) if ok)
    channels = next(m.phasors.shape[0] for m, ok in zip(measures, valid) if ok)
    num = len(measures)
    phasors = np.zeros((num, channels, count), dtype=np.complex128)
    noise = np.full((num, count), np.inf)
    frequencies = np.zeros((num, count))
    centres = np.arange(num) * HOP_S        # window i is centred at i * HOP_S (its measure may be None)
    orders = np.arange(1, count + 1)
    for index, (m, ok) in enumerate(zip(measures, valid)):
        if ok:
            phasors[index], noise[index] = m.phasors[:, :count], np.maximum(m.noise[:count], 1e-30)
            frequencies[index] = m.f0_hz * orders
    line_power = (np.abs(phasors) ** 2).sum(axis=1)                                    # (num, count)
    # frequency of each line from its phase advance between consecutive windows
    pair_ok = valid[:-1] & valid[1:]
    advance = np.angle(np.sum(phasors[1:] * np.conj(phasors[:-1]), axis=1))            # (num-1, count)
    mean_frequency = 0.5 * (frequencies[1:] + frequencies[:-1])
    step_s = np.diff(centres)[:, None] if num > 1 else np.ones((0, 1))
    pair_frequency = mean_frequency + _wrap(advance - 2 * np.pi * mean_frequency * step_s) / (2 * np.pi * step_s)
    with np.errstate(divide="ignore"):
        pair_weight = np.where(pair_ok[:, None], 1.0 / (noise[1:] / np.maximum(line_power[1:], 1e-30)
                                                      + noise[:-1] / np.maximum(line_power[:-1], 1e-30)), 0.0)
    # smoothed pair frequencies, and the phase each line has accumulated at every window centre
    smoothed = np.zeros_like(pair_frequency)
    for pair in range(num - 1):
        lo, hi = max(0, pair - PAIR_SMOOTH), min(num - 1, pair + PAIR_SMOOTH + 1)
        total = pair_weight[lo:hi].sum(axis=0)
        smoothed[pair] = np.where(total > 0, (pair_weight[lo:hi] * pair_frequency[lo:hi]).sum(axis=0)
                                  / np.maximum(total, 1e-30), mean_frequency[pair])
    phase = np.concatenate([np.zeros((1, count)), np.cumsum(2 * np.pi * smoothed * step_s, axis=0)])
    models: list[HumWindow | None] = []
    for index in range(num):
        if not valid[index]:
            models.append(None)
            continue
        around = smoothed[max(0, index - 1):index + 1]
        tracked = around.mean(axis=0) if len(around) else frequencies[index]
        lo, hi = max(0, index - SMOOTH_WINDOWS), min(num, index + SMOOTH_WINDOWS + 1)
        taper = 1.0 - np.abs(np.arange(lo, hi) - index) / (SMOOTH_WINDOWS + 1.0)
        trust = np.where(valid[lo:hi, None], taper[:, None] / noise[lo:hi], 0.0)              # (span, count)
        to_centre = np.exp(1j * (phase[index][None, :] - phase[lo:hi]))
        estimate = (trust[:, None, :] * phasors[lo:hi] * to_centre[:, None, :]).sum(axis=0) / trust.sum(axis=0)
        snr = (np.abs(estimate) ** 2).sum(axis=0) * trust.sum(axis=0) / max(taper.sum(), 1e-9)
        # a line that keeps its phase from window to window (the magnitude of the neighbours' mean near the
        # mean of their magnitudes) is hum; one that does not (a machine's tone beside a mains harmonic,
        # with a voice's partials on it) would get a steady model that adds as much as it removes
        resultant = np.abs(estimate).sum(axis=0) * trust.sum(axis=0)
        spread = (trust * np.abs(phasors[lo:hi]).sum(axis=1)).sum(axis=0)
        excess = (np.abs(phasors[lo:hi]) ** 2).sum(axis=1) - np.where(valid[lo:hi, None], noise[lo:hi], 0.0)
        above_noise = (trust * excess).sum(axis=0) > 0
        steady = (resultant >= MIN_COHERENCE * spread) | ~above_noise
        keep = ((orders <= MIN_HARMONICS) | (snr >= MIN_LINE_SNR)) & steady
        models.append(HumWindow(float(centres[index]), tracked[keep], estimate[:, keep]))
    return models


class HumAnalyzer:
    """Streams a recording once (:meth:`push`), then :meth:`finish` gives the hum model of each
    ``HOP_S`` window centre (``None``: no hum there).

    Each window is first searched for an anchor; once the anchors ``SMOOTH_WINDOWS`` ahead are
    known, the window's phasors are measured at the weighted median of the neighbouring anchors'
    fundamentals (one window's estimate wobbles under speech; their median does not). Memory:
    ``WINDOW_S + SMOOTH_WINDOWS * HOP_S`` of audio at ``ANALYSIS_SAMPLE_RATE``, and a few numbers per window.
    """

    def __init__(self, sample_rate: int, num_channels: int, *, mains: str = "auto", max_freq_hz: float = 1500.0,
                 min_prominence_db: float = 10.0):
        self.mains = mains
        self.max_freq_hz = min(max_freq_hz, 0.45 * ANALYSIS_SAMPLE_RATE, 0.45 * sample_rate)
        self.min_prominence_db = min_prominence_db
        self._resampler = soxr.ResampleStream(sample_rate, ANALYSIS_SAMPLE_RATE, num_channels, dtype="float64")
        self._buffer = np.zeros((num_channels, 0))
        self._buffer_start = 0         # analysis-rate sample index of _buffer[:, 0]
        self._received = 0
        self.anchors: list[tuple[float, float, float] | None] = []
        self.measures: list[_Measure | None] = []

    def push(self, audio: np.ndarray) -> None:
        """The next ``(channels, samples)`` block at the input rate."""
        self._append(self._resampler.resample_chunk(np.ascontiguousarray(audio.T, dtype=np.float64)).T)
        self._advance(final=False)

    def finish(self) -> list[HumWindow | None]:
        self._append(self._resampler.resample_chunk(np.zeros((0, self._buffer.shape[0])), last=True).T)
        self._advance(final=True)
        return track(self.measures)

    def _append(self, audio: np.ndarray) -> None:
        self._buffer = np.concatenate([self._buffer, audio], axis=1)
        self._received += audio.shape[1]

    def _window(self, index: int) -> tuple[np.ndarray, int]:
        half, hop = int(WINDOW_S * ANALYSIS_SAMPLE_RATE / 2), int(HOP_S * ANALYSIS_SAMPLE_RATE)
        lo, hi = max(0, index * hop - half), min(self._received, index * hop + half)
        return self._buffer[:, lo - self._buffer_start:hi - self._buffer_start], lo

    def _advance(self, final: bool) -> None:
        half, hop = int(WINDOW_S * ANALYSIS_SAMPLE_RATE / 2), int(HOP_S * ANALYSIS_SAMPLE_RATE)
        while True:  # anchors of every window whose audio has arrived
            index = len(self.anchors)
            if final:
                if self.anchors and (index - 1) * hop >= self._received:
                    break  # the last centre is at or past the end: every sample lies between two
            elif index * hop + half > self._received:
                break
            self.anchors.append(find_anchor(self._window(index)[0], self.mains, self.max_freq_hz,
                                            self.min_prominence_db))
        # a window is measured once the anchors SMOOTH_WINDOWS ahead of it are known
        while len(self.measures) < len(self.anchors) and (final or len(self.measures) + SMOOTH_WINDOWS
                                                            < len(self.anchors)):
            self.measures.append(self._measure(len(self.measures)))
        keep_from = max(0, len(self.measures) * hop - half)
        if keep_from > self._buffer_start:
            self._buffer = self._buffer[:, keep_from - self._buffer_start:]
            self._buffer_start = keep_from

    def _measure(self, index: int) -> _Measure | None:
        near = [a for a in self.anchors[max(0, index - SMOOTH_WINDOWS):index + SMOOTH_WINDOWS + 1] if a is not None]
        if not near:
            return None
        mains_hz = Counter(a[0] for a in near).most_common(1)[0][0]
        same = [a for a in near if a[0] == mains_hz]
        f0 = _weighted_median([a[1] for a in same], [a[2] for a in same])
        audio, lo = self._window(index)
        if audio.shape[1] < MIN_WINDOW_S * ANALYSIS_SAMPLE_RATE:
            return None
        return measure(audio, index * HOP_S, lo / ANALYSIS_SAMPLE_RATE, mains_hz, f0, self.max_freq_hz)


class HumCanceller:
    """Subtracts the modelled hum of :class:`HumAnalyzer` windows from blocks of the same input."""

    def __init__(self, windows: list[HumWindow | None], sample_rate: int, strength: float = 1.0):
        self.windows = windows
        self.sample_rate = sample_rate
        self.strength = strength
        self.position = 0

    @property
    def active(self) -> bool:
        return any(window is not None for window in self.windows)

    def _model(self, index: int, times_s: np.ndarray, channels: int) -> np.ndarray:
        if not 0 <= index < len(self.windows) or self.windows[index] is None or not len(times_s):
            return np.zeros((channels, len(times_s)))
        window = self.windows[index]
        rotation = _rotations(window.frequencies_hz, times_s - window.centre_s, self.sample_rate)
        return np.real(window.phasors @ rotation)

    def process(self, audio: np.ndarray) -> np.ndarray:
        """``audio`` ``(channels, samples)`` minus the hum model at its place in the stream."""
        channels, samples = audio.shape
        start, self.position = self.position, self.position + samples
        if not self.active or samples == 0:
            return audio
        times_s = (start + np.arange(samples)) / self.sample_rate
        hum = np.zeros((channels, samples))
        position = times_s / HOP_S
        for index in range(int(math.floor(position[0])), int(math.floor(position[-1])) + 1):
            inside = (position >= index) & (position < index + 1)
            weight = position[inside] - index
            part = times_s[inside]
            hum[:, inside] = (1.0 - weight) * self._model(index, part, channels) \
                + weight * self._model(index + 1, part, channels)
        return audio - self.strength * hum
