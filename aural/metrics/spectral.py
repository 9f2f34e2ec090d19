"""Log-spectral distance (LSD), full band and high band.

Definition (the only one aural uses; log10 of power, as in the bandwidth-extension literature,
so values are a tenth of the same distance in dB)::

    g       = sqrt( sum(ref^2) / sum(est^2) )                one gain: the reference's energy
    P(t, f) = |rfft(w * x_t)|^2                           power spectrum of frame t (unnormalised)
    LSD     = mean_t sqrt( mean_f ( log10( (P_ref(t, f) + eps) / (P_est(t, f) + eps) ) )^2 )

with ``P_est`` taken of ``g * est``, so loudness is not counted as spectrum.

- ``x_t``: frames of ``n_fft = 2048`` samples every ``hop_length = 512`` samples, periodic Hann
  window ``w``, no padding (only whole frames inside the signal), at the rate the two signals
  are compared at (the reference's rate).
- ``eps = 1e-8``, on the unnormalised power as AP-BWE, NVSR and the other bandwidth-extension
  papers compute it (``torch.stft`` magnitudes squared), so values compare with theirs: silent
  bins of both signals agree and a bin missing from only one side costs at most about 8.
- ``lsd`` averages over every bin ``0 .. sample_rate / 2``; ``lsd_hf`` only over bins above
  4 kHz (the band a phone loses), and has no value below 8 kHz sample rate.

A gain applied to the whole estimate does not change LSD; lower is better; identical signals
give 0. ``lsd_above_cutoff`` restricts the mean over bins to those above the cutoff of the
*processed input* (where its content stops, found as ``freq_expansion`` finds it): the band a
bandwidth extender generates. It needs the input (``aural bench`` and ``aural evaluate`` pass
it) and has no value when the input is full band.
"""

from __future__ import annotations

import numpy as np

from aural.metrics.base import MetricError, register_metric, require_not_silent

N_FFT = 2048
HOP_LENGTH = 512
EPS = 1e-8
HIGH_BAND_HZ = 4000.0
_FRAMES_PER_CHUNK = 256


def _power_frames(audio: np.ndarray, start: int, stop: int, window: np.ndarray) -> np.ndarray:
    index = np.arange(start, stop)[:, None] * HOP_LENGTH + np.arange(N_FFT)[None, :]
    spectrum = np.fft.rfft(audio[index] * window, axis=-1)
    return spectrum.real ** 2 + spectrum.imag ** 2


def log_spectral_distance(reference: np.ndarray, estimate: np.ndarray, sample_rate: int,
                          min_frequency_hz: float = 0.0, max_frequency_hz: float | None = None) -> float:
    """LSD (log10 units) over bins above ``min_frequency_hz`` and, if given, at or below
    ``max_frequency_hz`` (see the module docstring)."""
    if np.ndim(reference) != 1 or np.shape(reference) != np.shape(estimate):
        raise MetricError(f"needs two mono signals of one length, got shapes {np.shape(reference)} "
                          f"and {np.shape(estimate)}")
    if reference.shape[-1] < N_FFT:
        raise MetricError(f"needs at least {N_FFT} samples ({N_FFT / sample_rate:.3f} s)")
    frequencies = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)
    bins = frequencies > min_frequency_hz if min_frequency_hz > 0 else np.ones_like(frequencies, bool)
    if max_frequency_hz is not None:
        bins &= frequencies <= max_frequency_hz
    if not bins.any():
        upper = "" if max_frequency_hz is None else f" and at or below {max_frequency_hz:g} Hz"
        raise MetricError(f"undefined: no bins above {min_frequency_hz:g} Hz{upper} at {sample_rate} Hz")
    window = np.hanning(N_FFT + 1)[:-1]  # periodic Hann
    reference = np.asarray(reference, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    estimate_energy = float(np.sum(estimate ** 2))
    if estimate_energy > 0:
        estimate = estimate * np.sqrt(float(np.sum(reference ** 2)) / estimate_energy)
    num_frames = 1 + (reference.shape[-1] - N_FFT) // HOP_LENGTH
    distances = []
    for start in range(0, num_frames, _FRAMES_PER_CHUNK):
        stop = min(start + _FRAMES_PER_CHUNK, num_frames)
        power_ref = _power_frames(reference, start, stop, window)[:, bins]
        power_est = _power_frames(estimate, start, stop, window)[:, bins]
        log_ratio = np.log10((power_ref + EPS) / (power_est + EPS))
        distances.append(np.sqrt(np.mean(log_ratio ** 2, axis=-1)))
    return float(np.mean(np.concatenate(distances)))


@register_metric("lsd", intrusive=True, higher_is_better=False, package="numpy", unit="")
def lsd(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """Log-spectral distance over the full band (log10 units)."""
    require_not_silent(reference)
    return log_spectral_distance(reference, estimate, sample_rate)


@register_metric("lsd_hf", intrusive=True, higher_is_better=False, package="numpy", unit="")
def lsd_hf(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """Log-spectral distance above 4 kHz (log10 units)."""
    require_not_silent(reference)
    return log_spectral_distance(reference, estimate, sample_rate, HIGH_BAND_HZ)


@register_metric("lsd_above_cutoff", intrusive=True, higher_is_better=False, package="numpy", unit="",
                 needs_input=True)
def lsd_above_cutoff(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, *,
                     input_cutoff_hz: float) -> float:
    """Log-spectral distance above where the processed input's content stops (log10 units)."""
    require_not_silent(reference)
    return log_spectral_distance(reference, estimate, sample_rate, input_cutoff_hz)
