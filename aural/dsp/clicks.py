"""Clicks: find impulsive damage by autoregressive prediction and rebuild it from its surroundings.

Speech and music are well predicted from their recent past (an autoregressive model of order
``AR_ORDER`` fitted around every frame); a click (a mouth click, a crackle, a digital glitch)
is not, from the past *or* from the future. A click starts where the forward prediction error
exceeds ``threshold`` times its robust spread (1.4826 x median absolute error) and ends at the
last backward error that does within ``max_click_ms``; a forward error with no backward one
after it is a sound starting, not a click. Each click is rebuilt by least-squares AR
interpolation (Janssen, Veldhuis & Vries 1986): the samples that make the model's prediction
error smallest given the good samples on both sides. Loud clicks bend the fitted model towards
themselves, so a frame with clicks is fitted again with them rebuilt. Clipped plateaus (three
equal loud samples) are left alone: clipping is not clicks.

:class:`ClickRepairer` streams: it repairs one frame at a time with context on both sides and
returns audio ``latency_samples`` late, so memory does not grow with the input.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.signal

AR_ORDER = 32
FRAME_S = 0.02
FIT_S = 0.046            # the AR model is fitted over this much audio around a frame
CLIPPING_MARGIN = 8          # samples around a click searched for a clipped plateau
WIDEN_S = 0.00005        # damaged stretches grow this much on each side


def ar_coefficients(audio: np.ndarray, order: int) -> np.ndarray:
    """``[1, a_1, ..., a_p]`` of the prediction-error filter of ``audio`` (autocorrelation method)."""
    windowed = audio * np.hanning(len(audio))
    autocorrelation = np.array([windowed[:len(windowed) - lag] @ windowed[lag:] for lag in range(order + 1)])
    if autocorrelation[0] <= 0.0:
        return np.concatenate([[1.0], np.zeros(order)])
    autocorrelation[0] *= 1.0 + 1e-6   # a little white noise: a stable fit on pure tones
    return np.concatenate([[1.0], -scipy.linalg.solve_toeplitz(autocorrelation[:-1], autocorrelation[1:])])


def prediction_errors(audio: np.ndarray, coefficients: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward and backward prediction errors of ``audio``, each in units of its robust spread."""
    order = len(coefficients) - 1
    forward = scipy.signal.lfilter(coefficients, [1.0], audio)
    backward = scipy.signal.lfilter(coefficients, [1.0], audio[::-1])[::-1]
    forward[:order], backward[len(audio) - order:] = 0.0, 0.0    # not enough history to judge
    spread_f = 1.4826 * np.median(np.abs(forward[order:])) + 1e-12
    spread_b = 1.4826 * np.median(np.abs(backward[:len(audio) - order])) + 1e-12
    return np.abs(forward) / spread_f, np.abs(backward) / spread_b


