"""Probe signals and delay measurement for systems.

:func:`measure_latency` runs a system's raw channel processing (no compensation) on a probe
and returns the lag of the cross-correlation peak; :func:`residual_lag` does the same on the
compensated :meth:`~aural.systems.base.System.process` output, which should be 0. Denoisers
suppress what does not sound like speech (pure tones, clicks: both RNNoise and DeepFilterNet
take the click train down by 40-50 dB), so the default probe is :func:`voiced`: a harmonic voice with vibrato and syllable-rate envelope over faint noise;
the vibrato keeps the correlation free of pitch-period side peaks.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from aural.signal import Signal


def voiced(sample_rate: int, duration_s: float, *, seed: int = 0, noise_db: float = -40.0,
           level_db: float = -20.0) -> np.ndarray:
    """A speech-like float32 signal: gliding harmonics (f0 110-230 Hz) gated at ~4 Hz."""
    rng = np.random.default_rng(seed)
    num_samples = int(round(duration_s * sample_rate))
    t = np.arange(num_samples) / sample_rate
    f0 = 170.0 + 60.0 * np.sin(2 * np.pi * 2.7 * t + rng.uniform(0, 2 * np.pi))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voice = np.zeros(num_samples)
    for k in range(1, 40):
        if k * 230.0 >= 0.45 * sample_rate:
            break
        voice += np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k
    envelope = np.clip(np.sin(2 * np.pi * 4.0 * t), 0.0, None) ** 0.5
    voice *= envelope
    voice *= 10 ** (level_db / 20) / max(float(np.sqrt(np.mean(voice ** 2))), 1e-12)
    voice += 10 ** (noise_db / 20) * rng.standard_normal(num_samples)
    return voice.astype(np.float32)


def chirp(sample_rate: int, duration_s: float, *, seed: int = 0, level_db: float = -20.0) -> np.ndarray:
    """A linear chirp 100 Hz -> 0.4 x rate, gated at ~4 Hz like syllables."""
    num_samples = int(round(duration_s * sample_rate))
    t = np.arange(num_samples) / sample_rate
    top = 0.4 * sample_rate
    x = np.sin(2 * np.pi * (100.0 * t + (top - 100.0) * t ** 2 / (2 * duration_s)))
    x *= np.clip(np.sin(2 * np.pi * 4.0 * t), 0.0, None) ** 0.5
    x *= 10 ** (level_db / 20) / max(float(np.sqrt(np.mean(x ** 2))), 1e-12)
    return x.astype(np.float32)


def impulses(sample_rate: int, duration_s: float, *, seed: int = 0, level_db: float = -6.0) -> np.ndarray:
    """Clicks at irregular intervals (50-150 ms apart) over -60 dB noise."""
    rng = np.random.default_rng(seed)
    num_samples = int(round(duration_s * sample_rate))
    x = 1e-3 * rng.standard_normal(num_samples)
    position = int(0.1 * sample_rate)
    while position < num_samples:
        x[position] = 10 ** (level_db / 20)
        position += int(rng.uniform(0.05, 0.15) * sample_rate)
    return x.astype(np.float32)


PROBES = {"voiced": voiced, "chirp": chirp, "impulses": impulses}


def correlation_lag(output: np.ndarray, reference: np.ndarray, max_lag: int) -> int:
    """Lag (samples, positive: ``output`` later) of the peak of their cross-correlation."""
    n = len(output) + len(reference)
    size = 1 << math.ceil(math.log2(n))
    spectrum = np.fft.rfft(output, size) * np.conj(np.fft.rfft(reference, size))
    corr = np.fft.irfft(spectrum, size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    values = np.concatenate([corr[:max_lag + 1], corr[size - max_lag:]])
    return int(lags[int(np.argmax(values))])


def measure_latency(system, *, probe: str = "voiced", duration_s: float = 2.0, max_lag: int = 4800,
                    seed: int = 0) -> int:
    """Raw delay of ``system`` in samples at its native rate (48 kHz when it has none),
    measured with one of :data:`PROBES`."""
    return measure_latency_level(system, probe=probe, duration_s=duration_s, max_lag=max_lag, seed=seed)[0]


def measure_latency_level(system, *, probe: str = "voiced", duration_s: float = 2.0, max_lag: int = 4800,
                          seed: int = 0) -> tuple[int, float]:
    """``(delay in samples, output level relative to input in dB)``: a probe the system
    removes as noise (-40 dB and below) gives a delay to read with care."""
    system.load()
    sample_rate = system.native_sample_rate or 48000
    x = PROBES[probe](sample_rate, duration_s, seed=seed)
    frame = system.frame_samples or 1
    x = np.concatenate([x, np.zeros(-len(x) % frame, np.float32)])
    system.prepare(1)
    y = np.asarray(system.process_channel(x, sample_rate), dtype=np.float32)
    ratio = float(np.sum(y.astype(np.float64) ** 2) / max(np.sum(x.astype(np.float64) ** 2), 1e-30))
    return correlation_lag(y, x, max_lag), 10 * math.log10(max(ratio, 1e-30))


def residual_lag(system, sample_rate: int, *, duration_s: float = 2.0, max_lag: int = 4800,
                 seed: int = 0) -> int:
    """Lag left after :meth:`process` at ``sample_rate``: 0 when compensation is right."""
    x = voiced(sample_rate, duration_s, seed=seed)
    out = system.process(Signal(torch.from_numpy(x)[None], sample_rate)).resample(sample_rate)
    return correlation_lag(out.audio[0].numpy(), x, max_lag)
