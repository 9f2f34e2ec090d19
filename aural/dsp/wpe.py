"""Late reverberation removed by weighted prediction error (WPE), streamed in blocks.

WPE (Nakatani et al. 2010; Yoshioka & Nakatani 2012) predicts each STFT bin's late reverberation
from the same bin ``delay`` to ``delay + taps - 1`` frames earlier and subtracts the prediction.
The filter is the least-squares one with every frame weighted by the inverse power of the
dereverberated estimate, iterated a few times, so the quiet frames (reverberant tails) decide it
rather than the loud direct sound; what arrives within ``delay`` (direct sound and early
reflections) is never predicted. Channels share one multichannel filter, so stereo stays linked.

Three guards that the textbook algorithm (and ``nara_wpe``, Drude et al. 2018) lacks, for
audio as users have it: frames of digital silence (a stream's closing zeros, gaps) are left out
of the fit, since with the inverse-power weight they would outweigh everything and teach the
filter to predict nothing; bins that hold steady through a block (sustained tones, hum, DC) are
passed through, since they are perfectly predictable and WPE would take them for reverberation;
and inaudible bins (the empty top of upsampled phone audio) are not fitted at all.

:class:`WpeDereverberator` streams: frames are gathered into blocks of ``block_s``, each block's
filter is estimated on the block with the frames before it as its past, and consecutive blocks
crossfade over ``overlap_s``. Memory is bounded by one block; the output comes
``latency_samples`` late.
"""

from __future__ import annotations

import collections
import warnings

import numpy as np

# A bin whose power holds steady over a block (a sustained tone, hum, DC) is perfectly predictable
# from its past, and WPE would take it for reverberation: bins whose 90th / 10th power percentiles
# span less than STEADY_DB[0] are left alone, from STEADY_DB[1] on they are fully processed.
STEADY_DB = (6.0, 12.0)
SILENT_DB = -60.0        # frames this far below their bin's mean power are left out of the fit
INAUDIBLE_DB = -70.0     # bins this far below the block's loudest bin are not fitted (the empty top of phone audio)
BIN_CHUNK = 32           # bins fitted at once (bounds the memory of the stacked past)
LOADING = 1e-6           # diagonal loading of the correlation matrix, relative to its mean diagonal
RANGE_RAMP_DB = 6.0      # with min_range_db: no dereverberation below it, full from this much above it


def stft_sizes(sample_rate: int, window_ms: float) -> tuple[int, int]:
    """``(window, hop)`` in samples: ``window_ms`` rounded to a multiple of 4, the hop a quarter of it."""
    window = max(64, 4 * round(window_ms * sample_rate / 4000))
    return window, window // 4


def stack_past(spectra: np.ndarray, taps: int, delay: int) -> np.ndarray:
    """``(bins, taps * channels, frames)``: for each frame, the frames ``delay`` to ``delay + taps - 1`` before it."""
    bins, channels, frames = spectra.shape
    past = np.zeros((bins, taps, channels, frames), dtype=spectra.dtype)
    for tap in range(taps):
        lag = delay + tap
        if lag < frames:
            past[:, tap, :, lag:] = spectra[..., :frames - lag]
    return past.reshape(bins, taps * channels, frames)


def wpe(spectra: np.ndarray, taps: int, delay: int, iterations: int) -> np.ndarray:
    """WPE estimate of the direct sound and early reflections of ``spectra`` (bins, channels, frames)."""
    out = np.empty_like(spectra)
    for low in range(0, spectra.shape[0], BIN_CHUNK):
        observed = spectra[low:low + BIN_CHUNK]
        past = stack_past(observed, taps, delay)
        power = np.mean(np.abs(observed) ** 2, axis=1)                                 # (bins, frames)
        heard = heard_frames(power)
        estimate = observed
        for iteration in range(iterations):
            if iteration:
                power = np.mean(np.abs(estimate) ** 2, axis=1)
            weight = np.where(heard, 1.0 / np.maximum(power, 1e-30), 0.0)
            weighted_past = past * weight[:, None, :]
            correlation = weighted_past @ past.conj().transpose(0, 2, 1)                 # (bins, tD, tD)
            cross = weighted_past @ observed.conj().transpose(0, 2, 1)                  # (bins, tD, D)
            loading = LOADING * np.real(np.trace(correlation, axis1=1, axis2=2)) / correlation.shape[-1]
            correlation += (loading + 1e-30)[:, None, None] * np.eye(correlation.shape[-1])
            prediction_filter = np.linalg.solve(correlation, cross)
            estimate = observed - prediction_filter.conj().transpose(0, 2, 1) @ past
        out[low:low + BIN_CHUNK] = no_louder(estimate, observed, heard)
    return out


