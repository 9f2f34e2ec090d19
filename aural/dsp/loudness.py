"""Streaming ITU-R BS.1770-4 integrated loudness (LUFS), matching pyloudnorm.

K-weighting uses the same RBJ filter designs as ``pyloudnorm.Meter`` (see
:func:`aural.dsp.filters.k_weighting`). The signal is cut into 100 ms sub-blocks (sub-block
``k`` covers samples ``k * rate // 10`` up to ``(k + 1) * rate // 10``, pyloudnorm's
boundaries); four consecutive sub-blocks form a 400 ms gating block (75 % overlap), whose
mean square is normalised by ``0.4 * sample_rate``. There are
``round((duration_s - 0.4) / 0.1) + 1`` blocks, as pyloudnorm counts them: a trailing
partial sub-block of 50 ms or more closes one last block, its missing samples counted as
silence. Blocks below -70 LUFS
(absolute gate), then those not above the relative gate (gated mean - 10 LU), are dropped;
the loudness is ``-0.691 + 10 log10`` of the mean of the rest. Only one number per 100 ms
is kept, so memory stays small for hours of audio (about 290 kB per hour).

Channel weights follow pyloudnorm's order L, R, C, Ls, Rs (1, 1, 1, 1.41, 1.41) up to five
channels; six channels are read as 5.1 (L, R, C, LFE, Ls, Rs) with the LFE excluded, as
BS.1770 says; more channels all weigh 1.

Clips shorter than one gating block (0.4 s) have no gated loudness; for them the meter
returns the ungated K-weighted loudness of the whole clip, ``-0.691 + 10 log10`` of its
channel-weighted mean square, or ``-inf`` when that is below the -70 LUFS absolute gate.
Silence measures ``-inf``.
"""

from __future__ import annotations

import math
from array import array

import numba
import numpy as np
import torch

from aural.dsp.filters import SosFilter, k_weighting

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
LOUDNESS_OFFSET = -0.691
SUB_BLOCKS_PER_BLOCK = 4  # 400 ms blocks from 100 ms sub-blocks: 75 % overlap


def channel_weights(num_channels: int) -> np.ndarray:
    """BS.1770 channel weights for ``num_channels`` (see the module docstring)."""
    if num_channels <= 5:
        return np.array([1.0, 1.0, 1.0, 1.41, 1.41][:num_channels])
    if num_channels == 6:
        return np.array([1.0, 1.0, 1.0, 0.0, 1.41, 1.41])
    return np.ones(num_channels)


def _lufs(mean_square: float) -> float:
    return LOUDNESS_OFFSET + 10.0 * math.log10(mean_square) if mean_square > 0 else -math.inf


def sub_block_boundary(index: int, sample_rate: int) -> int:
    """First sample of 100 ms sub-block ``index``."""
    return index * sample_rate // 10


def gated_loudness(sub_energies: np.ndarray, partial_energy: float, num_samples: int,
                   sample_rate: int) -> float:
    """Integrated loudness from channel-weighted K-weighted energies per sub-block.

    ``sub_energies`` holds the complete sub-blocks, ``partial_energy`` the unfinished one;
    ``num_samples`` is the signal length (see the module docstring for the rules).
    """
    num_complete = len(sub_energies)
    if num_samples < sub_block_boundary(SUB_BLOCKS_PER_BLOCK, sample_rate):  # under 0.4 s
        if num_samples == 0:
            return -math.inf
        loudness = _lufs((float(np.sum(sub_energies)) + partial_energy) / num_samples)
        return loudness if loudness >= ABSOLUTE_GATE_LUFS else -math.inf
    # pyloudnorm's block count, float arithmetic and round-half-even included
    num_blocks = max(1, int(round((num_samples / sample_rate - 0.4) / 0.1)) + 1)
    needed = num_blocks + SUB_BLOCKS_PER_BLOCK - 1
    if needed > num_complete:  # the last block reaches into the partial sub-block (or past it)
        tail = np.zeros(needed - num_complete)
        tail[0] = partial_energy
        sub_energies = np.concatenate([sub_energies, tail])
    sums = np.convolve(sub_energies[:needed], np.ones(SUB_BLOCKS_PER_BLOCK), mode="valid")
    blocks = sums / (0.4 * sample_rate)
    with np.errstate(divide="ignore"):
        block_lufs = LOUDNESS_OFFSET + 10.0 * np.log10(blocks)
    above_absolute = block_lufs >= ABSOLUTE_GATE_LUFS
    if not above_absolute.any():
        return -math.inf
    relative_gate = _lufs(float(blocks[above_absolute].mean())) + RELATIVE_GATE_LU
    gated = (block_lufs > relative_gate) & above_absolute
    if not gated.any():
        return -math.inf
    return _lufs(float(blocks[gated].mean()))


