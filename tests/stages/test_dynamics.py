"""The dynamics stage: static curve through the stage, streaming, alignment, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aural.params import ParamError, build_params
from aural.signal import Signal
from aural.stages import get_stage
from aural.stages.base import iter_blocks
from aural.stages.dynamics import DynamicsParams, DynamicsStage
from helpers import speech_like, tone

SETTINGS = [
    {},
    {"threshold_db": -30.0, "ratio": 6.0, "knee_db": 0.0, "attack_ms": 1.0, "release_ms": 40.0,
     "lookahead_ms": 3.0, "makeup_db": 6.0},
    {"detector": "rms", "rms_window_ms": 5.0, "expander_threshold_db": -45.0, "expander_ratio": 3.0,
     "lookahead_ms": 1.0},
    {"link_channels": False, "lookahead_ms": 2.5},
]


def test_registered_under_its_name_with_validated_params():
    assert get_stage("dynamics") is DynamicsStage
    with pytest.raises(ParamError) as error:
        build_params(DynamicsParams, {"ratio": 0.5})
    assert error.value.key == "ratio"
    with pytest.raises(ParamError) as error:
        build_params(DynamicsParams, {"detector": "loud"})
    assert error.value.key == "detector"
    assert build_params(DynamicsParams, {"expander_threshold_db": None}).expander_threshold_db is None


def stream(stage: DynamicsStage, signal: Signal, block: int) -> torch.Tensor:
    stage.configure(signal.sample_rate, signal.num_channels)
    parts = [stage.process_block(b) for b in iter_blocks(signal.audio, block)]
    parts.append(stage.flush())
    return torch.cat(parts, dim=1)[:, stage.latency_samples:stage.latency_samples + signal.num_samples]


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("block", [1, 7, 4093])
def test_block_wise_output_is_identical_to_whole_signal(settings, block):
    seconds = {1: 0.05, 7: 0.2}.get(block, 2.0)
    signal = speech_like(seconds, 48000, num_channels=2, seed=block, level_db=-12)
    stage = DynamicsStage(**settings)
    whole = stage.process(signal).audio
    assert torch.equal(stream(stage, signal, block), whole)


@pytest.mark.parametrize("level_db", [-36.0, -23.0, -20.0, -12.0, -3.0])
def test_steady_tone_follows_the_static_curve(level_db):
    threshold, ratio, knee, makeup = -20.0, 4.0, 6.0, 3.0
    stage = DynamicsStage(threshold_db=threshold, ratio=ratio, knee_db=knee, attack_ms=0.0,
                          release_ms=500.0, makeup_db=makeup, lookahead_ms=2.0)
    signal = tone(1000.0, 1.0, 48000, num_channels=2, amplitude=10 ** (level_db / 20))
    out = stage.process(signal)
    over = level_db - threshold
    if 2 * over < -knee:
        static = level_db
    elif 2 * abs(over) <= knee:
        static = level_db + (1 / ratio - 1) * (over + knee / 2) ** 2 / (2 * knee)
    else:
        static = threshold + over / ratio
    # steady state, away from the end, where the lookahead sees the silence first
    peak = 20 * math.log10(float(out.audio[:, -9600:-4800].abs().max()))
    assert peak == pytest.approx(static + makeup, abs=0.02)


def test_stereo_impulse_stays_aligned_through_lookahead():
    sample_rate = 48000
    audio = torch.zeros(2, 4800)
    audio[:, 1000] = 0.9
    audio[1, 1000] = -0.5
    out = DynamicsStage(lookahead_ms=5.0, threshold_db=-30.0, attack_ms=0.0).process(Signal(audio, sample_rate)).audio
    assert int(out[0].abs().argmax()) == 1000 and int(out[1].abs().argmax()) == 1000
    assert torch.count_nonzero(out[:, :1000]) == 0
    # linked: both channels got the same gain at the impulse
    assert float(out[0, 1000] / 0.9) == pytest.approx(float(out[1, 1000] / -0.5), rel=1e-6)
    assert float(out[0, 1000]) < 0.9 * 10 ** (-10 / 20)  # and it was compressed


def test_latency_is_the_lookahead():
    stage = DynamicsStage(lookahead_ms=5.0)
    stage.configure(48000, 2)
    assert stage.latency_samples == 240
    stage.configure(8000, 1)
    assert stage.latency_samples == 40


@pytest.mark.parametrize("settings", SETTINGS)
def test_input_is_never_modified_and_silence_stays_silent(settings):
    signal = speech_like(0.5, 48000, num_channels=2, level_db=-10)
    before = signal.audio.clone()
    DynamicsStage(**settings).process(signal)
    assert torch.equal(signal.audio, before)
    silent = DynamicsStage(**settings).process(Signal(torch.zeros(2, 4800), 48000)).audio
    assert torch.equal(silent, torch.zeros(2, 4800))


@pytest.mark.parametrize("sample_rate, num_channels", [(8000, 1), (192000, 2), (48000, 6)])
@pytest.mark.parametrize("num_samples", [0, 1, 0.1])
def test_rates_channels_and_tiny_inputs(sample_rate, num_channels, num_samples):
    n = int(num_samples * sample_rate) if isinstance(num_samples, float) else num_samples
    rng = np.random.default_rng(n)
    audio = torch.from_numpy((0.5 * rng.standard_normal((num_channels, n))).astype(np.float32))
    out = DynamicsStage(lookahead_ms=3.0, threshold_db=-30.0).process(Signal(audio, sample_rate))
    assert out.audio.shape == (num_channels, n) and out.audio.dtype == torch.float32
    assert torch.isfinite(out.audio).all()
    assert out.history[-1]["step"] == "dynamics"
    if n > 1000:
        assert out.rms_db() < Signal(audio, sample_rate).rms_db() - 3  # it compressed


def test_unity_when_ratio_is_one():
    signal = speech_like(1.0, 48000, num_channels=2, level_db=-6)
    assert torch.equal(DynamicsStage(ratio=1.0).process(signal).audio, signal.audio)
