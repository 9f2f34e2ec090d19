"""Alignment recovers known delays; score_signals removes them before intrusive metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aural.evaluate import score_signals
from aural.evaluate.align import apply_delay, find_delay
from aural.signal import Signal
from helpers import speech_like


def delayed(audio: np.ndarray, delay: int) -> np.ndarray:
    if delay >= 0:
        return np.concatenate([np.zeros(delay), audio])
    return audio[-delay:]


@pytest.mark.parametrize("delay", [0, 1, 37, 4000, -250])
def test_find_delay_recovers_known_delay(delay):
    x = speech_like(2.0, 16000, seed=1).audio[0].double().numpy()
    y = 0.5 * delayed(x, delay)
    y = y + 0.001 * np.random.default_rng(0).standard_normal(y.size)
    assert find_delay(x, y, max_lag=8000) == delay
    ref, est = apply_delay(x, y, delay)
    assert ref.size == est.size
    np.testing.assert_allclose(est, 0.5 * ref, atol=0.01)


def test_delay_beyond_max_lag_is_not_found():
    x = np.random.default_rng(2).standard_normal(16000)
    assert find_delay(x, delayed(x, 3000), max_lag=1000) != 3000


def test_silent_side_gives_no_delay():
    assert find_delay(np.zeros(1000), np.random.default_rng(0).standard_normal(1000), 100) == 0


def test_score_signals_removes_delay_across_rates():
    clean = speech_like(2.0, 48000, seed=3)
    shifted = torch.cat([torch.zeros(1, 480), clean.audio], dim=1)       # 10 ms late
    estimate = Signal(shifted, 48000).resample(16000)
    result = score_signals(clean, estimate, ["snr", "pearson"])
    assert result.delay_s == pytest.approx(0.010, abs=1 / 48000)
    assert any("10.0 ms behind reference" in note for note in result.notes)
    assert any("sample rates differ" in note for note in result.notes)
    assert result.values["pearson"] > 0.99
    unaligned = score_signals(clean, estimate, ["pearson"], max_lag_s=0.0)
    assert unaligned.values["pearson"] < 0.9
