"""Hum modelling and subtraction (aural.dsp.hum) on generated voices and hum."""

from __future__ import annotations

import numpy as np
import pytest

from aural.degrade.mains import mains_wave
from aural.dsp.hum import HumAnalyzer, HumCanceller, _Measure, track
from aural.systems.probe import voiced

SAMPLE_RATE = 48000


def hum(duration_s: float, mains_hz: float = 50.0, *, drift_hz: float = 0.0, harmonics: int = 11,
        sample_rate: int = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    """Mains hum: harmonics falling 4.4 dB each, frequency drifting by +-``drift_hz`` over 20 s."""
    phases = np.random.default_rng(seed).uniform(0, 2 * np.pi, harmonics)
    return mains_wave(0, int(duration_s * sample_rate), sample_rate, mains_hz, 0.6 ** np.arange(harmonics), phases,
                      drift_hz=drift_hz, drift_period_s=20.0)


def at_level(signal: np.ndarray, reference: np.ndarray, relative_db: float) -> np.ndarray:
    return signal * np.sqrt(np.mean(reference ** 2) / np.mean(signal ** 2)) * 10 ** (relative_db / 20)


def dehum(audio: np.ndarray, block: int = 65536, **options) -> np.ndarray:
    audio = np.atleast_2d(audio)
    analyzer = HumAnalyzer(SAMPLE_RATE, audio.shape[0], **options)
    for start in range(0, audio.shape[1], block):
        analyzer.push(audio[:, start:start + block])
    canceller = HumCanceller(analyzer.finish(), SAMPLE_RATE)
    return np.concatenate([canceller.process(audio[:, s:s + block]) for s in range(0, audio.shape[1], block)], axis=1)


def reduction_db(noise: np.ndarray, residual: np.ndarray) -> float:
    return 10 * np.log10(np.mean(noise ** 2) / np.mean(residual ** 2))


# 60 Hz: the voice's pitch (110-230 Hz) dwells near the 120 Hz line, which limits its fit
@pytest.mark.parametrize("mains_hz, least_db", [(50.0, 30.0), (60.0, 28.0)])
def test_hum_20_db_below_a_voice_comes_out_30_db_lower(mains_hz, least_db):
    voice = voiced(SAMPLE_RATE, 8.0, seed=1).astype(np.float64)
    noise = at_level(hum(8.0, mains_hz), voice, -20.0)
    residual = dehum(voice + noise)[0] - voice
    assert reduction_db(noise, residual) >= least_db
    edge = int(0.02 * SAMPLE_RATE)   # the file's edges are processed too
    assert reduction_db(noise[:edge], residual[:edge]) >= 20.0
    assert reduction_db(noise[-edge:], residual[-edge:]) >= 20.0


def test_slowly_drifting_hum_is_tracked():
    voice = voiced(SAMPLE_RATE, 10.0, seed=2).astype(np.float64)
    noise = at_level(hum(10.0, 60.02, drift_hz=0.02), voice, -20.0)
    assert reduction_db(noise, dehum(voice + noise)[0] - voice) >= 20.0


def test_hum_alone_is_removed_almost_entirely():
    noise = 0.01 * hum(5.0)
    assert reduction_db(noise, dehum(noise)[0]) >= 40.0


def test_without_hum_nothing_changes():
    voice = voiced(SAMPLE_RATE, 6.0, seed=3).astype(np.float64)
    noisy = voice + 0.003 * np.random.default_rng(0).standard_normal(len(voice))
    for audio in (voice, noisy, np.zeros(SAMPLE_RATE), np.zeros(100)):
        np.testing.assert_array_equal(dehum(audio)[0], audio)


def test_stereo_channels_keep_their_own_hum_phase():
    voice = voiced(SAMPLE_RATE, 6.0, seed=4).astype(np.float64)
    left, right = at_level(hum(6.0, seed=1), voice, -20.0), at_level(hum(6.0, seed=2), voice, -20.0)
    out = dehum(np.stack([voice + left, voice + right]))
    assert reduction_db(left, out[0] - voice) >= 25.0
    assert reduction_db(right, out[1] - voice) >= 25.0


def test_block_size_does_not_change_the_output():
    voice = voiced(SAMPLE_RATE, 5.0, seed=5).astype(np.float64)
    audio = voice + at_level(hum(5.0), voice, -20.0)
    np.testing.assert_allclose(dehum(audio, block=4096), dehum(audio, block=100000), atol=1e-9)


def test_fixed_mains_ignores_the_other_frequency():
    voice = voiced(SAMPLE_RATE, 6.0, seed=6).astype(np.float64)
    audio = voice + at_level(hum(6.0, 60.0), voice, -20.0)
    np.testing.assert_array_equal(dehum(audio, mains="50")[0], audio)
    assert reduction_db(audio - voice, dehum(audio, mains="60")[0] - voice) >= 25.0


def test_hum_in_part_of_a_file_only():
    """Windows far from any hum have no measurement; the hum where it is goes, the rest stays.
    (An abrupt start is smoothed over: the first seconds after it come out less reduced.)"""
    voice = voiced(SAMPLE_RATE, 16.0, seed=7).astype(np.float64)
    noise = at_level(hum(16.0), voice, -20.0)
    noise[:10 * SAMPLE_RATE] = 0.0
    out = dehum(voice + noise)[0]
    np.testing.assert_array_equal(out[:4 * SAMPLE_RATE], (voice + noise)[:4 * SAMPLE_RATE])
    settled, onset = slice(13 * SAMPLE_RATE, None), slice(10 * SAMPLE_RATE, 13 * SAMPLE_RATE)
    assert reduction_db(noise[settled], out[settled] - voice[settled]) >= 25.0
    assert reduction_db(noise[onset], out[onset] - voice[onset]) >= 6.0


def test_a_line_that_does_not_keep_its_phase_is_not_modelled():
    """Of two lines standing out of the same noise, the one whose phase jumps from window to window
    (a machine's tone beside a mains harmonic) is left out; the steady one is modelled."""
    rng = np.random.default_rng(4)
    count, windows = 12, 9
    measures = []
    for _ in range(windows):
        phasors = np.full((1, count), 1e-6, dtype=np.complex128)
        phasors[0, 1] = 0.01 * np.exp(1j * 0.3)                               # 100 Hz: steady hum
        phasors[0, 5] = 0.01 * np.exp(1j * rng.uniform(-np.pi, np.pi))        # 300 Hz: wandering
        measures.append(_Measure(50.0, 50.0, phasors, np.full(count, 1e-8)))
    middle = track(measures)[windows // 2]
    modelled = np.round(middle.frequencies_hz).astype(int).tolist()
    assert 100 in modelled and 300 not in modelled