def no_louder(estimate: np.ndarray, observed: np.ndarray, heard: np.ndarray) -> np.ndarray:
    """``estimate`` with no bin louder than ``observed`` (taking reverberation away never adds
    energy), and the frames not ``heard`` as they were: a prediction from the past would
    otherwise sound into digital silence."""
    gain = np.minimum(1.0, np.abs(observed) / np.maximum(np.abs(estimate), 1e-30))
    return np.where(heard[:, None, :], estimate * gain, observed)


def heard_frames(power: np.ndarray) -> np.ndarray:
    """Which frames of ``power`` (bins, frames) are not digital silence (``SILENT_DB`` under their bin's mean)."""
    return power > 10 ** (SILENT_DB / 10) * np.mean(power, axis=-1, keepdims=True)


def speech_range_db(spectra: np.ndarray) -> float:
    """How far the loud frames of ``spectra`` (bins, channels, frames) stand above its quiet
    ones: the 95th minus the 10th percentile of frame power (dB), silent frames left out. In a
    quiet room the pauses reach the room's decay and its floor; in noise they stop at the noise."""
    power = np.mean(np.abs(spectra) ** 2, axis=(0, 1))
    power = power[power > 1e-8 * np.max(power, initial=0.0)]
    if len(power) < 2:
        return 0.0
    low, high = np.percentile(power, [10.0, 95.0])
    return float(10.0 * np.log10(high / low))


def bin_shares(spectra: np.ndarray) -> np.ndarray:
    """Per bin of ``spectra`` (bins, channels, frames), the share of WPE's estimate to use: 0 where
    the bin's power holds steady over its frames that are not silent (``STEADY_DB``) or where the
    bin is inaudible (``INAUDIBLE_DB``), 1 where its power changes as speech does."""
    power = np.mean(np.abs(spectra) ** 2, axis=1)
    heard = heard_frames(power)
    with warnings.catch_warnings(), np.errstate(all="ignore"):   # a bin with no frame heard: nan, share 0
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(np.where(heard, power, np.nan), [10.0, 90.0], axis=-1)
        span_db = 10.0 * np.log10(high / low)
    shares = np.nan_to_num(np.clip((span_db - STEADY_DB[0]) / (STEADY_DB[1] - STEADY_DB[0]), 0.0, 1.0))
    mean_power = np.mean(power, axis=-1)
    shares[mean_power <= 10 ** (INAUDIBLE_DB / 10) * np.max(mean_power)] = 0.0
    return shares


