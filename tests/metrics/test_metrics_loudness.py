"""LUFS of calibrated tones (ITU-R BS.1770) and true peak of an inter-sample peak."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aural.evaluate import score_signals
from aural.metrics import MetricError, get_metric
from aural.signal import Signal

pyloudnorm = pytest.importorskip("pyloudnorm")


def sine(freq_hz, amplitude, sample_rate=48000, duration_s=3.0, phase=0.0):
    t = np.arange(int(duration_s * sample_rate)) / sample_rate
    return amplitude * np.sin(2 * np.pi * freq_hz * t + phase)


@pytest.mark.parametrize("level_dbfs", [0.0, -20.0])
def test_lufs_of_a_calibrated_tone(level_dbfs):
    """BS.1770: a 997 Hz sine at A dBFS peak in one channel reads A - 3.01 LUFS."""
    x = sine(997.0, 10 ** (level_dbfs / 20))
    assert get_metric("lufs").compute(None, x, 48000) == pytest.approx(level_dbfs - 3.01, abs=0.05)


def test_lufs_measures_all_channels_not_the_mixdown():
    x = sine(997.0, 0.1).astype(np.float32)
    mono = Signal(torch.from_numpy(x[None]), 48000)
    stereo = Signal(torch.from_numpy(np.stack([x, x])), 48000)
    gain = score_signals(None, stereo, ["lufs"]).values["lufs"] - score_signals(None, mono, ["lufs"]).values["lufs"]
    assert gain == pytest.approx(10 * math.log10(2), abs=0.01)


def test_lufs_of_silence_and_short_clips():
    with pytest.raises(MetricError, match="silent"):
        get_metric("lufs").compute(None, np.zeros(48000), 48000)
    short = Signal(torch.from_numpy(sine(997.0, 0.5, duration_s=0.3).astype(np.float32)[None]), 48000)
    assert "needs at least 0.4 s" in score_signals(None, short, ["lufs"]).reasons["lufs"]


def test_true_peak_finds_the_inter_sample_peak():
    """fs/4 at 45 degrees: every sample is at 0.707 of the peak, the true peak is 1.0."""
    x = sine(12000.0, 0.5, phase=np.pi / 4)
    fade = np.sin(np.linspace(0, np.pi / 2, 4800)) ** 2  # abrupt edges would ring above 0.5
    x[:4800] *= fade
    x[-4800:] *= fade[::-1]
    sample_peak_db = 20 * math.log10(np.max(np.abs(x)))
    assert sample_peak_db == pytest.approx(20 * math.log10(0.5) - 3.01, abs=0.01)
    assert get_metric("true_peak_db").compute(None, x, 48000) == pytest.approx(20 * math.log10(0.5), abs=0.05)


def test_true_peak_of_a_low_tone_is_its_amplitude():
    x = np.stack([sine(440.0, 0.25), sine(440.0, 0.5)])
    assert get_metric("true_peak_db").compute(None, x, 48000) == pytest.approx(20 * math.log10(0.5), abs=0.01)


def test_true_peak_of_silence():
    with pytest.raises(MetricError, match="silent"):
        get_metric("true_peak_db").compute(None, np.zeros(1000), 48000)
