"""True-peak measurement and the lookahead true-peak limiter."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal

from aural.dsp.true_peak import (MinReleaseMean, TruePeakDetector, TruePeakLimiter, interpolation_phases,
                                 oversampling_factor, true_peak, true_peak_db)


def oversampled_peak_db(audio: np.ndarray, factor: int) -> float:
    """An independent meter: scipy's polyphase resampler, then the largest magnitude."""
    return 20 * math.log10(np.abs(scipy.signal.resample_poly(audio, factor, 1, axis=-1)).max())


def test_oversampling_is_at_least_8x_and_384k():
    assert oversampling_factor(48000) == 8
    assert oversampling_factor(44100) == 9
    assert oversampling_factor(8000) == 48
    assert oversampling_factor(192000) == 8


def test_interpolator_rows_sum_to_one_and_reproduce_a_sine():
    phases = interpolation_phases(8)
    np.testing.assert_allclose(phases.sum(axis=1), 1.0, rtol=1e-12)
    sample_rate, freq = 48000, 3000.0
    n = np.arange(200)
    x = np.sin(2 * np.pi * freq * n / sample_rate + 0.3)
    taps = phases.shape[1]
    m = 100  # points between samples m and m + 1 from samples m - 11 .. m + 12
    window = x[m - taps // 2 + 1:m + taps // 2 + 1]
    for p in range(1, 8):
        exact = math.sin(2 * math.pi * freq * (m + p / 8) / sample_rate + 0.3)
        assert phases[p - 1] @ window == pytest.approx(exact, abs=1e-4)


def test_quarter_rate_sine_between_samples_reads_0_dbtp():
    # the classic case: samples at +-0.707, the waveform peaks at 1.0 between them
    sample_rate = 48000
    n = np.arange(4800)
    x = np.sin(2 * np.pi * n / 4 + np.pi / 4)[None]
    assert np.abs(x).max() == pytest.approx(math.sqrt(0.5))
    envelope = TruePeakDetector(sample_rate, 1).process(x)
    steady = envelope[100:-100]  # away from the abrupt start and end, which overshoot
    assert 20 * np.log10(steady.max()) == pytest.approx(0.0, abs=0.001)


@pytest.mark.parametrize("cutoff_hz", [4000.0, 12000.0, 18000.0])
def test_true_peak_agrees_with_an_independent_oversampled_meter(cutoff_hz):
    sample_rate = 48000
    rng = np.random.default_rng(int(cutoff_hz))
    taps = scipy.signal.firwin(255, cutoff_hz, fs=sample_rate)
    x = scipy.signal.lfilter(taps, 1, rng.standard_normal((2, sample_rate)), axis=-1) * 0.2
    assert true_peak_db(x, sample_rate) == pytest.approx(oversampled_peak_db(x, 32), abs=0.03)
    assert true_peak_db(x, sample_rate) >= 20 * math.log10(np.abs(x).max())


def test_detector_streams_exactly_and_the_screen_keeps_loud_values():
    sample_rate = 48000
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 20000)) * np.linspace(0.01, 0.5, 20000)
    whole = TruePeakDetector(sample_rate, 2).process(x)
    detector = TruePeakDetector(sample_rate, 2)
    parts = np.concatenate([detector.process(x[:, i:i + 997]) for i in range(0, 20000, 997)])
    assert np.array_equal(parts, whole)
    floor = 0.8
    screened = TruePeakDetector(sample_rate, 2, floor=floor).process(x)
    assert np.array_equal(screened[whole >= floor], whole[whole >= floor])
    assert np.all(screened[whole < floor] < floor)
    assert true_peak(np.zeros((1, 0)), sample_rate) == 0.0
    assert true_peak_db(np.zeros((2, 10)), sample_rate) == -math.inf


def test_min_release_mean_never_exceeds_the_window_minimum():
    rng = np.random.default_rng(8)
    values = np.minimum(1.0, rng.uniform(0.2, 1.6, 5000))
    span, window = 13, 9
    out = MinReleaseMean(span, window, 0.99).process(values)
    for i in range(span, len(values)):
        assert out[i] <= values[i - span + 1:i - window + 2].min() + 1e-15
    chained = MinReleaseMean(span, window, 0.99)
    parts = np.concatenate([chained.process(values[i:i + 7]) for i in range(0, 5000, 7)])
    assert np.array_equal(parts, out)


