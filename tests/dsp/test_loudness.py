"""Streaming BS.1770 loudness against pyloudnorm and the calibration tones."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest
import scipy.signal

from aural.dsp.filters import k_weighting
from aural.dsp.loudness import LimitedLoudnessMeter, LoudnessMeter, integrated_loudness
from aural.dsp.true_peak import TruePeakLimiter
from helpers import speech_like


def reference(audio: np.ndarray, sample_rate: int) -> float:
    return pyloudnorm.Meter(sample_rate).integrated_loudness(audio.T.copy())


def signals(sample_rate: int, seconds: float = 3.37) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(sample_rate)
    n = int(sample_rate * seconds)
    t = np.arange(n) / sample_rate
    bursts = rng.standard_normal(n) * (np.sin(2 * np.pi * 0.8 * t) > 0.3) * 0.2
    return {
        "noise": 0.1 * rng.standard_normal((1, n)),
        "tones": (0.3 * np.sin(2 * np.pi * 997 * t) + 0.1 * np.sin(2 * np.pi * 60 * t))[None],
        "bursts_with_silence": (bursts + 1e-5 * rng.standard_normal(n))[None],
        "speech_like": speech_like(seconds, sample_rate, seed=3).audio.numpy().astype(np.float64),
        "stereo": np.stack([0.1 * rng.standard_normal(n), 0.02 * np.sin(2 * np.pi * 300 * t)]),
        "five_channels": 0.05 * rng.standard_normal((5, n)) * np.array([[1], [0.5], [1], [0.3], [0.2]]),
    }


@pytest.mark.parametrize("sample_rate", [8000, 11025, 44100, 48000])
def test_matches_pyloudnorm(sample_rate):
    for name, audio in signals(sample_rate).items():
        assert integrated_loudness(audio, sample_rate) == pytest.approx(
            reference(audio, sample_rate), abs=0.01), name


@pytest.mark.parametrize("seconds", [0.4, 0.449, 0.45, 0.451, 1.0, 2.05, 2.96])
def test_matches_pyloudnorm_at_awkward_lengths(seconds):
    audio = speech_like(seconds, 48000, num_channels=2, seed=7).audio.numpy().astype(np.float64)
    assert integrated_loudness(audio, 48000) == pytest.approx(reference(audio, 48000), abs=0.01)


@pytest.mark.parametrize("block", [1, 4093, 48000])
def test_streaming_in_blocks_equals_whole_signal(block):
    sample_rate = 16000
    audio = signals(sample_rate, 1.5)["stereo"] if block > 1 else signals(sample_rate, 0.6)["stereo"]
    meter = LoudnessMeter(sample_rate, 2)
    for start in range(0, audio.shape[1], block):
        meter.process(audio[:, start:start + block])
    assert meter.num_samples == audio.shape[1]
    assert meter.integrated_lufs() == pytest.approx(integrated_loudness(audio, sample_rate), abs=1e-9)


def test_calibration_tones():
    sample_rate = 48000
    t = np.arange(5 * sample_rate) / sample_rate
    sine = np.sin(2 * np.pi * 997 * t)
    # BS.1770: a 0 dBFS sine in one front channel reads -3.01 LKFS
    assert integrated_loudness(sine[None], sample_rate) == pytest.approx(-3.01, abs=0.05)
    # EBU Tech 3341: a -23 dBFS 1 kHz sine in both stereo channels reads -23.0 LUFS
    stereo = 10 ** (-23 / 20) * np.stack([sine, sine])
    assert integrated_loudness(stereo, sample_rate) == pytest.approx(-23.0, abs=0.05)
    # and it is what pyloudnorm reads, to the last digit
    assert integrated_loudness(stereo, sample_rate) == pytest.approx(reference(stereo, sample_rate), abs=1e-6)


def test_gates_drop_silence_and_quiet_passages():
    sample_rate = 48000
    rng = np.random.default_rng(5)
    loud = 0.1 * rng.standard_normal(2 * sample_rate)
    quiet = 0.0005 * rng.standard_normal(3 * sample_rate)  # about -63 LUFS: above -70
    with_silence = np.concatenate([loud, np.zeros(6 * sample_rate)])[None]
    with_quiet = np.concatenate([loud, np.zeros(3 * sample_rate), quiet])[None]
    # the quiet passage passes the absolute gate but not the relative one
    assert integrated_loudness(with_quiet, sample_rate) == pytest.approx(
        integrated_loudness(with_silence, sample_rate), abs=1e-3)
    assert integrated_loudness(with_quiet, sample_rate) == pytest.approx(reference(with_quiet, sample_rate), abs=0.01)
    assert -70 < integrated_loudness(quiet[None], sample_rate) < -60
    assert integrated_loudness(quiet[None] * 0.1, sample_rate) == -math.inf  # below -70


def test_short_clips_use_the_ungated_mean():
    sample_rate = 48000
    rng = np.random.default_rng(2)
    clip = 0.1 * rng.standard_normal((2, int(0.25 * sample_rate)))
    weighted = scipy.signal.sosfilt(k_weighting(sample_rate), clip, axis=-1)
    expected = -0.691 + 10 * math.log10(np.mean(weighted ** 2) * 2)
    assert integrated_loudness(clip, sample_rate) == pytest.approx(expected, abs=1e-9)
    assert integrated_loudness(clip[:, :1], sample_rate) > -70
    assert integrated_loudness(clip * 1e-5, sample_rate) == -math.inf   # below the absolute gate
    assert integrated_loudness(np.zeros((2, 0)), sample_rate) == -math.inf
    assert integrated_loudness(np.zeros((2, 100)), sample_rate) == -math.inf


def test_silence_is_minus_infinity_without_warnings():
    with np.errstate(all="raise"):
        assert integrated_loudness(np.zeros((2, 48000)), 48000) == -math.inf


def test_six_channels_are_5_1_with_the_lfe_left_out():
    sample_rate = 48000
    rng = np.random.default_rng(3)
    audio = np.zeros((6, sample_rate))
    audio[3] = 0.5 * rng.standard_normal(sample_rate)   # LFE only
    assert integrated_loudness(audio, sample_rate) == -math.inf
    audio[0] = 0.1 * rng.standard_normal(sample_rate)
    assert integrated_loudness(audio, sample_rate) == pytest.approx(integrated_loudness(audio[:1], sample_rate))
    audio[4] = audio[0]  # surround channels weigh 1.41
    assert integrated_loudness(audio, sample_rate) == pytest.approx(
        integrated_loudness(audio[:1], sample_rate) + 10 * math.log10(2.41), abs=1e-9)


def limited_loudness(audio, sample_rate, gain_db, ceiling_db):
    limiter = TruePeakLimiter(sample_rate, audio.shape[0], ceiling_db, margin_db=0.0)
    lag = limiter.latency_samples
    out = limiter.process(np.concatenate([audio * 10 ** (gain_db / 20), np.zeros((audio.shape[0], lag))], axis=1))
    return integrated_loudness(out[:, lag:], sample_rate)


@pytest.mark.parametrize("sample_rate", [16000, 44100, 48000])
def test_limited_meter_predicts_the_limiter(sample_rate):
    audio = speech_like(6.0, sample_rate, num_channels=2, seed=11).audio.numpy().astype(np.float64)
    meter = LimitedLoudnessMeter(sample_rate, 2, lookahead_ms=2.0, release_ms=80.0)
    for start in range(0, audio.shape[1], 5000):
        meter.process(audio[:, start:start + 5000])
    measured = meter.integrated_lufs()
    assert measured == pytest.approx(integrated_loudness(audio, sample_rate), abs=1e-9)
    assert meter.predict_lufs(0.0, 20.0) == pytest.approx(measured, abs=1e-4)  # never limited
    chunked = LimitedLoudnessMeter(sample_rate, 2, lookahead_ms=2.0, release_ms=80.0)
    chunked.CHUNK_FRAMES = 777  # the prediction runs in chunks; their size does not matter
    chunked.process(audio)
    assert chunked.predict_lufs(14.0, -1.0) == pytest.approx(meter.predict_lufs(14.0, -1.0), abs=1e-9)
    for gain_db in (6.0, 10.0, 14.0, 18.0):  # about 1 to 9 LU taken by the limiter
        actual = limited_loudness(audio, sample_rate, gain_db, -1.0)
        assert meter.predict_lufs(gain_db, -1.0) == pytest.approx(actual, abs=0.15)