class WpeDereverberator:
    """Streaming WPE dereverberation of ``(channels, samples)`` float64 blocks."""

    def __init__(self, sample_rate: int, num_channels: int, *, filter_ms: float = 480.0, delay_ms: float = 48.0,
                 iterations: int = 2, window_ms: float = 64.0, block_s: float = 8.0, overlap_s: float = 1.0,
                 strength: float = 1.0, min_range_db: float | None = None):
        self.window, self.hop = stft_sizes(sample_rate, window_ms)
        hop_ms = 1000.0 * self.hop / sample_rate
        self.taps = max(1, round(filter_ms / hop_ms))
        self.delay = max(1, round(delay_ms / hop_ms))
        self.iterations = iterations
        self.strength = strength
        self.min_range_db = min_range_db
        self.block_frames = max(4 * (self.taps + self.delay), round(block_s * sample_rate / self.hop))
        self.overlap_frames = min(self.block_frames // 2, max(1, round(overlap_s * sample_rate / self.hop)))
        self.num_channels = num_channels
        # a block runs once its overlap has arrived: at most (block + overlap) hops of samples wait for it,
        # and the synthesis of a frame lags its input by window - hop
        waiting = (self.block_frames + self.overlap_frames) * self.hop
        self.latency_samples = waiting + self.window - self.hop

        self._analysis = np.hanning(self.window + 1)[:-1]          # periodic Hann
        self._synthesis = self._analysis / 1.5                     # Hann^2 at hop window/4 sums to 1.5
        ramp = np.sin(0.5 * np.pi * (np.arange(self.overlap_frames) + 0.5) / self.overlap_frames) ** 2
        self._fade_in, self._fade_out = ramp, 1.0 - ramp
        bins = self.window // 2 + 1
        self._history = self.taps + self.delay - 1                 # frames a block's first frame predicts from
        # input samples not yet framed (starting with window - hop zeros, so frame 0 ends at sample hop)
        self._pending = np.zeros((num_channels, self.window - self.hop))
        # frames from _frames_start on, in place (input is fed a block at a time, so it never overflows)
        self._frames = np.zeros((bins, num_channels, self._history + 2 * self.block_frames + self.overlap_frames + 1),
                                dtype=np.complex128)
        self._frame_fill = 0
        self._frames_start = 0
        self._next_block = 0                                       # first frame of the next block
        self._tail = np.zeros((bins, num_channels, 0), dtype=np.complex128)     # previous block's overlap, faded out
        self._overlap_add = np.zeros((num_channels, self.window))  # synthesis of frames not yet final
        self._ready = collections.deque([np.zeros((num_channels, waiting))])
        self._ready_samples = waiting

    def process(self, audio: np.ndarray) -> np.ndarray:
        """Dereverberated ``audio`` (same shape), ``latency_samples`` late."""
        step = self.block_frames * self.hop
        for start in range(0, audio.shape[-1], step):
            self._push_frames(audio[:, start:start + step])
            while self._frame_count() >= self._next_block + self.block_frames + self.overlap_frames:
                self._run_block()
        return self._take(audio.shape[-1])

    def _frame_count(self) -> int:
        return self._frames_start + self._frame_fill

    def _push_frames(self, audio: np.ndarray) -> None:
        pending = np.concatenate([self._pending, audio], axis=-1)
        count = max(0, (pending.shape[-1] - self.window) // self.hop + 1)
        if count:
            starts = self.hop * np.arange(count)
            segments = pending[:, starts[:, None] + np.arange(self.window)] * self._analysis   # (C, count, window)
            spectra = np.fft.rfft(segments, axis=-1).transpose(2, 0, 1)                       # (bins, C, count)
            self._frames[..., self._frame_fill:self._frame_fill + count] = spectra
            self._frame_fill += count
        self._pending = pending[:, count * self.hop:]

    def _run_block(self) -> None:
        start, stop = self._next_block, self._next_block + self.block_frames + self.overlap_frames
        first = max(self._frames_start, start - self._history)
        observed = self._frames[..., first - self._frames_start:stop - self._frames_start]
        own = start - first
        block = observed[..., own:].copy()
        shares = self._block_strength(block) * bin_shares(block)
        fitted = np.flatnonzero(shares > 0.0)
        if len(fitted):
            estimate = wpe(observed[fitted], self.taps, self.delay, self.iterations)[..., own:]
            block[fitted] += shares[fitted, None, None] * (estimate - block[fitted])
        if self._tail.shape[-1]:
            block[..., :self.overlap_frames] = self._tail + block[..., :self.overlap_frames] * self._fade_in
        self._tail = block[..., self.block_frames:] * self._fade_out
        self._synthesize(block[..., :self.block_frames])
        self._next_block += self.block_frames
        drop = self._next_block - self._history - self._frames_start
        if drop > 0:
            kept = self._frame_fill - drop
            self._frames[..., :kept] = self._frames[..., drop:self._frame_fill]
            self._frame_fill = kept
            self._frames_start += drop

    def _block_strength(self, block: np.ndarray) -> float:
        """``strength``, ramped down in blocks whose speech-to-floor range is under ``min_range_db``."""
        if self.min_range_db is None:
            return self.strength
        ramp = (speech_range_db(block) - self.min_range_db) / RANGE_RAMP_DB
        return self.strength * float(np.clip(ramp, 0.0, 1.0))

    def _synthesize(self, spectra: np.ndarray) -> None:
        """Overlap-add the frames ``spectra`` (bins, C, frames) and queue the samples made final."""
        segments = np.fft.irfft(spectra.transpose(1, 2, 0), n=self.window, axis=-1) * self._synthesis
        count = segments.shape[1]
        out = np.zeros((self.num_channels, (count - 1) * self.hop + self.window))
        out[:, :self.window] += self._overlap_add
        for index in range(count):
            out[:, index * self.hop:index * self.hop + self.window] += segments[:, index]
        final = count * self.hop
        self._ready.append(out[:, :final])
        self._ready_samples += final
        held = out[:, final:]                       # window - hop samples that later frames add to
        self._overlap_add = np.pad(held, ((0, 0), (0, self.window - held.shape[-1])))

    def _take(self, count: int) -> np.ndarray:
        if count > self._ready_samples:
            raise RuntimeError(f"WPE: {count} samples asked, {self._ready_samples} ready (latency too small)")
        parts, needed = [], count
        while needed:
            head = self._ready[0]
            if head.shape[-1] <= needed:
                parts.append(self._ready.popleft())
                needed -= head.shape[-1]
            else:
                parts.append(head[:, :needed])
                self._ready[0] = head[:, needed:]
                needed = 0
        self._ready_samples -= count
        return np.concatenate(parts, axis=-1) if parts else np.zeros((self.num_channels, 0))
