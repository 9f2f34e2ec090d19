"""The wpe_dereverb stage: registered, aligned, streaming equals whole-file, reverberation lowered, hard inputs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from aural.config import parse_pipeline
from aural.pipeline import Pipeline
from aural.signal import Signal
from aural.stages import get_stage
from aural.stages.wpe_dereverb import WpeDereverbStage
from helpers import generated_room, speech_like, streamed_in_blocks

SAMPLE_RATE = 16000


def reverberant(seconds: float = 12.0, channels: int = 1) -> tuple[Signal, np.ndarray]:
    """A speech-like voice in a generated room (RT60 0.8 s), and its direct sound with the first 50 ms of the room."""
    dry = speech_like(seconds, SAMPLE_RATE, num_channels=channels).audio.double().numpy()
    room = generated_room(SAMPLE_RATE, length_s=1.2, seed=3)
    wet = scipy.signal.fftconvolve(dry, room[None], axes=1)[:, :dry.shape[1]]
    early = scipy.signal.fftconvolve(dry, room[None, :int(0.05 * SAMPLE_RATE)], axes=1)[:, :dry.shape[1]]
    return Signal(torch.from_numpy(wet).float(), SAMPLE_RATE), early


def test_registered_with_one_block_of_latency():
    assert get_stage("wpe_dereverb") is WpeDereverbStage
    stage = WpeDereverbStage(block_s=4.0)
    stage.configure(SAMPLE_RATE, 2)
    assert 4.0 * SAMPLE_RATE < stage.latency_samples < 6.0 * SAMPLE_RATE


def test_pipeline_output_is_aligned_and_drier():
    signal, early = reverberant()
    pipeline = Pipeline.from_spec(parse_pipeline({"aural": 1, "stages": [{"stage": "wpe_dereverb"}]}))
    out = pipeline.process(signal).audio.double().numpy()
    assert out.shape == early.shape
    late_in = np.sum((signal.audio.double().numpy() - early) ** 2)
    late_out = np.sum((out - early) ** 2)
    assert 10 * np.log10(late_in / late_out) >= 4.0     # 6.9 dB


def test_streaming_equals_whole_file_and_strength_zero_is_bit_exact():
    signal, _ = reverberant(10.0, channels=2)
    whole = WpeDereverbStage(block_s=3.0).process(signal).audio
    torch.testing.assert_close(streamed_in_blocks(WpeDereverbStage(block_s=3.0), signal), whole, atol=1e-6, rtol=0)
    assert torch.equal(WpeDereverbStage(strength=0.0).process(signal).audio, signal.audio)


@pytest.mark.parametrize("sample_rate, channels, seconds", [(8000, 1, 3.0), (192000, 1, 0.5), (16000, 6, 0.1)])
def test_other_rates_channels_and_short_clips(sample_rate, channels, seconds):
    audio = speech_like(seconds, sample_rate, num_channels=channels).audio
    out = WpeDereverbStage().process(Signal(audio, sample_rate)).audio
    assert out.shape == audio.shape and torch.isfinite(out).all()
    assert torch.sqrt(torch.mean(out ** 2)) <= 1.1 * torch.sqrt(torch.mean(audio ** 2))


def test_silence_stays_silent_and_a_steady_tone_keeps_its_level():
    assert torch.equal(WpeDereverbStage().process(Signal(torch.zeros(1, 3 * SAMPLE_RATE), SAMPLE_RATE)).audio,
                       torch.zeros(1, 3 * SAMPLE_RATE))
    t = torch.arange(12 * SAMPLE_RATE) / SAMPLE_RATE
    tone = 0.2 * torch.sin(2 * torch.pi * 330 * t)[None]
    out = WpeDereverbStage().process(Signal(tone, SAMPLE_RATE)).audio
    middle = slice(SAMPLE_RATE, 11 * SAMPLE_RATE)
    assert abs(20 * torch.log10(out[:, middle].std() / tone[:, middle].std())) < 0.3
