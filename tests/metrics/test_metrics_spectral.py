"""LSD: identical signals give 0, a gain does not count, the definition by hand."""

from __future__ import annotations

import numpy as np
import pytest

from aural.metrics import MetricError, get_metric
from aural.metrics.spectral import HOP_LENGTH, N_FFT, log_spectral_distance


def noise(num_samples=48000, seed=0):
    return np.random.default_rng(seed).standard_normal(num_samples) * 0.1


@pytest.mark.parametrize("name", ["lsd", "lsd_hf"])
def test_identical_is_zero(name):
    x = noise()
    assert get_metric(name).compute(x, x.copy(), 48000) == 0.0


@pytest.mark.parametrize("gain", [0.5, 2.0, 0.1])
@pytest.mark.parametrize("name", ["lsd", "lsd_hf"])
def test_a_gain_is_not_counted_as_spectrum(name, gain):
    x = noise()
    assert get_metric(name).compute(x, gain * x, 48000) == pytest.approx(0.0, abs=1e-9)


def test_definition_by_hand():
    """One gain to the reference's energy; frames of N_FFT every HOP_LENGTH, periodic Hann,
    unnormalised power, eps 1e-8, RMS over bins, mean over frames."""
    rng = np.random.default_rng(3)
    ref, est = rng.standard_normal(N_FFT + 3 * HOP_LENGTH), rng.standard_normal(N_FFT + 3 * HOP_LENGTH)
    est_as_given = est.copy()
    est = est * np.sqrt(np.sum(ref ** 2) / np.sum(est ** 2))
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    distances = []
    for start in range(0, ref.size - N_FFT + 1, HOP_LENGTH):
        p_ref = np.abs(np.fft.rfft(ref[start:start + N_FFT] * window)) ** 2
        p_est = np.abs(np.fft.rfft(est[start:start + N_FFT] * window)) ** 2
        distances.append(np.sqrt(np.mean((np.log10((p_ref + 1e-8) / (p_est + 1e-8))) ** 2)))
    assert len(distances) == 4
    assert log_spectral_distance(ref, 3.0 * est_as_given, 16000) == pytest.approx(np.mean(distances), rel=1e-12)


def test_high_band_sees_only_the_high_band():
    """A 16 kHz-band-limited estimate of full-band noise: lsd_hf is worse than lsd."""
    from scipy.signal import butter, sosfiltfilt

    x = noise()
    low = sosfiltfilt(butter(8, 3000, fs=48000, output="sos"), x)
    lsd = get_metric("lsd").compute(x, low, 48000)
    lsd_hf = get_metric("lsd_hf").compute(x, low, 48000)
    assert lsd_hf > lsd > 5.0


def test_no_high_band_at_8_khz():
    with pytest.raises(MetricError, match="no bins above 4000"):
        get_metric("lsd_hf").compute(noise(8000), noise(8000, 1), 8000)


def test_too_short_and_silent():
    with pytest.raises(MetricError, match="at least 2048 samples"):
        get_metric("lsd").compute(noise(1000), noise(1000, 1), 16000)
    with pytest.raises(MetricError, match="silent"):
        get_metric("lsd").compute(np.zeros(4096), noise(4096), 16000)


def test_signals_of_different_shapes_are_a_metric_error():
    with pytest.raises(MetricError, match="one length"):
        log_spectral_distance(noise(48000), noise(40000), 48000)
    with pytest.raises(MetricError, match="mono"):
        log_spectral_distance(np.stack([noise(), noise()]), np.stack([noise(), noise()]), 48000)


def test_an_upper_limit_leaves_the_bins_above_it_out():
    reference = noise(48000)
    spectrum = np.fft.rfft(reference)
    spectrum[np.fft.rfftfreq(reference.shape[0], 1 / 48000) > 20000.0] = 0.0  # nothing above 20 kHz
    low_passed = np.fft.irfft(spectrum, reference.shape[0])
    assert log_spectral_distance(reference, low_passed, 48000) > 0.5
    # below 18 kHz only the one gain remains: the estimate lost a sixth of white noise's energy
    limited = log_spectral_distance(reference, low_passed, 48000, max_frequency_hz=18000.0)
    assert limited == pytest.approx(np.log10(24 / 20), abs=0.01)
    with pytest.raises(MetricError, match="at or below 100 Hz"):
        log_spectral_distance(reference, low_passed, 48000, min_frequency_hz=200.0, max_frequency_hz=100.0)


def _band_limited(audio: np.ndarray, cutoff_hz: float, rate: int = 48000) -> np.ndarray:
    import soxr

    low = int(2 * cutoff_hz)
    return soxr.resample(soxr.resample(audio, rate, low), low, rate)[: audio.size]


def test_lsd_above_cutoff_scores_only_the_band_the_input_lacks():
    import torch

    from aural.evaluate.scoring import score_signals
    from aural.signal import Signal

    def signal(audio, rate=48000):
        return Signal(torch.from_numpy(np.asarray(audio, dtype=np.float32))[None], rate)

    reference = noise(3 * 48000)
    limited = _band_limited(reference, 8000.0)
    scored = score_signals(signal(reference), signal(limited), ["lsd_above_cutoff", "lsd"], input=signal(limited))
    above = scored.values["lsd_above_cutoff"]
    by_hand = log_spectral_distance(reference, limited.astype(np.float32).astype(np.float64), 48000, 7900.0)
    assert above == pytest.approx(by_hand, rel=0.05) and above > scored.values["lsd"]
    # an 8 kHz file stops at its Nyquist: 4 kHz against a 48 kHz reference
    eight_khz = signal(_band_limited(reference, 4000.0)[::6], 8000)
    assert "lsd_above_cutoff" in score_signals(signal(reference), signal(limited), ["lsd_above_cutoff"],
                                               input=eight_khz).values
    alone = score_signals(signal(reference), signal(limited), ["lsd_above_cutoff"])
    assert "needs the processed input" in alone.reasons["lsd_above_cutoff"]
    full = score_signals(signal(reference), signal(reference), ["lsd_above_cutoff"], input=signal(reference))
    assert "full band" in full.reasons["lsd_above_cutoff"]
