"""PESQ and STOI equal the packages called directly; short or silent input gives reasons."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aural.evaluate import score_signals
from aural.metrics import MetricError, get_metric
from aural.signal import Signal
from helpers import speech_like

pesq_package = pytest.importorskip("pesq")
pystoi = pytest.importorskip("pystoi")


def noisy_pair(sample_rate: int, duration_s: float = 3.0, noise_level: float = 0.02):
    clean = speech_like(duration_s, sample_rate, seed=4)
    rng = np.random.default_rng(5)
    noisy = clean.audio.numpy() + noise_level * rng.standard_normal(clean.audio.shape).astype(np.float32)
    return clean, Signal(torch.from_numpy(noisy), sample_rate)


@pytest.mark.parametrize("name, mode, sample_rate", [("pesq_wb", "wb", 16000), ("pesq_nb", "nb", 8000)])
def test_pesq_equals_direct_call(name, mode, sample_rate):
    clean, noisy = noisy_pair(sample_rate)
    ref, deg = clean.audio[0].double().numpy(), noisy.audio[0].double().numpy()
    direct = pesq_package.pesq(sample_rate, ref, deg, mode)
    assert get_metric(name).compute(ref, deg, sample_rate) == direct
    result = score_signals(clean, noisy, [name])
    assert result.delay_s == 0.0
    assert result.values[name] == pytest.approx(direct, rel=1e-9)
    assert result.rates[name] == f"at {sample_rate} Hz"
    assert 1.0 < direct < 4.7


def test_pesq_resamples_and_says_so():
    clean, noisy = noisy_pair(48000, duration_s=2.0)
    result = score_signals(clean, noisy, ["pesq_wb", "pesq_nb"])
    assert result.rates["pesq_wb"] == "resampled to 16000 Hz (reference 48000 Hz, estimate 48000 Hz)"
    assert result.rates["pesq_nb"].startswith("resampled to 8000 Hz")
    assert 1.0 < result.values["pesq_wb"] < 4.7


@pytest.mark.parametrize("name, extended", [("stoi", False), ("estoi", True)])
def test_stoi_equals_direct_call_at_10_khz(name, extended):
    clean, noisy = noisy_pair(10000, noise_level=0.05)
    ref, deg = clean.audio[0].double().numpy(), noisy.audio[0].double().numpy()
    direct = pystoi.stoi(ref, deg, 10000, extended=extended)
    # pystoi's ESTOI itself varies in the last bit from call to call (numpy SIMD reductions)
    assert get_metric(name).compute(ref, deg, 10000) == pytest.approx(direct, rel=1e-12)
    assert score_signals(clean, noisy, [name]).values[name] == pytest.approx(direct, rel=1e-9)


def test_stoi_at_16_khz_close_to_pystoi_own_resampling():
    clean, noisy = noisy_pair(16000, noise_level=0.05)
    ref, deg = clean.audio[0].double().numpy(), noisy.audio[0].double().numpy()
    direct = pystoi.stoi(ref, deg, 16000)
    result = score_signals(clean, noisy, ["stoi"])
    assert result.rates["stoi"] == "resampled to 10000 Hz (reference 16000 Hz, estimate 16000 Hz)"
    assert result.values["stoi"] == pytest.approx(direct, abs=0.01)


def test_reference_shorter_than_0_4_s():
    clean, noisy = noisy_pair(16000, duration_s=0.3)
    result = score_signals(clean, noisy, ["pesq_wb", "pesq_nb", "stoi", "estoi", "snr", "si_sdr"])
    for name in ("pesq_wb", "pesq_nb", "stoi", "estoi"):
        assert name not in result.values
        assert "needs at least 0.4 s" in result.reasons[name]
    assert set(result.values) == {"snr", "si_sdr"}


def test_silent_reference_gives_reasons_not_numbers():
    _, noisy = noisy_pair(16000, duration_s=1.0)
    silent = Signal(torch.zeros(1, 16000), 16000)
    result = score_signals(silent, noisy, ["pesq_wb", "stoi", "snr", "mse"])
    for name in ("pesq_wb", "stoi", "snr"):
        assert "silent" in result.reasons[name]
    assert result.values["mse"] > 0  # defined: the error is the estimate itself


def test_stoi_with_too_little_speech_is_a_reason():
    """0.45 s is past the length check but under pystoi's 30 non-silent frames."""
    clean, noisy = noisy_pair(10000, duration_s=0.45)
    with pytest.raises(MetricError, match="30 frames"):
        get_metric("stoi").compute(clean.audio[0].double().numpy(), noisy.audio[0].double().numpy(), 10000)


def test_pesq_failure_is_a_reason():
    rng = np.random.default_rng(0)
    with pytest.raises(MetricError, match="pesq failed"):
        # 0.2 s: shorter than PESQ's own minimum (the 0.4 s check is in score_signals)
        get_metric("pesq_wb").compute(rng.standard_normal(3200) * 0.1, rng.standard_normal(3200) * 0.1, 16000)
