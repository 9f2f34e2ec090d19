"""Gain computers in closed form, smoothing recursions, the streaming compressor/expander."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aural.dsp.dynamics import (Deesser, DynamicsConfig, DynamicsProcessor, compressor_gain_db,
                                expander_gain_db, one_pole, smooth_branching, time_coefficient)


def textbook_compressor(x, threshold, ratio, knee):
    """Giannoulis, Massberg & Reiss (2012) eq. 4, one level at a time; returns y - x."""
    if 2 * (x - threshold) < -knee:
        y = x
    elif knee > 0 and 2 * abs(x - threshold) <= knee:
        y = x + (1 / ratio - 1) * (x - threshold + knee / 2) ** 2 / (2 * knee)
    else:
        y = threshold + (x - threshold) / ratio
    return y - x


LEVELS = np.linspace(-90.0, 6.0, 385)  # 0.25 dB steps


@pytest.mark.parametrize("threshold, ratio, knee", [(-20.0, 4.0, 6.0), (-30.0, 2.0, 12.0),
                                                    (-10.0, 20.0, 0.0), (-24.0, 1.0, 6.0),
                                                    (-40.0, 1000.0, 3.0)])
def test_compressor_static_curve_is_the_textbook_soft_knee(threshold, ratio, knee):
    gain = compressor_gain_db(torch.from_numpy(LEVELS), threshold, ratio, knee).numpy()
    expected = [textbook_compressor(x, threshold, ratio, knee) for x in LEVELS]
    np.testing.assert_allclose(gain, expected, atol=1e-9)


def test_numpy_and_torch_curves_agree():
    for args in [(-20.0, 4.0, 6.0), (-10.0, 20.0, 0.0)]:
        np.testing.assert_array_equal(compressor_gain_db(LEVELS, *args),
                                      compressor_gain_db(torch.from_numpy(LEVELS), *args).numpy())
        np.testing.assert_array_equal(expander_gain_db(LEVELS, *args, 30.0),
                                      expander_gain_db(torch.from_numpy(LEVELS), *args, 30.0).numpy())


def test_compressor_curve_landmarks():
    # below the knee: no gain; at the threshold: (1/R - 1) W / 8; far above: slope 1/R
    gain = lambda x: float(compressor_gain_db(torch.tensor([x], dtype=torch.float64), -20.0, 4.0, 8.0))
    assert gain(-24.01) == 0.0
    assert gain(-20.0) == pytest.approx((1 / 4 - 1) * 8 / 8)
    assert gain(0.0) - gain(-10.0) == pytest.approx(10 * (1 / 4 - 1))
    # continuous at both knee edges
    for edge in (-24.0, -16.0):
        assert gain(edge - 1e-9) == pytest.approx(gain(edge + 1e-9), abs=1e-7)


def test_gain_computer_is_differentiable_in_its_parameters():
    level = torch.linspace(-60, 0, 41, dtype=torch.float64)
    params = (torch.tensor(-25.0, dtype=torch.float64, requires_grad=True),
              torch.tensor(3.0, dtype=torch.float64, requires_grad=True),
              torch.tensor(7.0, dtype=torch.float64, requires_grad=True))
    assert torch.autograd.gradcheck(lambda t, r, w: compressor_gain_db(level, t, r, w), params)
    assert torch.autograd.gradcheck(lambda t, r, w: expander_gain_db(level, t, r, w, 30.0), params)


def test_expander_static_curve_mirrors_the_compressor():
    threshold, ratio, knee = -50.0, 3.0, 6.0
    gain = expander_gain_db(torch.from_numpy(LEVELS), threshold, ratio, knee).numpy()
    for x, g in zip(LEVELS, gain):
        if x > threshold + knee / 2:
            assert g == 0.0
        elif x < threshold - knee / 2:
            assert g == pytest.approx((ratio - 1) * (x - threshold))
        else:
            assert g == pytest.approx(-(ratio - 1) * (x - threshold - knee / 2) ** 2 / (2 * knee))
    limited = expander_gain_db(torch.from_numpy(LEVELS), threshold, ratio, knee, range_db=20.0)
    assert float(limited.min()) == -20.0


def test_time_constant_covers_63_percent_of_a_step():
    sample_rate, time_ms = 48000, 10.0
    coef = time_coefficient(time_ms, sample_rate)
    step = np.ones((1, 480))
    out = one_pole(step, np.zeros(1), coef)
    assert out[0, 479] == pytest.approx(1 - math.exp(-1), rel=1e-3)
    assert time_coefficient(0.0, sample_rate) == 0.0


def test_branching_smoother_uses_attack_going_down_and_release_going_up():
    fast, slow = 0.5, 0.99
    target = np.concatenate([np.full(10, -10.0), np.zeros(10)])[None]
    state = np.zeros(1)
    out = smooth_branching(target, state, fast, slow)[0]
    assert out[0] == pytest.approx(-5.0)                        # fast way down
    assert out[9] == pytest.approx(-10.0 * (1 - 0.5 ** 10))
    assert out[10] == pytest.approx(out[9] * slow)              # slow way back
    assert state[0] == out[-1]


@pytest.mark.parametrize("block", [1, 3, 1000])
def test_recursions_chain_exactly_across_blocks(block):
    rng = np.random.default_rng(1)
    target = rng.standard_normal((2, 5000)) * 10
    whole = smooth_branching(target, np.zeros(2), 0.3, 0.9)
    state = np.zeros(2)
    parts = [smooth_branching(target[:, i:i + block], state, 0.3, 0.9) for i in range(0, 5000, block)]
    assert np.array_equal(np.concatenate(parts, axis=1), whole)


def sine(level_db, sample_rate=48000, seconds=1.0, freq_hz=1000.0, channels=1):
    # 1 kHz at 48 kHz: 48 samples per period, a sample on every crest
    n = int(sample_rate * seconds)
    wave = 10 ** (level_db / 20) * np.sin(2 * np.pi * freq_hz * np.arange(n) / sample_rate)
    return np.repeat(wave[None], channels, axis=0)


@pytest.mark.parametrize("level_db", [-40.0, -24.0, -20.0, -17.0, -10.0, 0.0])
def test_steady_tone_peak_follows_the_static_curve(level_db):
    config = DynamicsConfig(threshold_db=-20.0, ratio=4.0, knee_db=6.0, attack_ms=0.0,
                            release_ms=300.0, makeup_db=2.0)
    out = DynamicsProcessor(config, 48000, 1).process(sine(level_db))
    peak_db = 20 * np.log10(np.abs(out[:, -4800:]).max())
    expected = level_db + textbook_compressor(level_db, -20.0, 4.0, 6.0) + 2.0
    assert peak_db == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize("level_db", [-30.0, -18.0, -6.0])
def test_steady_tone_rms_follows_the_static_curve_with_the_rms_detector(level_db):
    config = DynamicsConfig(threshold_db=-24.0, ratio=3.0, knee_db=4.0, attack_ms=5.0,
                            release_ms=100.0, detector="rms", rms_window_ms=50.0)
    out = DynamicsProcessor(config, 48000, 2).process(sine(level_db, seconds=2.0, channels=2))
    rms_in = level_db - 10 * math.log10(2)
    rms_out = 10 * np.log10(np.mean(out[0, -24000:] ** 2))
    assert rms_out == pytest.approx(rms_in + textbook_compressor(rms_in, -24.0, 3.0, 4.0), abs=0.1)


def test_expander_attenuates_a_quiet_tone_by_its_curve():
    config = DynamicsConfig(ratio=1.0, knee_db=0.0, attack_ms=1.0, release_ms=50.0,
                            expander_threshold_db=-40.0, expander_ratio=2.0, detector="rms",
                            rms_window_ms=50.0)
    level = -50.0
    out = DynamicsProcessor(config, 48000, 1).process(sine(level, seconds=2.0))
    rms_in = level - 10 * math.log10(2)
    rms_out = 10 * np.log10(np.mean(out[0, -24000:] ** 2))
    assert rms_out == pytest.approx(rms_in + (2.0 - 1.0) * (rms_in + 40.0), abs=0.1)


def test_lookahead_delays_audio_and_catches_the_transient():
    sample_rate = 48000
    burst = np.concatenate([np.zeros(4800), np.ones(4800) * 0.9])[None]
    results = {}
    for lookahead_ms in (0.0, 5.0):
        config = DynamicsConfig(threshold_db=-20.0, ratio=20.0, knee_db=0.0, attack_ms=1.0,
                                release_ms=100.0, lookahead_ms=lookahead_ms)
        processor = DynamicsProcessor(config, sample_rate, 1)
        out = processor.process(np.concatenate([burst, np.zeros((1, processor.latency_samples))], axis=1))
        assert processor.latency_samples == round(lookahead_ms * sample_rate / 1000)
        aligned = out[:, processor.latency_samples:]
        assert np.all(aligned[:, :4800] == 0.0)  # nothing before the burst
        results[lookahead_ms] = np.abs(aligned).max()
    # without lookahead the onset passes at full level; with it the gain is already down
    assert results[0.0] == pytest.approx(0.9, rel=0.05)
    assert results[5.0] < 0.9 * 10 ** (-6 / 20)


def test_linked_detection_moves_both_channels_unlinked_keeps_them_apart():
    audio = np.stack([sine(-6.0)[0], sine(-40.0)[0]])
    base = dict(threshold_db=-20.0, ratio=4.0, knee_db=0.0, attack_ms=0.0, release_ms=50.0)
    linked = DynamicsProcessor(DynamicsConfig(**base), 48000, 2).process(audio)
    unlinked = DynamicsProcessor(DynamicsConfig(**base, link_channels=False), 48000, 2).process(audio)
    quiet_in = np.abs(audio[1, -4800:]).max()
    assert np.abs(unlinked[1, -4800:]).max() == pytest.approx(quiet_in, rel=1e-9)
    assert np.abs(linked[1, -4800:]).max() < quiet_in * 10 ** (-9 / 20)
    ratio = linked[:, audio[1] > 1e-4] / audio[:, audio[1] > 1e-4]
    np.testing.assert_allclose(ratio[0], ratio[1], rtol=1e-12)  # same gain on both


def test_silence_gives_zeros_without_nan():
    config = DynamicsConfig(detector="rms", expander_threshold_db=-60.0, expander_ratio=10.0)
    out = DynamicsProcessor(config, 48000, 2).process(np.zeros((2, 1000)))
    assert np.all(out == 0.0)


def test_deesser_is_transparent_without_sibilance_and_cuts_it_when_present():
    sample_rate, center_hz = 48000, 6000.0
    t = np.arange(sample_rate) / sample_rate
    fade_in = np.minimum(1.0, t / 0.05)  # an abrupt onset is broadband, a click, not voiced
    voiced = 0.3 * fade_in * np.sin(2 * np.pi * 200 * t)[None]
    quiet = Deesser(sample_rate, 1, center_hz, 8.0).process(voiced)
    assert np.array_equal(quiet, voiced)
    hiss = 0.3 * np.sin(2 * np.pi * center_hz * t)[None]
    out = Deesser(sample_rate, 1, center_hz, 8.0).process(voiced * 0.1 + hiss)
    # the band dominates: its centre is cut by exactly the full 8 dB, 200 Hz is kept
    spectrum = np.abs(np.fft.rfft(out[0, -24000:])) / 12000
    assert 20 * np.log10(spectrum[3000] / 0.3) == pytest.approx(-8.0, abs=0.05)
    assert spectrum[100] == pytest.approx(0.03, rel=1e-3)