def find_clicks(audio: np.ndarray, coefficients: np.ndarray, threshold: float, max_length_samples: int,
                widen_samples: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of the clicks in ``audio``.

    A click starts where the past fails to predict the signal (a forward error above
    ``threshold``) and ends where the future fails to (the last backward error above it within
    ``max_length_samples``); a forward error with no backward one after it is the start of a
    sound, not a click. Each stretch grows by ``widen_samples`` on both sides; overlapping ones
    merge, and a merged stretch longer than one click can be (``2 * (max_length_samples +
    widen_samples)``, its faint onset included) is an event such as a noise burst, left alone."""
    forward, backward = prediction_errors(audio, coefficients)
    late = np.flatnonzero(backward > threshold)
    found: list[tuple[int, int]] = []
    for onset in np.flatnonzero(forward > threshold):
        if found and onset < found[-1][1]:
            continue
        ends = late[(late >= onset) & (late < onset + max_length_samples)]
        if not len(ends):
            continue
        start, stop = int(onset), int(ends[-1]) + 1
        # hysteresis: the faint edges of the click, where the errors stay above a third of the threshold
        while start > 0 and onset - start < max_length_samples and forward[start - 1] > threshold / 3:
            start -= 1
        while stop < len(audio) and stop - onset < max_length_samples and backward[stop] > threshold / 3:
            stop += 1
        start, stop = max(0, start - widen_samples), min(len(audio), stop + widen_samples)
        if found and start <= found[-1][1]:
            found[-1] = (found[-1][0], stop)
        else:
            found.append((start, stop))
    longest = 2 * (max_length_samples + widen_samples)
    return [(start, stop) for start, stop in found if stop - start <= longest]


def touches_clipping(audio: np.ndarray, start: int, stop: int) -> bool:
    """Whether ``audio[start:stop]`` (with ``CLIPPING_MARGIN`` samples around) holds a clipped plateau: three or
    more equal samples, loud ones. Clipping is damage of another kind; rebuilt as clicks, its
    plateaus would be smeared rather than restored."""
    part = audio[max(0, start - CLIPPING_MARGIN):stop + CLIPPING_MARGIN]
    loud = np.abs(part[:-2]) >= 0.25 * (np.max(np.abs(audio)) + 1e-12)
    flat = (part[:-2] == part[1:-1]) & (part[1:-1] == part[2:])
    return bool(np.any(loud & flat))


def interpolate(audio: np.ndarray, start: int, stop: int, coefficients: np.ndarray) -> np.ndarray:
    """Samples ``start:stop`` of ``audio`` rebuilt by least-squares AR interpolation.

    Needs ``order`` good samples on each side (``start >= order``, ``stop + order <= len``)."""
    order = len(coefficients) - 1
    segment = audio[start - order:stop + order]
    rows = len(segment) - order
    matrix = np.zeros((rows, len(segment)))
    for lag, coefficient in enumerate(coefficients):
        matrix[np.arange(rows), order - lag + np.arange(rows)] = coefficient
    unknown = np.arange(order, order + stop - start)
    known = np.setdiff1d(np.arange(len(segment)), unknown)
    a_unknown, a_known = matrix[:, unknown], matrix[:, known]
    solution, *_ = np.linalg.lstsq(a_unknown, -a_known @ segment[known], rcond=None)
    return solution


class ClickRepairer:
    """Streaming click repair of ``(channels, samples)`` blocks; output ``latency_samples`` late.

    Frames of ``FRAME_S`` are repaired in order, each with ``context_samples`` on both sides
    (already repaired history on the left); a stretch belongs to the frame it starts in, so
    once a frame is done every sample before its end is final.
    """

    def __init__(self, sample_rate: int, num_channels: int, *, threshold: float = 12.0, max_click_ms: float = 3.0,
                 strength: float = 1.0):
        self.num_channels = num_channels
        self.threshold = threshold
        self.strength = strength
        self.frame_samples = max(64, int(round(FRAME_S * sample_rate)))
        self.fit_samples = max(self.frame_samples + 2 * AR_ORDER, int(round(FIT_S * sample_rate)))
        self.max_click_samples = max(1, int(round(max_click_ms * sample_rate / 1000.0)))
        self.widen_samples = max(1, int(round(WIDEN_S * sample_rate)))
        self.context_samples = max(2 * AR_ORDER + self.max_click_samples + 2 * self.widen_samples,
                                   (self.fit_samples - self.frame_samples + 1) // 2)
        self.reset()

    @property
    def latency_samples(self) -> int:
        return self.frame_samples + self.context_samples

    def reset(self) -> None:
        self._buffer = np.zeros((self.num_channels, self.context_samples))  # zero history before the input
        self._offset = -self.context_samples    # input index of _buffer[:, 0]
        self._received = 0
        self._next = 0                  # input index where the next frame to repair starts
        self._emitted = 0
        self.repaired_samples = 0

    def process(self, audio: np.ndarray) -> np.ndarray:
        """The next block in; as many samples out, ``latency_samples`` late."""
        self._buffer = np.concatenate([self._buffer, np.asarray(audio, dtype=np.float64)], axis=1)
        self._received += audio.shape[1]
        while self._next + self.frame_samples + self.context_samples <= self._received:
            self._repair_frame(self._next)
            self._next += self.frame_samples
        positions = np.arange(self._emitted, self._emitted + audio.shape[1]) - self.latency_samples
        out = np.zeros((self.num_channels, audio.shape[1]))
        ready = positions >= 0
        out[:, ready] = self._buffer[:, positions[ready] - self._offset]
        self._emitted += audio.shape[1]
        keep_from = min(self._emitted - self.latency_samples, self._next - self.context_samples)
        if keep_from > self._offset:
            self._buffer = self._buffer[:, keep_from - self._offset:]
            self._offset = keep_from
        return out

    def _repair_frame(self, start: int) -> None:
        lo = start - self.context_samples - self._offset
        segment = self._buffer[:, lo:lo + self.frame_samples + 2 * self.context_samples]  # a view: repaired in place
        fit_lo = self.context_samples + self.frame_samples // 2 - self.fit_samples // 2
        for channel in segment:
            coefficients = ar_coefficients(channel[fit_lo:fit_lo + self.fit_samples], AR_ORDER)
            clicks = self._find(channel, coefficients)
            if clicks:  # loud clicks bend the model towards themselves: fit again without them
                cleaned = channel.copy()
                for begin, end in clicks:
                    if begin >= AR_ORDER and end + AR_ORDER <= len(channel):
                        cleaned[begin:end] = interpolate(channel, begin, end, coefficients)
                coefficients = ar_coefficients(cleaned[fit_lo:fit_lo + self.fit_samples], AR_ORDER)
                clicks = self._find(channel, coefficients)
            for begin, end in clicks:
                owned = self.context_samples <= begin < self.context_samples + self.frame_samples
                if not owned or begin < AR_ORDER or end + AR_ORDER > len(channel) \
                        or touches_clipping(channel, begin, end):
                    continue
                rebuilt = interpolate(channel, begin, end, coefficients)
                channel[begin:end] += self.strength * (rebuilt - channel[begin:end])
                self.repaired_samples += end - begin

    def _find(self, channel: np.ndarray, coefficients: np.ndarray) -> list[tuple[int, int]]:
        return find_clicks(channel, coefficients, self.threshold, self.max_click_samples, self.widen_samples)
