"""Waveform metrics against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aural.metrics import MetricError, get_metric


def _orthogonal_pair(num_samples: int = 16000, sample_rate: int = 16000):
    """A zero-mean sine and a cosine of the same frequency over whole periods: orthogonal."""
    t = np.arange(num_samples) / sample_rate
    return np.sin(2 * np.pi * 100 * t), np.cos(2 * np.pi * 100 * t)


def compute(name, reference, estimate, sample_rate=16000):
    return get_metric(name).compute(reference, estimate, sample_rate)


def test_snr_of_a_known_mixture_is_exact():
    rng = np.random.default_rng(0)
    reference = rng.standard_normal(8000)
    noise = rng.standard_normal(8000)
    noise *= np.sqrt(np.sum(reference ** 2) / np.sum(noise ** 2)) * 10 ** (-12.5 / 20)
    assert compute("snr", reference, reference + noise) == pytest.approx(12.5, abs=1e-9)


def test_si_sdr_known_value_and_scale_invariance():
    clean, interference = _orthogonal_pair()
    estimate = clean + 0.1 * interference           # energy ratio 1 / 0.01 -> 20 dB
    value = compute("si_sdr", clean, estimate)
    assert value == pytest.approx(20.0, abs=1e-6)
    assert compute("si_sdr", clean, 0.25 * estimate) == pytest.approx(value, abs=1e-9)
    assert compute("si_sdr", 3.0 * clean, estimate) == pytest.approx(value, abs=1e-9)
    # plain SNR is not scale invariant
    assert compute("snr", clean, 0.25 * estimate) < 5.0


def test_error_metrics_closed_forms():
    reference = np.zeros(1000)
    reference[::2] = 0.5
    estimate = reference + 0.1
    assert compute("mse", reference, estimate) == pytest.approx(0.01)
    assert compute("mae", reference, estimate) == pytest.approx(0.1)
    assert compute("rmse", reference, estimate) == pytest.approx(0.1)


def test_pearson_identical_and_inverted():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(4000)
    assert compute("pearson", x, x) == pytest.approx(1.0)
    assert compute("pearson", x, -2 * x + 0.3) == pytest.approx(-1.0)


@pytest.mark.parametrize("name", ["snr", "si_sdr", "pearson"])
def test_silent_reference_is_undefined(name):
    with pytest.raises(MetricError, match="silent"):
        compute(name, np.zeros(1000), np.ones(1000) * 0.1)


def test_identical_signals_have_no_finite_snr():
    x = np.sin(np.arange(1000) / 10.0)
    with pytest.raises(MetricError, match="infinite"):
        compute("snr", x, x)


def test_constant_estimate_has_no_correlation():
    with pytest.raises(MetricError, match="constant"):
        compute("pearson", np.sin(np.arange(1000) / 10.0), np.full(1000, 0.2))


def test_records():
    snr = get_metric("snr")
    assert snr.intrusive and snr.higher_is_better and snr.package == "numpy" and snr.unit == "dB"
    assert get_metric("mse").higher_is_better is False
    assert math.isclose(compute("rmse", np.zeros(4), np.full(4, 2.0)), 2.0)
