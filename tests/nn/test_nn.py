"""Shared blocks: STFT framing, mel filterbanks, streaming overlap-add, U-Net shapes."""

from __future__ import annotations

import pytest
import torch

from aural.nn.blocks import ConvBlock1d, make_activation
from aural.nn.spectral import hann_window, istft, mel_filterbank, mel_to_linear_weights, stft, stft_frames
from aural.nn.streaming import StreamingFrameProcessor
from aural.nn.unet import UNet2d


def test_periodic_hann_sums_to_one_at_half_overlap():
    w = hann_window(2048)
    torch.testing.assert_close(w[:1024] + w[1024:], torch.ones(1024), rtol=0, atol=1e-6)


def test_stft_matches_framewise_rfft_and_inverts():
    audio = torch.randn(2, 4096)
    window = hann_window(512)
    spec = stft(audio, 512, 128, window)
    frames = audio.unfold(-1, 512, 128)
    torch.testing.assert_close(spec, stft_frames(frames, window), rtol=1e-4, atol=1e-4)
    padded = torch.nn.functional.pad(audio, (384, 384))
    back = istft(stft(padded, 512, 128, window), 512, 128, window)[:, 384:384 + 4096]
    torch.testing.assert_close(back, audio, rtol=0, atol=1e-5)


def test_mel_filterbank_covers_every_band_and_spreads_back():
    fb = mel_filterbank(257, 64, 16000, f_min=40.0)
    assert fb.shape == (64, 257) and bool((fb.sum(dim=1) > 0).all())
    spread = mel_to_linear_weights(fb)
    torch.testing.assert_close(spread.sum(dim=1), torch.ones(257))
    torch.testing.assert_close(torch.full((64,), 0.3) @ spread.T, torch.full((257,), 0.3))


def test_streaming_processor_with_held_frames_is_exact_for_any_blocks():
    """A transform that holds frames back (for context) still returns its input exactly."""
    held: list[torch.Tensor] = []

    def delayed_identity(frames):
        held.extend(frames.unbind(1))
        ready = held[:-3] if len(held) > 3 else []
        del held[:len(ready)]
        return torch.stack(ready, 1) if ready else frames.new_zeros(frames.shape[0], 0, frames.shape[2])

    engine = StreamingFrameProcessor(delayed_identity, frame_length=256, hop_length=64,
                                     synthesis_window=hann_window(256), max_held_frames=3)
    audio = torch.randn(2, 3001)
    for block in (1, 17, 500, 4000):
        held.clear()
        engine.reset(2)
        out = [engine.push(audio[:, i:i + block]) for i in range(0, audio.shape[1], block)]
        out.append(engine.push(torch.zeros(2, engine.latency_samples)))
        out = torch.cat(out, 1)
        assert out.shape[1] == audio.shape[1] + engine.latency_samples
        torch.testing.assert_close(out[:, engine.latency_samples:], audio, rtol=0, atol=1e-6)
        assert torch.equal(out[:, :engine.latency_samples], torch.zeros(2, engine.latency_samples))


def test_streaming_processor_identity_and_strength():
    engine = StreamingFrameProcessor(lambda f: f, frame_length=128, hop_length=64,
                                     synthesis_window=hann_window(128), strength=0.25)
    audio = torch.randn(1, 1000)
    engine.reset(1)
    out = torch.cat([engine.push(audio), engine.push(torch.zeros(1, engine.latency_samples))], 1)
    torch.testing.assert_close(out[:, engine.latency_samples:], audio, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="multiple"):
        StreamingFrameProcessor(lambda f: f, frame_length=100, hop_length=64, synthesis_window=torch.ones(100))


def test_mirrored_lead_in_and_tail_are_exact_for_an_identity_for_any_blocks():
    """The mirrored edges feed only the context: an identity transform still returns its input,
    whatever the block sizes, the stream length (shorter than the lead-in too) and held frames."""
    held: list[torch.Tensor] = []
    seen: list[torch.Tensor] = []

    def delayed_identity(frames):
        seen.append(frames)
        held.extend(frames.unbind(1))
        ready = held[:-3] if len(held) > 3 else []
        del held[:len(ready)]
        return torch.stack(ready, 1) if ready else frames.new_zeros(frames.shape[0], 0, frames.shape[2])

    engine = StreamingFrameProcessor(delayed_identity, frame_length=256, hop_length=64,
                                     synthesis_window=hann_window(256), max_held_frames=3, lead_in_samples=200)
    for length in (3001, 150, 1):
        audio = torch.randn(2, length)
        for block in (1, 17, 4000):
            held.clear()
            seen.clear()
            engine.reset(2)
            out = torch.cat([engine.push(audio[:, i:i + block]) for i in range(0, length, block)]
                            + [engine.finish()], 1)
            assert out.shape[1] == length + engine.latency_samples
            torch.testing.assert_close(out[:, engine.latency_samples:], audio, rtol=0, atol=1e-6)
            if length > 200:  # the network's first frame ends in mirrored audio, not zeros
                first = torch.cat(seen, 1)[0, 0]
                torch.testing.assert_close(first[-64:], audio[0, 137:201].flip(0), rtol=0, atol=0)
    with pytest.raises(ValueError, match="latency"):
        StreamingFrameProcessor(lambda f: f, frame_length=128, hop_length=64, synthesis_window=hann_window(128),
                                lead_in_samples=10_000)


@pytest.mark.parametrize("lead_in_samples", [0, 200])
def test_empty_blocks_an_empty_stream_and_six_channels(lead_in_samples):
    """Empty pushes change nothing, an empty stream flushes to nothing but the latency's zeros,
    and six channels come back exactly, with and without the mirrored lead-in."""
    engine = StreamingFrameProcessor(lambda f: f, frame_length=256, hop_length=64, synthesis_window=hann_window(256),
                                     max_held_frames=3, lead_in_samples=lead_in_samples)
    for length in (0, 1, 1000):
        audio = torch.randn(6, length)
        engine.reset(6)
        out = [engine.push(torch.zeros(6, 0))]
        for i in range(0, length, 7):
            out += [engine.push(audio[:, i:i + 7]), engine.push(torch.zeros(6, 0))]
        out = torch.cat(out + [engine.finish()], 1)
        assert out.shape == (6, length + engine.latency_samples)
        torch.testing.assert_close(out[:, engine.latency_samples:], audio, rtol=0, atol=1e-6)


def test_blocks_and_unet_keep_shapes():
    assert isinstance(make_activation("prelu", 4), torch.nn.PReLU)
    with pytest.raises(ValueError, match="unknown activation"):
        make_activation("swish")
    block = ConvBlock1d(1, 4, kernel_size=8, stride=4)
    assert block(torch.randn(2, 1, 256)).shape == (2, 4, 64)
    net = UNet2d(2, 1, channels=(4, 8), bottleneck_channels=8)
    assert net(torch.randn(3, 2, 37, 61)).shape == (3, 1, 37, 61)
