"""WPE dereverberation (aural.dsp.wpe) on generated voices in a generated room."""

from __future__ import annotations

import numpy as np
import scipy.signal

from aural.dsp.wpe import WpeDereverberator
from helpers import generated_room, speech_like

SAMPLE_RATE = 16000
EARLY_S = 0.048          # the default delay_ms: what WPE keeps


def dereverberate(audio: np.ndarray, block: int = 3001, **options) -> np.ndarray:
    """``audio`` (channels, samples) through a streaming WPE in blocks of ``block``, realigned."""
    wpe = WpeDereverberator(SAMPLE_RATE, audio.shape[0], **options)
    padded = np.pad(audio, ((0, 0), (0, wpe.latency_samples)))
    out = np.concatenate([wpe.process(padded[:, s:s + block]) for s in range(0, padded.shape[1], block)], axis=1)
    return out[:, wpe.latency_samples:]


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    return 10 * np.log10(np.sum(reference ** 2) / np.sum((estimate - reference) ** 2))


def voice(seconds: float = 20.0, seed: int = 0) -> np.ndarray:
    return speech_like(seconds, SAMPLE_RATE, seed=seed).audio.numpy()[0].astype(np.float64)


def test_strength_zero_gives_back_the_input_whatever_the_blocks():
    audio = np.stack([voice(12.0), voice(12.0, seed=1)])
    for block in (257, 4096, 50000):
        np.testing.assert_allclose(dereverberate(audio, block, strength=0.0), audio, atol=1e-12)


def test_streaming_does_not_depend_on_block_size():
    audio = voice(14.0)[None]
    np.testing.assert_allclose(dereverberate(audio, 997), dereverberate(audio, 65536), atol=1e-9)


def test_late_reverberation_is_removed_and_the_early_sound_kept():
    dry = voice(24.0)
    response = generated_room(SAMPLE_RATE)
    reverberant = scipy.signal.fftconvolve(dry, response)[:len(dry)]
    early = response.copy()
    early[int(EARLY_S * SAMPLE_RATE):] = 0.0
    target = scipy.signal.fftconvolve(dry, early)[:len(dry)]
    out = dereverberate(reverberant[None])[0]
    skip = slice(SAMPLE_RATE, None)        # the first second has no past to predict from
    assert snr_db(target[skip], out[skip]) >= snr_db(target[skip], reverberant[skip]) + 4.0   # 14.1 -> 19.7 dB


def test_steady_tone_silence_and_dc_pass():
    t = np.arange(20 * SAMPLE_RATE) / SAMPLE_RATE
    tone = 0.1 * np.sin(2 * np.pi * 440 * t)
    middle = slice(4 * SAMPLE_RATE, 18 * SAMPLE_RATE)
    out = dereverberate(tone[None])[0]
    assert abs(20 * np.log10(np.std(out[middle]) / np.std(tone[middle]))) < 0.3
    np.testing.assert_array_equal(dereverberate(np.zeros((1, 5 * SAMPLE_RATE))), 0.0)
    dc = np.full((1, 12 * SAMPLE_RATE), 0.1)
    assert np.max(np.abs(dereverberate(dc)[:, 4 * SAMPLE_RATE:-SAMPLE_RATE] - 0.1)) < 1e-3


def test_channels_share_one_filter():
    audio = np.stack([voice(12.0)] * 2)
    reverberant = scipy.signal.fftconvolve(audio, generated_room(SAMPLE_RATE)[None], axes=1)[:, :audio.shape[1]]
    out = dereverberate(reverberant)
    np.testing.assert_allclose(out[0], out[1], atol=1e-9)
    assert not np.allclose(out, reverberant, atol=1e-4)


def test_min_range_leaves_noisy_blocks_alone_and_clean_ones_dereverberated():
    dry = voice(16.0)
    reverberant = scipy.signal.fftconvolve(dry, generated_room(SAMPLE_RATE))[:len(dry)]
    noisy = reverberant + np.std(reverberant) * np.random.default_rng(4).standard_normal(len(dry))
    for audio, changed in ((reverberant, True), (noisy, False)):
        out = dereverberate(audio[None], min_range_db=15.0)[0]
        change_db = 10 * np.log10(np.sum((out - audio) ** 2) / np.sum(audio ** 2))
        assert (change_db > -30.0) == changed, change_db
    np.testing.assert_array_equal(dereverberate(noisy[None], min_range_db=15.0)[0], dereverberate(noisy[None], strength=0.0)[0])
