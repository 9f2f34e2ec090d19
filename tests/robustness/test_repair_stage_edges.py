"""``dehum`` and ``declick`` at the edges of what they accept: 8 kHz and 192 kHz, six channels,
empty and one-sample blocks. They run, keep shape and alignment, and still do their job."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aural.signal import Signal
from aural.stages.declick import DeclickStage
from aural.stages.dehum import DehumStage
from helpers import clicks, smooth_voice

RATES = [8000, 192000]


def _reduction_db(damage: np.ndarray, residual: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(damage ** 2) / np.sum(residual ** 2)))


@pytest.mark.parametrize("sample_rate", RATES)
def test_dehum_removes_hum_on_six_channels(sample_rate):
    voice = np.stack([np.roll(smooth_voice(4.0, seed=channel, sample_rate=sample_rate), 100 * channel)
                      for channel in range(6)])
    t = np.arange(voice.shape[1]) / sample_rate
    hum = sum(0.5 ** k * np.sin(2 * np.pi * 50.0 * k * t + k) for k in range(1, 6)) * 0.03
    out = DehumStage().process(Signal(torch.tensor(voice + hum, dtype=torch.float32), sample_rate))
    assert out.audio.shape == (6, voice.shape[1]) and bool(torch.isfinite(out.audio).all())
    for channel in range(6):
        assert _reduction_db(hum, out.audio[channel].double().numpy() - voice[channel]) >= 20.0


@pytest.mark.parametrize("sample_rate, least_db", [(8000, 6.0), (192000, 20.0)])
def test_declick_removes_clicks_on_six_channels(sample_rate, least_db):
    """Clicks of 1-8 samples: at 8 kHz up to 1 ms, over much of a voice's period, so less comes
    out there (8.3 dB when written; 36 dB at 48 kHz)."""
    voice = smooth_voice(1.0, seed=3, sample_rate=sample_rate)
    damage = clicks(len(voice), seed=3, count=8)
    stage = DeclickStage()
    out = stage.process(Signal(torch.tensor(np.stack([voice + damage] * 6), dtype=torch.float32), sample_rate))
    assert out.audio.shape == (6, len(voice)) and bool(torch.isfinite(out.audio).all())
    assert all(torch.equal(out.audio[0], out.audio[channel]) for channel in range(1, 6))
    assert _reduction_db(damage, out.audio[0].double().numpy() - voice) >= least_db


@pytest.mark.parametrize("sample_rate", [8000, 16000, 48000, 192000])
def test_declick_latency_is_33_ms_at_any_rate(sample_rate):
    stage = DeclickStage()
    stage.configure(sample_rate, 1)
    assert 32.0 <= 1000.0 * stage.latency_samples / sample_rate <= 34.0


@pytest.mark.parametrize("cls", [DehumStage, DeclickStage])
@pytest.mark.parametrize("sample_rate", RATES)
def test_empty_and_one_sample_blocks_equal_the_whole_signal(cls, sample_rate):
    rng = np.random.default_rng(0)
    audio = torch.tensor(0.05 * rng.standard_normal((6, 1500)), dtype=torch.float32)
    whole = cls().process(Signal(audio, sample_rate)).audio
    stage = cls()
    stage.configure(sample_rate, 6)
    if stage.needs_analysis:
        for block in (audio[:, :0], audio[:, :1], audio[:, 1:], audio[:, :0]):
            stage.analyze_block(block)
        stage.finish_analysis()
    assert stage.process_block(audio[:, :0]).shape == (6, 0)
    one = stage.process_block(audio[:, :1])
    assert one.shape == (6, 1)
    rest = torch.cat([one, stage.process_block(audio[:, 1:]), stage.process_block(audio[:, :0]), stage.flush()], 1)
    streamed = rest[:, stage.latency_samples:stage.latency_samples + audio.shape[1]]
    assert bool(torch.isfinite(streamed).all())
    torch.testing.assert_close(streamed, whole, rtol=0, atol=1e-6)


@pytest.mark.parametrize("cls", [DehumStage, DeclickStage])
@pytest.mark.parametrize("num_samples", [0, 1])
def test_empty_and_one_sample_signals(cls, num_samples):
    for sample_rate in RATES:
        out = cls().process(Signal(torch.full((6, num_samples), 0.1), sample_rate))
        assert out.audio.shape == (6, num_samples) and bool(torch.isfinite(out.audio).all())
