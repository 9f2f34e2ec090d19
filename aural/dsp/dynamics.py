"""Dynamic range processing: gain computers, gain smoothing, a streaming compressor/expander.

Follows Giannoulis, Massberg & Reiss (2012), "Digital Dynamic Range Compressor Design - A
Tutorial and Analysis" (JAES 60(6)): a feed-forward design with the level detector in the
log domain, a static soft-knee gain computer, and a branching one-pole smoother on the gain
in dB. The gain computers are torch functions (differentiable, so their parameters can be
fitted) that also take numpy arrays; the per-sample recursions are numba loops that take and return their state, so a
signal processed block by block gives exactly the output of processing it whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import torch

from aural.dsp.delay import SampleDelay

LEVEL_FLOOR_DB = -200.0  # detector floor: log(0) guard for silence


# -- static gain computers (torch, differentiable; or numpy) -----------------------------------
Array = torch.Tensor | np.ndarray


def compressor_gain_db(level_db: Array, threshold_db: float | torch.Tensor,
                       ratio: float | torch.Tensor, knee_db: float | torch.Tensor) -> Array:
    """Gain in dB (<= 0) of a downward compressor for an input level ``level_db``.

    Giannoulis et al. (2012), eq. 4, with threshold T, ratio R and knee width W::

        y = x                                      2 (x - T) < -W
        y = x + (1/R - 1) (x - T + W/2)^2 / (2 W)  2 |x - T| <= W
        y = T + (x - T) / R                        2 (x - T) > W

    returns ``y - x``. ``ratio`` 1 is a bypass; a large ratio a limiter. Takes and returns
    a torch tensor (differentiable in every argument) or a numpy array (the fast path the
    streaming processor uses: small torch ops pay for their thread pool).
    """
    if isinstance(level_db, np.ndarray):
        over = level_db - threshold_db
        slope = 1.0 / ratio - 1.0
        in_knee = slope * (over + knee_db / 2) ** 2 / (2 * max(knee_db, 1e-12))
        gain = np.where(2 * over > knee_db, slope * over, 0.0)
        return np.where(2 * np.abs(over) <= knee_db, in_knee, gain)
    x = torch.as_tensor(level_db)
    threshold_db, ratio, knee_db = (torch.as_tensor(v, dtype=x.dtype) for v in (threshold_db, ratio, knee_db))
    over = x - threshold_db
    slope = 1.0 / ratio - 1.0
    safe_knee = torch.clamp(knee_db, min=1e-12)
    in_knee = slope * (over + knee_db / 2) ** 2 / (2 * safe_knee)
    above = slope * over
    gain = torch.where(2 * over > knee_db, above, torch.zeros_like(x))
    return torch.where(2 * over.abs() <= knee_db, in_knee, gain)


def expander_gain_db(level_db: Array, threshold_db: float | torch.Tensor,
                     ratio: float | torch.Tensor, knee_db: float | torch.Tensor,
                     range_db: float | torch.Tensor | None = None) -> Array:
    """Gain in dB (<= 0) of a downward expander (a gate for a large ``ratio``).

    The mirror image of :func:`compressor_gain_db` below the threshold E::

        g = 0                                        2 (x - E) > W
        g = -(R - 1) (x - E - W/2)^2 / (2 W)         2 |x - E| <= W
        g = (R - 1) (x - E)                          2 (x - E) < -W

    so each dB the input falls below E lowers the output by R dB. ``range_db`` caps the
    attenuation (``g >= -range_db``). Torch tensors or numpy arrays, as
    :func:`compressor_gain_db`.
    """
    if isinstance(level_db, np.ndarray):
        under = level_db - threshold_db
        in_knee = -(ratio - 1.0) * (under - knee_db / 2) ** 2 / (2 * max(knee_db, 1e-12))
        gain = np.where(2 * under < -knee_db, (ratio - 1.0) * under, 0.0)
        gain = np.where(2 * np.abs(under) <= knee_db, in_knee, gain)
        return gain if range_db is None else np.maximum(gain, -float(range_db))
    x = torch.as_tensor(level_db)
    threshold_db, ratio, knee_db = (torch.as_tensor(v, dtype=x.dtype) for v in (threshold_db, ratio, knee_db))
    under = x - threshold_db
    safe_knee = torch.clamp(knee_db, min=1e-12)
    in_knee = -(ratio - 1.0) * (under - knee_db / 2) ** 2 / (2 * safe_knee)
    below = (ratio - 1.0) * under
    gain = torch.where(2 * under < -knee_db, below, torch.zeros_like(x))
    gain = torch.where(2 * under.abs() <= knee_db, in_knee, gain)
    if range_db is not None:
        gain = torch.clamp(gain, min=-float(range_db)) if not torch.is_tensor(range_db) \
            else torch.maximum(gain, -range_db.to(x.dtype))
    return gain


# -- time constants and recursions (numba) ----------------------------------------------------
def time_coefficient(time_ms: float, sample_rate: int) -> float:
    """One-pole coefficient ``exp(-1 / (tau * sample_rate))`` for time constant ``time_ms``.

    After a step the smoothed value has covered 63 % of it within ``time_ms`` (and 90 % in
    about 2.3 times that). ``time_ms`` 0 means instantaneous (coefficient 0).
    """
    if time_ms <= 0:
        return 0.0
    return math.exp(-1000.0 / (time_ms * sample_rate))


@numba.njit(cache=True, nogil=True)
def _smooth_branching(target: np.ndarray, state: np.ndarray, coef_down: float,
                      coef_up: float) -> np.ndarray:  # pragma: no cover - compiled
    rows, n = target.shape
    out = np.empty_like(target)
    for r in range(rows):
        g = state[r]
        for i in range(n):
            t = target[r, i]
            c = coef_down if t < g else coef_up
            g = c * g + (1.0 - c) * t
            out[r, i] = g
        state[r] = g
    return out


@numba.njit(cache=True, nogil=True)
def _one_pole(x: np.ndarray, state: np.ndarray, coef: float) -> np.ndarray:  # pragma: no cover
    rows, n = x.shape
    out = np.empty_like(x)
    for r in range(rows):
        y = state[r]
        for i in range(n):
            y = coef * y + (1.0 - coef) * x[r, i]
            out[r, i] = y
        state[r] = y
    return out


def smooth_branching(target: np.ndarray, state: np.ndarray, coef_down: float,
                     coef_up: float) -> np.ndarray:
    """Branching one-pole smoother over rows of ``target`` (float64 ``(rows, n)``).

    ``g[n] = c g[n-1] + (1 - c) target[n]`` with ``c = coef_down`` while the target lies
    below the smoothed value and ``coef_up`` otherwise. ``state`` (``(rows,)``) holds the
    last smoothed values and is updated in place, so consecutive blocks chain exactly.
    """
    return _smooth_branching(np.ascontiguousarray(target, dtype=np.float64), state,
                             float(coef_down), float(coef_up))


def one_pole(x: np.ndarray, state: np.ndarray, coef: float) -> np.ndarray:
    """One-pole low-pass ``y[n] = c y[n-1] + (1 - c) x[n]`` over rows; ``state`` in place."""
    return _one_pole(np.ascontiguousarray(x, dtype=np.float64), state, float(coef))


# -- streaming compressor / expander ----------------------------------------------------------
@dataclass(frozen=True)
class DynamicsConfig:
    """Settings of :class:`DynamicsProcessor` (see the ``dynamics`` stage for their meaning)."""

    threshold_db: float = -20.0
    ratio: float = 3.0
    knee_db: float = 6.0
    attack_ms: float = 5.0
    release_ms: float = 100.0
    makeup_db: float = 0.0
    lookahead_ms: float = 0.0
    link_channels: bool = True
    detector: str = "peak"
    rms_window_ms: float = 10.0
    expander_threshold_db: float | None = None
    expander_ratio: float = 2.0
    expander_range_db: float = 40.0


class DynamicsProcessor:
    """Feed-forward compressor plus optional downward expander over ``(channels, n)`` blocks.

    Level detection: ``peak`` (instantaneous ``|x|``) or ``rms`` (one-pole mean square over
    ``rms_window_ms``); with ``link_channels`` the loudest channel drives one gain for all,
    so the stereo image does not shift. The compressor gain is smoothed in dB with attack
    while it falls and release while it recovers; the expander gain the other way round
    (attack opens it, release closes it). The audio is delayed by ``lookahead_ms`` so the
    gain moves before a transient reaches the output.
    """

    def __init__(self, config: DynamicsConfig, sample_rate: int, num_channels: int):
        if config.detector not in ("peak", "rms"):
            raise ValueError(f"detector must be 'peak' or 'rms', got {config.detector!r}")
        self.config = config
        self.sample_rate = sample_rate
        self.num_channels = num_channels
        self.latency_samples = int(round(config.lookahead_ms * sample_rate / 1000.0))
        self._attack = time_coefficient(config.attack_ms, sample_rate)
        self._release = time_coefficient(config.release_ms, sample_rate)
        self._rms = time_coefficient(config.rms_window_ms, sample_rate)
        self._num_rows = 1 if config.link_channels else num_channels
        self.reset()

    def reset(self) -> None:
        self._delay = SampleDelay(self.latency_samples, self.num_channels)
        self._mean_square = np.zeros(self.num_channels, dtype=np.float64)
        self._compressor_state = np.zeros(self._num_rows, dtype=np.float64)
        self._expander_state = np.zeros(self._num_rows, dtype=np.float64)

    def level_db(self, audio: np.ndarray) -> np.ndarray:
        """Detector level in dB, ``(rows, n)``: one row when linked, else one per channel."""
        if self.config.detector == "rms":
            power = one_pole(audio * audio, self._mean_square, self._rms)
            if self.config.link_channels:
                power = power.max(axis=0, keepdims=True)
            return 10.0 * np.log10(np.maximum(power, 10.0 ** (LEVEL_FLOOR_DB / 10.0)))
        magnitude = np.abs(audio)
        if self.config.link_channels:
            magnitude = magnitude.max(axis=0, keepdims=True)
        return 20.0 * np.log10(np.maximum(magnitude, 10.0 ** (LEVEL_FLOOR_DB / 20.0)))

    def gain_db(self, audio: np.ndarray) -> np.ndarray:
        """Smoothed gain in dB for the next block (makeup included), ``(rows, n)``."""
        cfg = self.config
        level = self.level_db(audio)
        target = compressor_gain_db(level, cfg.threshold_db, cfg.ratio, cfg.knee_db)
        gain = smooth_branching(target, self._compressor_state, self._attack, self._release)
        if cfg.expander_threshold_db is not None:
            target = expander_gain_db(level, cfg.expander_threshold_db, cfg.expander_ratio,
                                      cfg.knee_db, cfg.expander_range_db)
            gain = gain + smooth_branching(target, self._expander_state, self._release, self._attack)
        return gain + cfg.makeup_db

    def process(self, audio: np.ndarray) -> np.ndarray:
        """Process the next float64 ``(channels, n)`` block; output lags by ``latency_samples``."""
        audio = np.asarray(audio, dtype=np.float64)
        n = audio.shape[1]
        if n == 0:
            return np.zeros_like(audio)
        gain = 10.0 ** (self.gain_db(audio) / 20.0)
        return self._delay.process(audio) * gain


# -- de-esser ---------------------------------------------------------------------------------
class Deesser:
    """Split-band de-esser: a dynamic cut of the sibilance band around ``center_hz``.

    The band is split off with a second-order all-pass ``A`` (see
    :func:`aural.dsp.filters.allpass`): ``band = (x - A x) / 2`` is a band-pass with 0 dB
    and zero phase at ``center_hz`` (bandwidth set by ``q``), and ``x - band`` its exact
    complement. The output ``x - (1 - g) band`` is therefore the input itself while
    ``g = 1``, and cuts ``center_hz`` by exactly ``g`` (a bell of depth ``g``) otherwise.
    Detection is relative and linked across channels: ``s = band power - full power`` (dB,
    one-pole mean squares over ``DETECTOR_MS``); where ``s`` exceeds ``threshold_db`` the
    band is cut by ``s - threshold_db`` dB, at most ``max_reduction_db``, smoothed in dB
    (``ATTACK_MS`` / ``RELEASE_MS``). Sibilants (/s/, /sh/, /ch/) put most of their power
    in the 4-10 kHz band (``s`` near 0 dB); voiced speech sits 15-30 dB lower and is left
    alone, and so is anything quieter than -60 dBFS (``FLOOR_POWER`` is added to the
    full-band power).
    """

    DETECTOR_MS = 5.0
    FLOOR_POWER = 1e-6  # -60 dBFS: quieter material (hiss in pauses) is left alone
    ATTACK_MS = 1.0
    RELEASE_MS = 60.0
    Q = 0.7             # about two octaves wide: 7 kHz covers roughly 3.5-14 kHz

    def __init__(self, sample_rate: int, num_channels: int, center_hz: float,
                 max_reduction_db: float, threshold_db: float = -10.0):
        from aural.dsp.filters import SosFilter, allpass

        self.max_reduction_db = max_reduction_db
        self.threshold_db = threshold_db
        self._allpass = SosFilter(allpass(center_hz, sample_rate, q=self.Q), num_channels)
        self._detector = time_coefficient(self.DETECTOR_MS, sample_rate)
        self._attack = time_coefficient(self.ATTACK_MS, sample_rate)
        self._release = time_coefficient(self.RELEASE_MS, sample_rate)
        self.reset()

    def reset(self) -> None:
        self._allpass.reset()
        self._power = np.zeros(2)       # band, full
        self._reduction = np.zeros(1)   # smoothed gain in dB (<= 0)

    def gain_db(self, audio: np.ndarray, band: np.ndarray) -> np.ndarray:
        """Smoothed band gain in dB (``(n,)``, <= 0) for the next block."""
        powers = np.stack([(band * band).sum(axis=0), (audio * audio).sum(axis=0)])
        powers = one_pole(powers, self._power, self._detector)
        ratio_db = 10.0 * np.log10((powers[0] + 1e-30) / (powers[1] + self.FLOOR_POWER))
        target = -np.clip(ratio_db - self.threshold_db, 0.0, self.max_reduction_db)
        return smooth_branching(target[None], self._reduction, self._attack, self._release)[0]

    def process(self, audio: np.ndarray) -> np.ndarray:
        """De-ess the next float64 ``(channels, n)`` block (no latency)."""
        if audio.shape[1] == 0:
            return np.array(audio, copy=True)
        band = 0.5 * (audio - self._allpass.process(audio))
        cut = 1.0 - 10.0 ** (self.gain_db(audio, band) / 20.0)
        return audio - cut * band
