"""Every system: registry, contract (rate, channels, length, finite, input untouched),
alignment (delay compensated), channel independence and noise reduction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aural.registry import UnknownNameError
from aural.signal import Signal
from aural.systems import BASELINES, SYSTEMS, get_system, get_system_class, system_names
from aural.systems.probe import correlation_lag, measure_latency
from helpers import speech_like

DENOISERS = ("noisereduce", "rnnoise", "deepfilternet3")


_LOADED: dict = {}


def make_system(name: str):
    """The system, loaded once per test session; skips with the reason when unavailable."""
    ok, reason = get_system_class(name).available()
    if not ok:
        pytest.skip(f"{name}: {reason}")
    if name not in _LOADED:
        _LOADED[name] = get_system(name)
        _LOADED[name].load()
    return _LOADED[name]


def noisy_speech(sample_rate: int, duration_s: float, snr_db: float, seed: int = 3):
    clean = speech_like(duration_s, sample_rate, seed=seed).audio[0].numpy().astype(np.float64)
    noise = np.random.default_rng(seed + 100).standard_normal(clean.size)
    noise *= np.sqrt(np.mean(clean ** 2) / np.mean(noise ** 2)) * 10 ** (-snr_db / 20)
    return clean, (clean + noise).astype(np.float32)


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(reference ** 2) / np.sum((estimate - reference) ** 2)))


def test_registry_lists_builtins_and_pipeline_form():
    assert set(BASELINES) <= set(SYSTEMS.names())
    assert "pipeline:<name or path>" in system_names()


def test_unknown_name_lists_close_matches_and_every_system():
    with pytest.raises(UnknownNameError) as info:
        get_system("rnnoize")
    message = str(info.value)
    assert "did you mean 'rnnoise'" in message
    for name in (*BASELINES, "pipeline:<name or path>"):
        assert name in message


def test_identity_is_exact():
    sig = speech_like(0.7, 22050, num_channels=2)
    out = get_system("identity").process(sig)
    assert torch.equal(out.audio, sig.audio)
    assert (out.sample_rate, out.num_channels) == (sig.sample_rate, 2)
    assert out.history[-1]["step"] == "system:identity"


@pytest.mark.parametrize("name", DENOISERS)
def test_contract_rate_channels_length_finite_unmutated(name):
    system = make_system(name)
    sig = speech_like(1.0, 16000, num_channels=2)
    sig = sig.replace(torch.nn.functional.pad(sig.audio, (0, 123)))  # not a frame multiple
    before = sig.audio.clone()
    out = system.process(sig)
    assert (out.sample_rate, out.num_channels, out.num_samples) == (16000, 2, sig.num_samples)
    assert out.audio.dtype == torch.float32
    assert torch.isfinite(out.audio).all()
    assert torch.equal(sig.audio, before)
    assert out.history[-1]["step"] == f"system:{name}"


@pytest.mark.parametrize("name", DENOISERS)
def test_very_short_input_keeps_its_length(name):
    system = make_system(name)
    sig = Signal(torch.full((1, 37), 0.01), 48000)
    out = system.process(sig)
    assert out.num_samples == 37 and torch.isfinite(out.audio).all()


@pytest.mark.parametrize("name", DENOISERS)
@pytest.mark.parametrize("sample_rate", [16000, 48000])
def test_output_is_aligned_with_input(name, sample_rate):
    """Cross-correlation of output and a clean voice-plus-noise input peaks at lag 0 (+-2)."""
    system = make_system(name)
    _, noisy = noisy_speech(sample_rate, 1.5, snr_db=5.0)
    sources = [noisy]
    if sample_rate == 16000:  # stereo: a second channel with other content at each time
        sources.append(np.roll(noisy, sample_rate // 3))
    out = system.process(Signal(torch.from_numpy(np.stack(sources)), sample_rate))
    for channel, source in enumerate(sources):
        lag = correlation_lag(out.audio[channel].numpy(), source, max_lag=sample_rate // 10)
        assert abs(lag) <= 2, f"{name} channel {channel} at {sample_rate} Hz lags by {lag} samples"


@pytest.mark.parametrize("name", DENOISERS)
def test_raw_delay_matches_the_compensated_constant(name):
    system = make_system(name)
    assert abs(measure_latency(system, duration_s=1.5) - system.latency_samples) <= 2


@pytest.mark.parametrize("name", DENOISERS)
def test_channels_are_processed_independently(name):
    system = make_system(name)
    _, left = noisy_speech(16000, 1.0, snr_db=10.0, seed=1)
    _, right = noisy_speech(16000, 1.0, snr_db=10.0, seed=2)
    stereo = system.process(Signal(torch.from_numpy(np.stack([left, right])), 16000))
    mono = system.process(Signal(torch.from_numpy(left)[None], 16000))
    assert torch.allclose(stereo.audio[0], mono.audio[0], atol=1e-5)
    assert not torch.allclose(stereo.audio[0], stereo.audio[1], atol=1e-3)


@pytest.mark.parametrize("name", DENOISERS)
def test_improves_snr_of_noisy_speech(name):
    system = make_system(name)
    clean, noisy = noisy_speech(16000, 2.0, snr_db=0.0)
    out = system.process(Signal(torch.from_numpy(noisy)[None], 16000)).audio[0].numpy()
    before, after = snr_db(clean, noisy), snr_db(clean, out)
    assert after > before + 2.0, f"{name}: SNR {before:.2f} dB -> {after:.2f} dB"


@pytest.mark.parametrize("name", DENOISERS)
def test_non_finite_input_is_a_clear_error(name):
    from aural.errors import StageError

    system = make_system(name)
    audio = torch.zeros(1, 4800)
    audio[0, 100] = float("nan")
    with pytest.raises(StageError, match=name):
        system.process(Signal(audio, 48000))


@pytest.mark.parametrize("name", DENOISERS)
def test_missing_package_makes_the_system_unavailable_with_a_reason(name, monkeypatch):
    import importlib.util

    cls = get_system_class(name)
    monkeypatch.setattr(importlib.util, "find_spec", lambda module, *args: None)
    ok, reason = cls.available()
    assert not ok and "not installed" in reason and "pip install" in reason


@pytest.mark.parametrize("name", DENOISERS)
def test_versions_name_the_package(name):
    system = make_system(name)
    system.load()
    versions = system.versions()
    assert versions and "not installed" not in versions.values()
