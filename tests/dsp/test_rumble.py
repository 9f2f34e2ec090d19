"""RumbleMeter: the low band's level in the pauses against the speech band's in speech."""

from __future__ import annotations

import numpy as np
import pytest

from aural.dsp.rumble import RumbleMeter


def bursts_with_rumble(rumble_db: float | None, sample_rate: int = 16000, seconds: float = 8.0) -> np.ndarray:
    """A 1 kHz tone on for 0.5 s, off for 0.5 s (speech band level 0 dB re its RMS while on),
    over a steady 50 Hz rumble ``rumble_db`` under that level (None: no rumble)."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    bursts = np.sin(2 * np.pi * 1000 * t) * (np.floor(2 * t) % 2 == 0)
    rumble = 0.0 if rumble_db is None else 10 ** (rumble_db / 20) * np.sin(2 * np.pi * 50 * t)
    return (0.1 * (bursts + rumble))[None, :]


def margin(audio: np.ndarray, sample_rate: int = 16000, block: int | None = None,
           corner_hz: float = 90.0) -> float | None:
    meter = RumbleMeter(sample_rate, audio.shape[0], corner_hz)
    step = block or audio.shape[1]
    for start in range(0, audio.shape[1], step):
        meter.process(audio[:, start:start + step])
    return meter.margin_db()


@pytest.mark.parametrize("rumble_db", [-20.0, -35.0, -50.0])
def test_margin_reads_the_rumble_under_the_speech(rumble_db):
    assert margin(bursts_with_rumble(rumble_db)) == pytest.approx(rumble_db, abs=2.0)


def test_no_rumble_reads_far_below_any_threshold():
    assert margin(bursts_with_rumble(None)) < -80.0


def test_block_wise_equals_whole_and_channels_are_linked():
    audio = bursts_with_rumble(-30.0, 48000, 4.0)
    assert margin(audio, 48000, block=997) == margin(audio, 48000)
    stereo = np.concatenate([audio, audio])
    assert margin(stereo, 48000) == margin(audio, 48000)


def test_silence_and_input_under_a_frame_have_nothing_to_judge():
    assert margin(np.zeros((1, 16000))) is None
    assert margin(bursts_with_rumble(-30.0)[:, :100]) is None


def test_corner_must_lie_inside_the_band_and_may_be_very_low():
    with pytest.raises(ValueError, match="corner"):
        RumbleMeter(16000, 1, 9000.0)
    assert margin(bursts_with_rumble(-30.0), corner_hz=15.0) < -60.0   # 50 Hz is above a 15 Hz corner