def run_limiter(x, sample_rate, ceiling_db, block=None, **kwargs):
    limiter = TruePeakLimiter(sample_rate, x.shape[0], ceiling_db, **kwargs)
    lag = limiter.latency_samples
    padded = np.concatenate([x, np.zeros((x.shape[0], lag))], axis=1)
    block = block or padded.shape[1]
    out = np.concatenate([limiter.process(padded[:, i:i + block]) for i in range(0, padded.shape[1], block)], axis=1)
    return out[:, lag:], limiter


def loud_signals(sample_rate):
    rng = np.random.default_rng(0)
    n = 2 * sample_rate
    t = np.arange(n) / sample_rate
    bursts = rng.standard_normal((2, n)) * (np.sin(2 * np.pi * 2 * t) > 0.5)
    return {
        "sine_+6dB": np.stack([2 * np.sin(2 * np.pi * 997 * t)] * 2),
        "sine_11k_intersample": np.stack([1.4 * np.sin(2 * np.pi * 11025 * t + 0.2)] * 2),
        "band_limited_bursts": scipy.signal.lfilter(scipy.signal.firwin(255, 8000, fs=sample_rate), 1, bursts) * 2,
        "clicks": np.where(rng.random((2, n)) < 0.001, 3.0, 0.0),
        "one_loud_channel": np.stack([3 * np.sin(2 * np.pi * 440 * t), 0.1 * np.sin(2 * np.pi * 440 * t)]),
    }


@pytest.mark.parametrize("sample_rate", [44100, 48000])
def test_limited_true_peak_stays_under_the_ceiling_on_independent_meters(sample_rate):
    for name, x in loud_signals(sample_rate).items():
        out, _ = run_limiter(x, sample_rate, -1.0)
        for factor in (4, 8, 16):
            assert oversampled_peak_db(out, factor) <= -1.0, (name, factor)
        assert true_peak_db(out, sample_rate) <= -1.15 + 0.001, name  # ceiling minus margin


def test_limiter_is_exactly_a_delay_below_the_ceiling_and_aligned():
    sample_rate = 48000
    rng = np.random.default_rng(1)
    x = 0.2 * rng.standard_normal((2, 9000)) * np.array([[1.0], [0.5]])
    out, limiter = run_limiter(x, sample_rate, -1.0)
    assert np.array_equal(out, x)
    assert limiter.latency_samples == 12 + 96 + 2 - 1  # interpolator + window + guard


def test_limiter_gain_is_shared_by_all_channels():
    sample_rate = 48000
    x = loud_signals(sample_rate)["one_loud_channel"]
    out, _ = run_limiter(x, sample_rate, -1.0)
    mask = np.abs(x[1]) > 1e-3
    np.testing.assert_allclose(out[0, mask] / x[0, mask], out[1, mask] / x[1, mask], rtol=1e-9)
    assert np.abs(out[1]).max() < 0.1 * 10 ** (-8 / 20)  # the quiet channel follows the loud one


@pytest.mark.parametrize("block", [1, 97, 4093])
def test_limiter_streams_exactly(block):
    sample_rate = 48000
    x = loud_signals(sample_rate)["band_limited_bursts"][:, :8000 if block == 1 else None]
    whole, _ = run_limiter(x, sample_rate, -1.0)
    streamed, _ = run_limiter(x, sample_rate, -1.0, block=block)
    assert np.array_equal(streamed, whole)


def test_limiter_reaches_the_ceiling_and_recovers():
    sample_rate = 48000
    t = np.arange(sample_rate) / sample_rate
    x = (np.sin(2 * np.pi * 1000 * t) * np.where(t < 0.5, 2.0, 0.25))[None]
    out, _ = run_limiter(x, sample_rate, -3.0, release_ms=20.0)
    loud_peak = np.abs(out[:, 12000:24000]).max()
    assert 20 * math.log10(loud_peak) == pytest.approx(-3.15, abs=0.02)   # ceiling minus margin
    assert np.abs(out[:, -4800:]).max() == pytest.approx(0.25, rel=1e-3)  # released fully
