"""DNSMOS through speechmos' bundled ONNX models (offline)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aural.evaluate import score_signals
from aural.metrics import get_metric
from aural.signal import Signal
from helpers import speech_like

pytestmark = pytest.mark.slow  # loads librosa and two ONNX models (~5-10 s)

NAMES = ["dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl"]


@pytest.fixture(scope="module")
def speechmos_dnsmos():
    if get_metric("dnsmos_ovrl").unavailable_reason():
        pytest.skip(get_metric("dnsmos_ovrl").unavailable_reason())
    from speechmos import dnsmos

    return dnsmos


def test_matches_speechmos_called_directly(speechmos_dnsmos):
    clean = speech_like(3.0, 16000, seed=2)
    rng = np.random.default_rng(0)
    noisy = Signal(clean.audio + 0.01 * torch.from_numpy(rng.standard_normal((1, 48000)).astype(np.float32)), 16000)
    result = score_signals(None, noisy, NAMES)
    direct = speechmos_dnsmos.run(noisy.audio[0].numpy(), 16000)
    # aural runs ONNX on one thread; speechmos uses its default thread pool
    assert result.values["dnsmos_sig"] == pytest.approx(direct["sig_mos"], abs=1e-4)
    assert result.values["dnsmos_bak"] == pytest.approx(direct["bak_mos"], abs=1e-4)
    assert result.values["dnsmos_ovrl"] == pytest.approx(direct["ovrl_mos"], abs=1e-4)
    for name in NAMES:
        assert 1.0 <= result.values[name] <= 5.0
        assert result.rates[name] == "at 16000 Hz"
    assert score_signals(None, noisy, NAMES).values == result.values  # deterministic


def test_resamples_mixes_down_and_refuses_short_clips(speechmos_dnsmos):
    stereo48 = speech_like(2.0, 48000, num_channels=2, seed=3)
    result = score_signals(None, stereo48, ["dnsmos_ovrl"])
    assert 1.0 <= result.values["dnsmos_ovrl"] <= 5.0
    assert result.rates["dnsmos_ovrl"] == "resampled to 16000 Hz (estimate 48000 Hz)"
    assert any("mono mixdown" in note for note in result.notes)
    short = speech_like(0.5, 16000)
    assert "needs at least 1 s" in score_signals(None, short, ["dnsmos_ovrl"]).reasons["dnsmos_ovrl"]
