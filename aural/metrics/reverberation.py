"""SRMR: the speech-to-reverberation modulation energy ratio, a non-intrusive reverberation measure.

T. H. Falk, C. Zheng and W.-Y. Chan, "A non-intrusive quality and intelligibility measure of
reverberant and dereverberated speech", IEEE Trans. Audio, Speech and Language Processing
18(7), 1766-1774, 2010. Settings follow the SRMR toolbox (J. F. Santos, M. Senoussaoui and
T. H. Falk, IWAENC 2014; its Python port SRMRpy), as used by the REVERB challenge at 16 kHz:

1. 23 fourth-order gammatone filters (Slaney's cascade), centres ERB-spaced from 125 Hz to
   the Nyquist frequency; the Hilbert envelope of each;
2. 8 second-order band-pass modulation filters (Q = 2), centres log-spaced 4 .. 128 Hz;
3. modulation energy in 256 ms Hamming windows every 64 ms, averaged over the file;
4. SRMR = energy in modulation bands 1-4 (about 4-20 Hz: the syllable rhythm of speech) over
   the energy in bands 5 .. K*, where K* (5 .. 8) follows the bandwidth of the acoustic band
   below which 90 % of the energy lies.

Reverberation fills the pauses and smears the syllable envelope, moving modulation energy
from the low bands to the high ones: higher is less reverberant. Noise lowers it too, and
the value depends on talker and material, so compare systems on the same files.

``srmrnorm`` is the toolbox's normalised variant (Santos et al. 2014): modulation centres
4-30 Hz and per-frame energies clipped to 30 dB below their peak. The standard bands reach
128 Hz, where a low voice's pitch modulates the envelope (about 80-130 Hz for men); that
energy counts as reverberation and drops when a room smears it, so on a male talker ``srmr``
can *rise* with mild reverberation (``benchmarks/srmr_reverb.py``: 3.52 dry, 4.45 at RT60
0.3 s), while ``srmrnorm`` falls steadily. Prefer ``srmrnorm`` to compare rooms or
dereverberation; ``srmr`` is there for comparison with published figures.

Long files are processed in ``SEGMENT_S`` pieces with ``CONTEXT_S`` of context either side,
so the filters' state carries over (memory stays flat but for the per-frame energies, 1.5 kB
a frame); frames are those of the whole file. scipy is imported when it runs.
"""

from __future__ import annotations

import math

import numpy as np

from aural.metrics.base import MetricError, register_metric, require_not_silent

SAMPLE_RATE = 16000
NUM_ACOUSTIC_BANDS = 23
LOWEST_CENTRE_HZ = 125.0
MODULATION_CENTRES_HZ = (4.0, 128.0)
NUM_MODULATION_BANDS = 8
MODULATION_Q = 2.0
WINDOW_S = 0.256
HOP_S = 0.064
NORM_HIGHEST_MODULATION_HZ = 30.0
NORM_RANGE_DB = 30.0
MIN_DURATION_S = 1.0
SEGMENT_S = 20.0
CONTEXT_S = 1.0
EAR_Q, MIN_BANDWIDTH_HZ = 9.26449, 24.7  # Glasberg and Moore


def erb_centres_hz(sample_rate: int, num_bands: int = NUM_ACOUSTIC_BANDS,
                   lowest_hz: float = LOWEST_CENTRE_HZ) -> np.ndarray:
    """Centre frequencies, ascending, uniformly spaced on the ERB scale up to Nyquist (Slaney's ERBSpace)."""
    high = sample_rate / 2.0
    step = (math.log(lowest_hz + EAR_Q * MIN_BANDWIDTH_HZ) - math.log(high + EAR_Q * MIN_BANDWIDTH_HZ)) / num_bands
    descending = -EAR_Q * MIN_BANDWIDTH_HZ + np.exp(np.arange(1, num_bands + 1) * step) * (high + EAR_Q * MIN_BANDWIDTH_HZ)
    return descending[::-1].copy()


def erb_hz(centre_hz: np.ndarray) -> np.ndarray:
    return centre_hz / EAR_Q + MIN_BANDWIDTH_HZ


