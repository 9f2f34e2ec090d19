"""The streamed speech envelope (Silero VAD in torch) and the pause gate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from aural.nn.silero_vad import CHUNK_SAMPLES, CONTEXT_SAMPLES, SileroVad
from aural.nn.speech_presence import PauseGate, SpeechDecisions, SpeechPresence, SpeechShare
from aural.nn.streaming import StreamingFrameProcessor

pytestmark = pytest.mark.usefixtures("one_thread")

EXAMPLE = Path(__file__).resolve().parents[2] / "data" / "examples" / "phone_memo.flac"
RATE = 16000


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return SileroVad.pretrained()


@pytest.fixture(scope="module")
def memo() -> torch.Tensor:
    """The bundled voice memo at 16 kHz, mono, after 2 s of near silence."""
    audio, rate = sf.read(EXAMPLE, dtype="float32", always_2d=True)
    speech = soxr.resample(audio.mean(axis=1), rate, RATE).astype(np.float32)
    hiss = 1e-4 * np.random.default_rng(0).standard_normal(2 * RATE).astype(np.float32)
    return torch.from_numpy(np.concatenate([hiss, speech]))


def probabilities(vad: SileroVad, audio: torch.Tensor) -> torch.Tensor:
    usable = audio[: audio.shape[0] // CHUNK_SAMPLES * CHUNK_SAMPLES]
    chunks = torch.cat([torch.zeros(CONTEXT_SAMPLES), usable]).unfold(0, CHUNK_SAMPLES + CONTEXT_SAMPLES, CHUNK_SAMPLES)
    with torch.inference_mode():
        return vad(chunks[None])[0][0]


def envelope(presence: SpeechPresence, audio: torch.Tensor, block: int) -> torch.Tensor:
    """The envelope of all of ``audio``, pushed ``block`` samples at a time (then a tail of
    zeros), each part taken as soon as the stream reaches far enough ahead."""
    presence.reset()
    audio = torch.atleast_2d(audio)
    padded = torch.cat([audio, torch.zeros(audio.shape[0], presence.lookahead_samples)], dim=1)
    parts, taken = [], 0
    for start in range(0, padded.shape[1], block):
        presence.push(padded[:, start:start + block])
        ready = min(start + block - presence.lookahead_samples, audio.shape[1]) - taken
        if ready > 0:
            parts.append(presence.take(ready))
            taken += ready
    return torch.cat(parts)


def test_speech_is_found_in_the_memo_and_not_in_noise_tones_or_silence(vad, memo):
    speech = probabilities(vad, memo[2 * RATE:])
    assert float((speech > 0.5).float().mean()) > 0.6
    rng = np.random.default_rng(1)
    t = np.arange(3 * RATE) / RATE
    for name, audio in [("silence", np.zeros(3 * RATE)), ("white noise", 0.1 * rng.standard_normal(3 * RATE)),
                        ("440 Hz tone", 0.3 * np.sin(2 * np.pi * 440 * t))]:
        assert float(probabilities(vad, torch.tensor(audio, dtype=torch.float32)).max()) < 0.5, name


def test_speech_share_counts_the_chunks_called_speech_whatever_the_blocks(vad, memo):
    share = SpeechShare(model=vad)
    assert share.share is None
    decisions = SpeechDecisions(model=vad).push(memo)
    for start in range(0, memo.shape[-1], 3001):
        share.push(memo[..., start:start + 3001])
    assert share.chunks == decisions.numel() == memo.shape[-1] // CHUNK_SAMPLES
    assert share.speech_chunks == int(decisions.sum()) and 0.4 < share.share < 0.95
    share.reset()
    share.push(0.1 * torch.randn(3 * RATE, generator=torch.Generator().manual_seed(0)))
    assert share.share == 0.0


def test_the_carried_vad_state_holds_no_graph():
    """Outside inference mode too: a graph carried in the LSTM state would keep every chunk's
    computation alive, and memory would grow with the stream."""
    decisions = SpeechDecisions()
    decisions.push(torch.randn(4 * CHUNK_SAMPLES))
    assert all(not part.requires_grad for part in decisions._state)


def test_envelope_opens_before_speech_holds_after_and_ignores_block_sizes(vad, memo):
    presence = SpeechPresence(model=vad, lookahead_ms=96, hold_ms=320)
    whole = envelope(presence, memo, block=memo.shape[0] + presence.lookahead_samples)
    assert whole.shape == memo.shape and float(whole.min()) >= 0.0 and float(whole.max()) <= 1.0
    for block in (777, 16000):
        assert torch.equal(envelope(presence, memo, block), whole)
    around_onset = memo[RATE: 4 * RATE]  # hiss, then the memo's first words
    one_by_one = envelope(presence, around_onset, 1)
    assert torch.equal(one_by_one, envelope(presence, around_onset, around_onset.shape[0] + presence.lookahead_samples))
    assert float(one_by_one.min()) == 0.0 and float(one_by_one.max()) == 1.0

    decisions = probabilities(vad, memo) > 0.5
    onset = int(torch.nonzero(decisions)[0]) * CHUNK_SAMPLES
    assert float(whole[: onset - 4 * CHUNK_SAMPLES].max()) == 0.0      # far from speech: closed
    assert bool((whole[onset - 3 * CHUNK_SAMPLES + CHUNK_SAMPLES // 2: onset] == 1.0).all())  # open ahead of it
    speech = torch.repeat_interleave(decisions, CHUNK_SAMPLES)
    assert bool((whole[: speech.shape[0]][speech] == 1.0).all())


def test_with_speech_before_the_start_a_leading_pause_is_held_like_any_other(vad, memo):
    """The memo starts with 2 s of near silence: closed from the start by default, open for
    ``hold_ms`` (then closed) when the stream counts as starting just after speech."""
    hold = 20 * CHUNK_SAMPLES  # 640 ms
    plain = envelope(SpeechPresence(model=vad, hold_ms=640), memo, block=16000)
    held = envelope(SpeechPresence(model=vad, hold_ms=640, speech_before_start=True), memo, block=16000)
    assert float(plain[:RATE].max()) == 0.0
    assert bool((held[:hold - CHUNK_SAMPLES // 2] == 1.0).all())  # openness sits at chunk centres
    assert float(held[hold + CHUNK_SAMPLES // 2: RATE].max()) == 0.0
    assert torch.equal(held[RATE:], plain[RATE:])


def test_one_envelope_for_all_channels_even_in_anti_phase(vad, memo):
    presence = SpeechPresence(model=vad)
    mono = envelope(presence, memo, block=16000)
    stereo = envelope(presence, torch.stack([memo, -memo]), block=16000)  # a mean of the channels would be silence
    assert torch.equal(stereo, mono)
    quiet_left = envelope(presence, torch.stack([0.01 * torch.randn_like(memo), memo]), block=16000)
    assert float((quiet_left == mono).float().mean()) > 0.95


def test_taking_further_than_pushed_or_at_another_rate_is_refused(vad):
    presence = SpeechPresence(model=vad)
    presence.push(torch.zeros(presence.lookahead_samples + 100))
    presence.take(100)
    with pytest.raises(RuntimeError, match="pushed"):
        presence.take(1)
    with pytest.raises(ValueError, match="16000 Hz, not 48000 Hz"):
        SpeechPresence(model=vad, sample_rate=48000)


def test_gate_puts_the_lowered_input_in_pauses_scaled_by_strength(vad):
    gate = PauseGate(20.0, presence=SpeechPresence(model=vad))
    noise = 0.05 * torch.randn(2, 3 * RATE, generator=torch.Generator().manual_seed(0))
    gate.analyse(noise)
    processed = torch.zeros_like(noise[:, :RATE])
    torch.testing.assert_close(gate.apply(noise[:, :RATE], processed), noise[:, :RATE] * 0.1)
    torch.testing.assert_close(gate.apply(noise[:, RATE:2 * RATE], processed, strength=0.5),
                               noise[:, RATE:2 * RATE] * 10 ** (-0.5))


def test_a_gate_looking_further_than_the_latency_is_refused(vad):
    gate = PauseGate(20.0, presence=SpeechPresence(model=vad, lookahead_ms=500))
    with pytest.raises(ValueError, match=r"reads 9216 samples ahead, further ahead than the latency allows \(1663\)"):
        StreamingFrameProcessor(lambda frames: frames, frame_length=512, hop_length=128,
                                synthesis_window=torch.hann_window(512), max_held_frames=10, pause_gate=gate)


@pytest.mark.parametrize("lead_in_samples", [0, 1000])
@pytest.mark.parametrize("block", [1000, 4097])
def test_gated_stream_is_the_processed_signal_in_speech_and_the_lowered_input_in_pauses(vad, memo, block,
                                                                                        lead_in_samples):
    """A transform doubling its input, gated 20 dB: the output is ``dry * (0.1 + 1.9 * envelope)``
    with the envelope of a standalone :class:`SpeechPresence`, sample for sample."""
    stereo = torch.stack([memo[RATE: 6 * RATE], 0.5 * memo[RATE: 6 * RATE]])
    processor = StreamingFrameProcessor(lambda frames: 2 * frames, frame_length=512, hop_length=128,
                                        synthesis_window=torch.hann_window(512), max_held_frames=20,
                                        lead_in_samples=lead_in_samples,
                                        pause_gate=PauseGate(20.0, presence=SpeechPresence(model=vad)))
    processor.reset(2)
    parts = [processor.push(stereo[:, start:start + block]) for start in range(0, stereo.shape[1], block)]
    latency = processor.latency_samples
    out = torch.cat([*parts, processor.finish()], dim=1)[:, latency:latency + stereo.shape[1]]

    presence = SpeechPresence(model=vad)
    presence.push(stereo)
    presence.end()
    expected_envelope = presence.take(stereo.shape[1])
    inside = stereo.shape[1] - presence.lookahead_samples - CHUNK_SAMPLES  # the end depends on the tail read
    assert float(expected_envelope[:inside].min()) == 0.0 and float(expected_envelope[:inside].max()) == 1.0
    expected = stereo * (0.1 + 1.9 * expected_envelope)
    torch.testing.assert_close(out[:, :inside], expected[:, :inside], rtol=0, atol=1e-5)
