"""Facts about a recording that need no reference: effective bandwidth and clipping.

``bandwidth_hz``: the highest frequency at which the recording's long-term spectrum is within
:data:`BANDWIDTH_RANGE_DB` of its peak. The spectrum is the mean power of 2048-point Hann
frames (50 % overlap) over the louder half of the frames (so pauses do not count), smoothed
over about 100 Hz. A phone call upsampled to 48 kHz reads about 3.4-4 kHz, wideband speech
about 7-8 kHz, a full-band recording (or broadband hiss) most of its Nyquist band.

``clipping_percent``: the share of samples, over all channels, in runs of at least
:data:`CLIP_RUN_SAMPLES` consecutive samples at or above :data:`CLIP_LEVEL` of full scale:
what digital clipping leaves in a file.
"""

from __future__ import annotations

import numpy as np

from aural.metrics.base import SILENCE_RMS_DB, MetricError, register_metric, rms_db

BANDWIDTH_RANGE_DB = 50.0
BANDWIDTH_N_FFT = 2048
SMOOTHING_HZ = 100.0
CLIP_LEVEL = 0.999
CLIP_RUN_SAMPLES = 3


def long_term_spectrum_db(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """``(frequencies_hz, power_db)`` of mono ``audio`` over its louder half of frames."""
    n_fft = BANDWIDTH_N_FFT
    if audio.size < n_fft:
        audio = np.pad(audio, (0, n_fft - audio.size))
    hop_length = n_fft // 2
    num_frames = 1 + (audio.size - n_fft) // hop_length
    index = np.arange(num_frames)[:, None] * hop_length + np.arange(n_fft)[None, :]
    frames = audio[index] * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2
    energy = power.sum(axis=1)
    loud = power[energy >= np.median(energy)]
    spectrum = loud.mean(axis=0)
    width = max(1, int(round(SMOOTHING_HZ / (sample_rate / n_fft))))
    spectrum = np.convolve(spectrum, np.ones(width) / width, mode="same")
    return np.fft.rfftfreq(n_fft, 1.0 / sample_rate), 10.0 * np.log10(spectrum + 1e-30)


@register_metric("bandwidth_hz", intrusive=False, higher_is_better=True, package="aural", unit="Hz",
                 min_duration_s=0.1, rate_note=f"highest frequency within {BANDWIDTH_RANGE_DB:g} dB of the "
                                               "long-term spectrum's peak")
def bandwidth_hz(reference: np.ndarray | None, estimate: np.ndarray, sample_rate: int) -> float:
    """Effective bandwidth: the highest frequency within 50 dB of the spectrum's peak (Hz)."""
    if rms_db(estimate) < SILENCE_RMS_DB:
        raise MetricError(f"undefined: silent (below {SILENCE_RMS_DB:g} dBFS RMS)")
    frequencies, power_db = long_term_spectrum_db(estimate, sample_rate)
    above = np.flatnonzero(power_db >= power_db.max() - BANDWIDTH_RANGE_DB)
    return float(frequencies[above[-1]])


@register_metric("clipping_percent", intrusive=False, higher_is_better=False, package="aural", unit="%",
                 channels="all")
def clipping_percent(reference: np.ndarray | None, estimate: np.ndarray, sample_rate: int) -> float:
    """Share of samples in runs of 3 or more at full scale (|x| >= 0.999), all channels (%)."""
    audio = np.atleast_2d(estimate)
    if audio.size == 0:
        raise MetricError("undefined: no audio")
    clipped = 0
    for channel in np.abs(audio) >= CLIP_LEVEL:
        edges = np.diff(np.concatenate(([0], channel.astype(np.int8), [0])))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        lengths = ends - starts
        clipped += int(lengths[lengths >= CLIP_RUN_SAMPLES].sum())
    return 100.0 * clipped / audio.size
