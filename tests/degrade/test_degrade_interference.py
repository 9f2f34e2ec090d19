"""Hum, buzz, clicks, wind, breathing and EQ: reproducible from their params, chunk-exact, audible."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from aural.degrade.base import Chain, DrawContext, Resources, transform_for
from aural.degrade.breathing import Breathing
from aural.degrade.eq import Equalizer, eq_magnitude
from aural.degrade.impulsive import Clicks
from aural.degrade.level import active_level_db
from aural.degrade.mains import Buzz, Hum, mains_phase
from aural.degrade.wind import Wind
from helpers import speech_like

RATE = 16000


@pytest.fixture(scope="module")
def clean() -> torch.Tensor:
    return speech_like(4.0, RATE, seed=5, level_db=-26.0).audio


def context(num_samples: int = 4 * RATE) -> DrawContext:
    return DrawContext(RATE, num_samples, 1, speech_level_db=-26.0, resources=Resources())


def new_transforms():
    return [Hum(), Buzz(), Clicks(rate_per_s=(3.0, 3.0)), Wind(), Breathing(), Equalizer()]


def band_energy(audio: np.ndarray, low_hz: float, high_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio)))) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / RATE)
    return float(spectrum[(freqs >= low_hz) & (freqs < high_hz)].sum())


@pytest.mark.parametrize("transform", new_transforms(), ids=lambda t: t.name)
def test_params_reproduce_the_audio_exactly(transform, clean):
    params = transform.draw(np.random.default_rng(1), context())
    restored = json.loads(json.dumps(params))
    assert restored == params
    out = transform.apply(clean, RATE, params)
    assert torch.equal(out, transform_for(transform.name).apply(clean.clone(), RATE, restored))
    assert out.shape == clean.shape and out.dtype == torch.float32 and torch.isfinite(out).all()
    assert not torch.equal(out, clean)
    assert transform.draw(np.random.default_rng(2), context()) != params


@pytest.mark.parametrize("transform", new_transforms(), ids=lambda t: t.name)
def test_chunks_with_context_render_the_whole_signal(transform, clean):
    params = transform.draw(np.random.default_rng(3), context())
    records = [{"transform": transform.name, "params": params}]
    whole = Chain.apply(clean, RATE, records)
    before, after = Chain.context_samples(records, RATE)
    start, stop = 25000, 41000
    lo, hi = max(0, start - before), min(clean.shape[1], stop + after)
    part = Chain.apply(clean[:, lo:hi], RATE, records, offset_samples=lo)
    np.testing.assert_allclose(part[:, start - lo:stop - lo].numpy(), whole[:, start:stop].numpy(), atol=2e-6)


def test_mains_phase_is_the_running_sum_of_a_drifting_frequency():
    f = 50.0 + 0.3 * np.sin(2 * np.pi * np.arange(40000) / (2.0 * RATE) + 0.7)
    expected = 2 * np.pi * np.cumsum(f) / RATE
    np.testing.assert_allclose(mains_phase(0, 40000, RATE, 50.0, 0.3, 2.0, 0.7), expected, atol=1e-8)
    np.testing.assert_allclose(mains_phase(30000, 10000, RATE, 50.0, 0.3, 2.0, 0.7), expected[30000:], atol=1e-8)


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_hum_adds_its_level_at_the_mains_harmonics(mains, clean):
    silence = torch.zeros_like(clean)
    params = Hum(mains=(mains,), level_db=(-20.0, -20.0), drift_hz=(0.0, 0.0)).draw(np.random.default_rng(4),
                                                                                      context())
    hum = Hum().apply(silence, RATE, params)[0].numpy().astype(np.float64)
    assert 10 * math.log10(np.mean(hum ** 2)) == pytest.approx(-26.0 - 20.0, abs=0.3)
    f0 = params["mains_hz"]
    on_lines = sum(band_energy(hum, k * f0 - 2, k * f0 + 2) for k in range(1, len(params["amplitudes"]) + 1))
    assert on_lines / band_energy(hum, 0, RATE / 2) > 0.99
    assert abs(f0 - mains) <= 0.1


def test_buzz_is_mains_locked_and_rich_in_harmonics():
    params = Buzz(kinds=("dimmer",), tilt_db=(0.05, 0.05)).draw(np.random.default_rng(5), context())
    buzz = Buzz().apply(torch.zeros(1, 4 * RATE), RATE, params)[0].numpy().astype(np.float64)
    f0 = params["mains_hz"]
    above_1k = band_energy(buzz, 1000, RATE / 2)
    lines_above_1k = sum(band_energy(buzz, k * f0 - 2, k * f0 + 2) for k in range(int(1000 // f0) + 1, int(7900 // f0)))
    assert above_1k / band_energy(buzz, 0, RATE / 2) > 0.01  # a hum would have nothing up there
    assert lines_above_1k / above_1k > 0.98


def test_clicks_add_sparse_impulses_at_the_drawn_rate(clean):
    transform = Clicks(rate_per_s=(5.0, 5.0), peak_db=(12.0, 12.0), kinds=("click",))
    params = transform.draw(np.random.default_rng(6), context())
    silence = torch.zeros(1, 20 * RATE)
    added = transform.apply(silence, RATE, params)[0].numpy()
    bursts = np.flatnonzero(np.diff((np.abs(added) > 0).astype(int)) == 1)
    assert 60 <= len(bursts) <= 140  # Poisson(100)
    assert np.mean(added != 0) < 0.01
    assert np.max(np.abs(added)) > 10 ** ((-26.0 + 12.0 - 12.0) / 20)


def test_wind_is_low_frequency_and_gusty():
    params = Wind(level_db=(0.0, 0.0), cutoff_hz=(150.0, 150.0)).draw(np.random.default_rng(7), context())
    wind = Wind().apply(torch.zeros(1, 30 * RATE), RATE, params)[0].numpy().astype(np.float64)
    assert band_energy(wind, 0, 600) / band_energy(wind, 0, RATE / 2) > 0.95
    level = 10 * np.log10(np.mean(wind.reshape(-1, RATE // 4) ** 2, axis=1))
    assert np.percentile(level, 95) - np.percentile(level, 5) > 8.0  # gusts and lulls
    assert 10 * np.log10(np.mean(wind ** 2)) == pytest.approx(-26.0, abs=3.0)


def test_breathing_floor_rises_in_pauses_and_leaves_speech_level(clean):
    params = Breathing(floor_db=(-40.0, -40.0), max_rise_db=(15.0, 15.0),
                       release_ms=(100.0, 100.0)).draw(np.random.default_rng(8), context())
    added = (Breathing().apply(clean, RATE, params) - clean)[0].numpy().astype(np.float64)
    speech_db = 10 * np.log10(np.mean(clean[0].double().numpy().reshape(-1, RATE // 50) ** 2, axis=1) + 1e-12)
    floor_db = 10 * np.log10(np.mean(added.reshape(-1, RATE // 50) ** 2, axis=1))
    loud, pauses = floor_db[speech_db > -30], floor_db[speech_db < -60]
    assert len(loud) > 20 and len(pauses) > 20
    assert np.median(loud) == pytest.approx(-26.0 - 40.0, abs=3.0)  # at its floor under speech
    assert np.median(pauses) - np.median(loud) > 10.0  # swelling in the pauses


def test_eq_follows_its_curve_and_keeps_1khz(clean):
    params = {"tilt_db_per_octave": 1.0, "bells": [{"freq_hz": 3000.0, "gain_db": 6.0, "q": 1.0}]}
    out = Equalizer().apply(torch.randn(1, 4 * RATE, generator=torch.Generator().manual_seed(0)) * 0.1, RATE, params)
    freqs = np.array([250.0, 1000.0, 3000.0])
    expected_db = 20 * np.log10(eq_magnitude(params, freqs, RATE))
    assert expected_db[1] == pytest.approx(0.0, abs=0.01)
    assert expected_db[2] > 6.0
    tilt_only = 20 * np.log10(eq_magnitude({"tilt_db_per_octave": 1.0, "bells": []}, freqs, RATE))
    np.testing.assert_allclose(tilt_only, [-2.0, 0.0, math.log2(3.0)], atol=1e-6)
    tone = torch.from_numpy(np.sin(2 * np.pi * 3000.0 * np.arange(RATE) / RATE).astype(np.float32))[None]
    level = 20 * np.log10(np.std(Equalizer().apply(tone, RATE, params)[0, 2000:-2000].numpy()) * math.sqrt(2))
    assert level == pytest.approx(expected_db[2], abs=0.3)
    assert out.shape[1] == 4 * RATE