def gammatone_sos(centre_hz: float, sample_rate: int) -> np.ndarray:
    """Slaney's fourth-order gammatone filter as four biquads, unit gain at ``centre_hz``."""
    import scipy.signal

    t = 1.0 / sample_rate
    b = 2.0 * math.pi * 1.019 * float(erb_hz(np.asarray(centre_hz)))
    arg = 2.0 * math.pi * centre_hz * t
    decay = math.exp(-b * t)
    den = [1.0, -2.0 * math.cos(arg) * decay, math.exp(-2.0 * b * t)]
    sections = []
    for root in (math.sqrt(3 + 2 ** 1.5), -math.sqrt(3 + 2 ** 1.5), math.sqrt(3 - 2 ** 1.5), -math.sqrt(3 - 2 ** 1.5)):
        a1 = -(2 * t * math.cos(arg) * decay + 2 * root * t * math.sin(arg) * decay) / 2
        sections.append([t, a1, 0.0, *den])
    sos = np.asarray(sections)
    _, response = scipy.signal.sosfreqz(sos, worN=[centre_hz], fs=sample_rate)
    sos[0, :3] /= abs(response[0])
    return sos


def modulation_filters(sample_rate: int, highest_hz: float = MODULATION_CENTRES_HZ[1]
                       ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """(centres Hz, [(b, a)] band-pass filters, lower 3 dB cut-offs Hz) of the modulation filterbank."""
    low, high = MODULATION_CENTRES_HZ[0], highest_hz
    centres = low * (high / low) ** (np.arange(NUM_MODULATION_BANDS) / (NUM_MODULATION_BANDS - 1))
    filters, lower = [], []
    for centre in centres:
        w0 = math.tan(math.pi * centre / sample_rate)
        bandwidth = w0 / MODULATION_Q
        filters.append((np.array([bandwidth, 0.0, -bandwidth]),
                        np.array([1 + bandwidth + w0 ** 2, 2 * w0 ** 2 - 2, 1 - bandwidth + w0 ** 2])))
        lower.append(centre - bandwidth * sample_rate / (2 * math.pi))
    return centres, filters, np.asarray(lower)


def hilbert_envelope(bands: np.ndarray) -> np.ndarray:
    """``|x + j H{x}|`` along the last axis (as ``abs(scipy.signal.hilbert(x))``, with real FFTs)."""
    import scipy.fft

    n = bands.shape[-1]
    size = scipy.fft.next_fast_len(n, real=True)
    spectrum = scipy.fft.rfft(bands, size, axis=-1)
    spectrum *= -1j
    spectrum[..., 0] = 0.0
    if size % 2 == 0:
        spectrum[..., -1] = 0.0
    quadrature = scipy.fft.irfft(spectrum, size, axis=-1)[..., :n]
    return np.hypot(bands, quadrature)


def modulation_energy(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, segment_s: float = SEGMENT_S,
                      highest_hz: float = MODULATION_CENTRES_HZ[1]) -> np.ndarray:
    """Windowed modulation energy per frame, ``(acoustic bands ascending, modulation bands, frames)``."""
    import scipy.signal

    window = int(math.ceil(WINDOW_S * sample_rate))
    hop = int(math.ceil(HOP_S * sample_rate))
    if window % hop:
        raise ValueError(f"the window ({window}) must be a whole number of hops ({hop}) at {sample_rate} Hz")
    num_frames = 1 + (audio.size - window) // hop if audio.size >= window else 0
    if num_frames < 1:
        raise MetricError(f"undefined: shorter than one {WINDOW_S * 1000:g} ms analysis window")
    sos = [gammatone_sos(centre, sample_rate) for centre in erb_centres_hz(sample_rate)]
    _, filters, _ = modulation_filters(sample_rate, highest_hz)
    weights = (np.hamming(window + 1)[:-1] ** 2).reshape(window // hop, hop)  # periodic window, per hop
    context = int(round(CONTEXT_S * sample_rate))
    frames_per_segment = max(1, int(segment_s * sample_rate) // hop)
    energy = np.zeros((len(sos), len(filters), num_frames))
    for first in range(0, num_frames, frames_per_segment):
        last = min(num_frames, first + frames_per_segment)
        start, stop = first * hop, (last - 1) * hop + window          # samples the frames cover
        lo, hi = max(0, start - context), min(audio.size, stop + context)
        piece = audio[lo:hi]
        bands = np.stack([scipy.signal.sosfilt(s, piece) for s in sos])
        envelopes = hilbert_envelope(bands)
        for j, (b, a) in enumerate(filters):
            power = scipy.signal.lfilter(b, a, envelopes, axis=1)[:, start - lo:stop - lo] ** 2
            blocks = power.reshape(len(sos), -1, hop) @ weights.T      # (bands, hops, window // hop)
            energy[:, j, first:last] = sum(blocks[:, k:k + last - first, k] for k in range(window // hop))
    return energy


def clamp_dynamic_range(energy: np.ndarray, range_db: float = NORM_RANGE_DB) -> np.ndarray:
    """SRMRnorm's normalisation: per-frame energies clipped to ``range_db`` below the peak of
    their mean over the acoustic bands (and to that peak)."""
    peak = float(energy.mean(axis=0).max())
    return np.clip(energy, peak * 10.0 ** (-range_db / 10.0), peak)


def srmr_from_energy(energy: np.ndarray, sample_rate: int = SAMPLE_RATE,
                     highest_hz: float = MODULATION_CENTRES_HZ[1]) -> float:
    """The ratio of low to high modulation bands of per-frame ``energy`` (see the module doc)."""
    mean = energy.mean(axis=2)
    per_band = mean.sum(axis=1)
    if per_band.sum() <= 0:
        raise MetricError("undefined: no modulation energy")
    cumulative = np.cumsum(per_band) / per_band.sum()
    bandwidth = erb_hz(erb_centres_hz(sample_rate))[int(np.argmax(cumulative > 0.9))]
    _, _, lower = modulation_filters(sample_rate, highest_hz)
    last_band = max(5, 4 + int(np.sum(bandwidth > lower[4:])))
    high = mean[:, 4:last_band].sum()
    if high <= 0:
        raise MetricError("undefined: no energy in the reverberation modulation bands")
    return float(mean[:, :4].sum() / high)


def srmr_value(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, *, normalised: bool = False,
               segment_s: float = SEGMENT_S) -> float:
    """SRMR (``normalised``: SRMRnorm) of mono ``audio`` at ``sample_rate``."""
    highest = NORM_HIGHEST_MODULATION_HZ if normalised else MODULATION_CENTRES_HZ[1]
    energy = modulation_energy(np.asarray(audio, dtype=np.float64), sample_rate, segment_s, highest)
    return srmr_from_energy(clamp_dynamic_range(energy) if normalised else energy, sample_rate, highest)


@register_metric("srmr", intrusive=False, higher_is_better=True, package="scipy", sample_rate=SAMPLE_RATE,
                 min_duration_s=MIN_DURATION_S, rate_note="modulation 4-128 Hz")
def srmr(reference: np.ndarray | None, estimate: np.ndarray, sample_rate: int) -> float:
    """Speech-to-reverberation modulation energy ratio (Falk 2010; 4-128 Hz), non-intrusive: higher is drier."""
    require_not_silent(estimate, "signal")
    return srmr_value(estimate, sample_rate)


@register_metric("srmrnorm", intrusive=False, higher_is_better=True, package="scipy", sample_rate=SAMPLE_RATE,
                 min_duration_s=MIN_DURATION_S, rate_note="modulation 4-30 Hz, energies within 30 dB")
def srmrnorm(reference: np.ndarray | None, estimate: np.ndarray, sample_rate: int) -> float:
    """SRMRnorm: SRMR over 4-30 Hz modulation, energies within 30 dB (pitch-robust): higher is drier."""
    require_not_silent(estimate, "signal")
    return srmr_value(estimate, sample_rate, normalised=True)
