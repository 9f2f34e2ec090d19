"""Click detection and repair (aural.dsp.clicks) on generated voices and clicks."""

from __future__ import annotations

import numpy as np
import pytest

from aural.dsp.clicks import ClickRepairer, ar_coefficients, find_clicks, interpolate
from helpers import clicks, smooth_voice

SAMPLE_RATE = 48000


def repair(audio: np.ndarray, block: int = 4096, **options) -> tuple[np.ndarray, int]:
    audio = np.atleast_2d(audio)
    repairer = ClickRepairer(SAMPLE_RATE, audio.shape[0], **options)
    parts = [repairer.process(audio[:, s:s + block]) for s in range(0, audio.shape[1], block)]
    parts.append(repairer.process(np.zeros((audio.shape[0], repairer.latency_samples))))
    out = np.concatenate(parts, axis=1)[:, repairer.latency_samples:repairer.latency_samples + audio.shape[1]]
    return out, repairer.repaired_samples


def reduction_db(damage: np.ndarray, residual: np.ndarray) -> float:
    return 10 * np.log10(np.sum(damage ** 2) / np.sum(residual ** 2))


def test_clicks_come_out_at_least_15_db_lower():
    voice = smooth_voice(8.0)
    damage = clicks(len(voice))
    out, repaired = repair(voice + damage)
    assert reduction_db(damage, out[0] - voice) >= 15.0
    assert 40 <= repaired <= 40 * 30


def test_clean_voice_and_silence_pass_unchanged():
    voice = smooth_voice(4.0, seed=1)
    for audio in (voice, np.zeros(SAMPLE_RATE)):
        out, repaired = repair(audio)
        assert repaired == 0
        np.testing.assert_array_equal(out[0], audio)


def test_block_size_does_not_change_the_output():
    audio = smooth_voice(3.0, seed=2) + clicks(3 * SAMPLE_RATE, seed=2, count=10)
    np.testing.assert_allclose(repair(audio, block=1000)[0], repair(audio, block=65536)[0], atol=1e-12)


def test_stereo_channels_are_repaired_on_their_own_and_stay_aligned():
    voice = smooth_voice(3.0, seed=3)
    left, right = clicks(len(voice), seed=4, count=10), np.zeros(len(voice))
    out, _ = repair(np.stack([voice + left, voice + right]))
    assert reduction_db(left, out[0] - voice) >= 15.0
    np.testing.assert_array_equal(out[1], voice)


@pytest.mark.parametrize("length", [1, 5, 20])
def test_interpolation_rebuilds_a_gap_in_a_predictable_signal(length):
    t = np.arange(4000) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 1250 * t)
    coefficients = ar_coefficients(tone, 32)
    damaged = tone.copy()
    damaged[2000:2000 + length] = 1.5
    rebuilt = interpolate(damaged, 2000, 2000 + length, coefficients)
    np.testing.assert_allclose(rebuilt, tone[2000:2000 + length], atol=1e-3)


def test_a_loud_onset_is_not_a_click():
    voice = smooth_voice(1.0, seed=5)
    onset = np.concatenate([np.zeros(24000), 0.5 * np.sin(2 * np.pi * 300 * np.arange(24000) / SAMPLE_RATE)])
    audio = 0.01 * voice + onset
    segment = audio[22000:26000]
    assert find_clicks(segment, ar_coefficients(segment, 32), 12.0, 144, 2) == []


def test_clipped_plateaus_are_not_taken_for_clicks():
    voice = smooth_voice(3.0, seed=7)
    limit = 0.5 * np.abs(voice).max()
    clipped = np.clip(voice, -limit, limit)
    out, repaired = repair(clipped)
    assert repaired < 0.002 * len(clipped)
    assert 10 * np.log10(np.sum((out[0] - clipped) ** 2) / np.sum(clipped ** 2) + 1e-30) <= -40.0


def test_a_noise_burst_in_digital_silence_is_not_one_long_click():
    """Its unpredictable samples merge into one stretch far longer than a click: left alone
    (rebuilding it cost seconds per channel at 192 kHz before it was bounded)."""
    burst = np.concatenate([np.zeros(3000), 0.05 * np.random.default_rng(0).standard_normal(1500), np.zeros(3000)])
    max_length, widen = 576, 10
    found = find_clicks(burst, ar_coefficients(burst, 32), 12.0, max_length, widen)
    assert all(stop - start <= 2 * (max_length + widen) for start, stop in found)