def _as_array(audio: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().numpy()
    return np.asarray(audio, dtype=np.float64)


class LoudnessMeter:
    """Integrated loudness of audio that arrives in ``(channels, n)`` blocks."""

    def __init__(self, sample_rate: int, num_channels: int):
        self.sample_rate = sample_rate
        self.num_channels = num_channels
        self._weights = channel_weights(num_channels)[:, None]
        self._filter = SosFilter(k_weighting(sample_rate), num_channels)
        self.reset()

    def reset(self) -> None:
        self._filter.reset()
        self._sub_energies = array("d")  # channel-weighted K-weighted energy per sub-block
        self._current = 0.0               # energy of the unfinished sub-block
        self._position = 0                # samples seen

    @property
    def num_samples(self) -> int:
        return self._position

    def weighted_energy(self, audio: np.ndarray) -> np.ndarray:
        """Channel-weighted K-weighted energy per sample of the next block (advances the filter)."""
        weighted = self._filter.process(audio)
        return (self._weights * weighted * weighted).sum(axis=0)

    def process(self, audio: np.ndarray | torch.Tensor) -> None:
        """Measure the next block."""
        audio = _as_array(audio)
        if audio.shape[1]:
            self._add_energy(self.weighted_energy(audio))

    def _add_energy(self, energy: np.ndarray) -> None:
        start, end = self._position, self._position + len(energy)
        boundary = sub_block_boundary(len(self._sub_energies) + 1, self.sample_rate)
        while boundary <= end:
            self._current += float(energy[start - self._position:boundary - self._position].sum())
            self._sub_energies.append(self._current)
            self._current = 0.0
            start = boundary
            boundary = sub_block_boundary(len(self._sub_energies) + 1, self.sample_rate)
        self._current += float(energy[start - self._position:].sum())
        self._position = end

    def integrated_lufs(self) -> float:
        """Gated integrated loudness so far (LUFS); see the module docstring for short clips."""
        return gated_loudness(np.frombuffer(self._sub_energies, dtype=np.float64), self._current,
                              self._position, self.sample_rate)


def integrated_loudness(audio: np.ndarray | torch.Tensor, sample_rate: int) -> float:
    """Integrated loudness (LUFS) of a whole ``(channels, samples)`` signal."""
    audio = _as_array(audio)
    if audio.ndim == 1:
        audio = audio[None]
    meter = LoudnessMeter(sample_rate, audio.shape[0])
    meter.process(audio)
    return meter.integrated_lufs()


@numba.njit(cache=True, nogil=True)
def _frame_sums(energy: np.ndarray, peak: np.ndarray, state: np.ndarray,
                sample_rate: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    # state: [position, frame index, energy so far, peak so far]; frame f covers samples
    # f * rate // 1000 up to (f + 1) * rate // 1000, so 100 frames tile a 100 ms sub-block
    position = np.int64(state[0])
    frame = np.int64(state[1])
    acc_energy = state[2]
    acc_peak = state[3]
    boundary = (frame + 1) * sample_rate // 1000
    out_energy = np.empty(energy.shape[0] + 1)
    out_peak = np.empty(energy.shape[0] + 1)
    count = 0
    for i in range(energy.shape[0]):
        acc_energy += energy[i]
        if peak[i] > acc_peak:
            acc_peak = peak[i]
        position += 1
        if position == boundary:
            out_energy[count] = acc_energy
            out_peak[count] = acc_peak
            count += 1
            acc_energy = 0.0
            acc_peak = 0.0
            frame += 1
            boundary = (frame + 1) * sample_rate // 1000
    state[0] = position
    state[1] = frame
    state[2] = acc_energy
    state[3] = acc_peak
    return out_energy[:count], out_peak[:count]


class LimitedLoudnessMeter(LoudnessMeter):
    """A loudness meter that also predicts the loudness after a gain and a peak limiter.

    A limiter costs loudness, so normalising with ``target - measured`` lands low; this
    meter lets the caller find the gain that lands on target *after* limiting. It keeps,
    per 1 ms frame, the K-weighted energy and the sample peak (about 29 MB per hour of
    audio, whatever the rate), and :meth:`predict_lufs` runs the gain smoother of
    :class:`~aural.dsp.true_peak.TruePeakLimiter` (same window, guard and release) over the
    frames. Against the real limiter on speech it reads within about 0.1 LU (0.15 LU at
    16 kHz) with up to 10 dB of limiting, a little on the loud side.
    """

    FRAMES_PER_SUB_BLOCK = 100
    CHUNK_FRAMES = 1 << 18

    def __init__(self, sample_rate: int, num_channels: int, lookahead_ms: float, release_ms: float):
        from aural.dsp.true_peak import limiter_shape

        window, span, release = limiter_shape(sample_rate, lookahead_ms, release_ms)
        frame = sample_rate / 1000.0
        self._frame_window = max(1, int(round(window / frame)))
        self._frame_span = max(self._frame_window, int(round(span / frame)))
        self._frame_release = release ** frame
        super().__init__(sample_rate, num_channels)

    def reset(self) -> None:
        super().reset()
        self._frame_state = np.zeros(4)
        self._frame_energy = array("f")
        self._frame_peak = array("f")
        self._peak_history = np.zeros((self.num_channels, 3))

    def process(self, audio: np.ndarray | torch.Tensor) -> None:
        audio = _as_array(audio)
        if audio.shape[1] == 0:
            return
        energy = self.weighted_energy(audio)
        self._add_energy(energy)
        frame_energy, frame_peak = _frame_sums(energy, self._peaks(audio), self._frame_state,
                                               self.sample_rate)
        self._frame_energy.frombytes(frame_energy.astype(np.float32).tobytes())
        self._frame_peak.frombytes(frame_peak.astype(np.float32).tobytes())

    def _peaks(self, audio: np.ndarray) -> np.ndarray:
        """Per-sample peak over channels of each sample and the midpoint after it.

        The midpoint comes from a 4-tap cubic interpolator, a cheap stand-in for the
        limiter's oversampled true peak. Values lag the input by two samples (immaterial
        at 1 ms frames).
        """
        n = audio.shape[1]
        joined = np.concatenate([self._peak_history, audio], axis=1)
        self._peak_history = joined[:, -3:]
        before, left, right, after = (joined[:, k:k + n] for k in range(4))
        middle = (9.0 * (left + right) - before - after) / 16.0
        return np.maximum(np.abs(left), np.abs(middle)).max(axis=0)

    def _frames(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Energy and peak of frames ``start .. stop - 1``: the stored ones, then the
        unfinished one, then zeros."""
        stored = len(self._frame_energy)
        energy, peak = np.zeros(stop - start), np.zeros(stop - start)
        low, high = min(start, stored), min(stop, stored)
        energy[:high - low] = np.frombuffer(self._frame_energy, dtype=np.float32)[low:high]
        peak[:high - low] = np.frombuffer(self._frame_peak, dtype=np.float32)[low:high]
        if start <= stored < stop:
            energy[stored - start], peak[stored - start] = self._frame_state[2], self._frame_state[3]
        return energy, peak

    def predict_lufs(self, gain_db: float, ceiling_db: float) -> float:
        """Integrated loudness after ``gain_db`` and a limiter at ``ceiling_db`` (model)."""
        from aural.dsp.true_peak import MinReleaseMean

        gain = 10.0 ** (gain_db / 20.0)
        ceiling = 10.0 ** (ceiling_db / 20.0)
        smoother = MinReleaseMean(self._frame_span, self._frame_window, self._frame_release)
        lag = (self._frame_span + self._frame_window - 2) // 2  # centres a gain dip on its peak
        num_frames = len(self._frame_energy) + 1
        num_complete = len(self._sub_energies)
        sub_energies = np.zeros(num_complete + 1)   # the last one: the unfinished sub-block
        for start in range(0, num_frames + lag, self.CHUNK_FRAMES):  # flat memory for long files
            stop = min(start + self.CHUNK_FRAMES, num_frames + lag)
            _, peak = self._frames(start, stop)
            limited = smoother.process(np.minimum(1.0, ceiling / np.maximum(gain * peak, ceiling)))
            first, last = max(start - lag, 0), stop - lag  # the frames these gains belong to
            energy, _ = self._frames(first, last)
            weighted = energy * (gain * limited[first - (start - lag):]) ** 2
            sub_index = np.minimum(np.arange(first, last) // self.FRAMES_PER_SUB_BLOCK, num_complete)
            sub_energies += np.bincount(sub_index, weights=weighted, minlength=num_complete + 1)
        return gated_loudness(sub_energies[:num_complete], float(sub_energies[num_complete]),
                              self._position, self.sample_rate)
