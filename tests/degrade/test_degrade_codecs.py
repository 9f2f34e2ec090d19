"""Codec round trips: alignment within one sample, G.711/bit depth closed forms, ffmpeg absent."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch

from aural import errors
from aural.degrade import codecs
from aural.degrade.base import DrawContext, Resources
from aural.degrade.codecs import (FFMPEG_CODECS, Codec, CodecError, estimate_lag, g711, reduce_bit_depth,
                                  spectral_lossy)
from helpers import speech_like

FFMPEG = codecs.find_ffmpeg()


def lag_of(output: torch.Tensor, reference: torch.Tensor, max_lag: int = 2000) -> int:
    y, x = output.double().mean(0).numpy(), reference.double().mean(0).numpy()
    size = 1 << int(math.ceil(math.log2(2 * len(x))))
    corr = np.fft.irfft(np.fft.rfft(y, size) * np.conj(np.fft.rfft(x, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    return int(lags[np.argmax(corr[lags % size])])


def snr_db(output: np.ndarray, reference: np.ndarray) -> float:
    return 10 * math.log10(np.sum(reference ** 2) / np.sum((output - reference) ** 2))


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(errors, "_warned", set())


def hide_ffmpeg(monkeypatch):
    monkeypatch.setattr(codecs.shutil, "which", lambda name: None)


def test_g711_quantisation_noise_matches_8_bit_companding():
    t = np.arange(8000) / 8000
    for level in (0.5, 0.05):  # companding keeps the SNR roughly constant over level
        x = (level * np.sin(2 * np.pi * 441 * t)).astype(np.float32)[None]
        for law in ("mulaw", "alaw"):
            assert 33.0 < snr_db(g711(x, law), x) < 41.0, (law, level)
    x = np.array([[0.0, 1.0, -1.0]], np.float32)
    np.testing.assert_allclose(g711(x, "mulaw"), x, atol=1e-6)


def test_bit_depth_reduction_is_plain_rounding():
    x = (0.5 * np.sin(2 * np.pi * 997 * np.arange(48000) / 48000)).astype(np.float32)[None]
    y = reduce_bit_depth(x, 8)
    assert set(np.unique(np.round(y * 128))) <= set(range(-128, 128))
    # uniform quantisation noise: 6.02 * bits + 1.76 dB for a full-scale sine, minus 6 dB here
    assert snr_db(y, x) == pytest.approx(6.02 * 8 + 1.76 - 6.02, abs=1.5)


def test_spectral_lossy_keeps_timing_and_degrades_with_bitrate():
    x = speech_like(2.0, 16000, seed=1).audio.numpy()
    low, high = spectral_lossy(x, 16000, 8.0), spectral_lossy(x, 16000, 64.0)
    assert low.shape == x.shape and np.isfinite(low).all()
    assert snr_db(low, x) < snr_db(high, x)
    assert lag_of(torch.from_numpy(low), torch.from_numpy(x)) == 0


def test_estimate_lag_finds_a_delay_and_ignores_periodicity():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 8000))
    assert estimate_lag(np.roll(x, 37, axis=1), x, 400) == 37
    assert estimate_lag(np.roll(x, 3, axis=1), x, 400, fine_lag=5) == 3
    tone = np.sin(2 * np.pi * 100 * np.arange(8000) / 8000)[None]
    assert estimate_lag(tone, tone, 400) == 0


@pytest.mark.parametrize("codec", ["mulaw", "alaw", "bit_depth", "spectral"])
def test_in_process_codecs_keep_length_and_alignment(codec):
    clean = speech_like(1.5, 48000, seed=2).audio
    transform = Codec(codecs=(codec,))
    params = transform.draw(np.random.default_rng(0), DrawContext(48000, clean.shape[1], 1))
    out = transform.apply(clean, 48000, params)
    assert out.shape == clean.shape and torch.isfinite(out).all()
    assert abs(lag_of(out, clean)) <= 1


@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg not installed")
@pytest.mark.parametrize("codec", list(FFMPEG_CODECS))
@pytest.mark.parametrize("sample_rate, num_channels", [(48000, 1), (16000, 2)])
def test_ffmpeg_codecs_stay_aligned(codec, sample_rate, num_channels):
    if codecs.unavailable(codec, FFMPEG):
        pytest.skip(codecs.unavailable(codec, FFMPEG))
    clean = speech_like(1.0, sample_rate, num_channels=num_channels, seed=4).audio
    resources = Resources(ffmpeg=FFMPEG)
    transform = Codec(codecs=(codec,))
    params = transform.draw(np.random.default_rng(num_channels), DrawContext(sample_rate, clean.shape[1],
                                                                             num_channels, resources=resources))
    assert params["codec"] == codec and "replaces" not in params
    out = transform.apply(clean, sample_rate, params, resources=resources)
    assert out.shape == clean.shape and torch.isfinite(out).all()
    assert abs(lag_of(out, clean)) <= 1, params
    if num_channels == 1:  # the same parameters give the same audio
        assert torch.equal(out, transform.apply(clean, sample_rate, params, resources=resources))


@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg not installed")
def test_codec_delay_is_corrected_by_cross_correlation(monkeypatch):
    # ADTS AAC carries no priming information: the decoder output starts 1024 samples late
    monkeypatch.setitem(FFMPEG_CODECS, "aac", {**FFMPEG_CODECS["aac"], "format": "adts", "suffix": ".aac"})
    clean = speech_like(1.5, 48000, seed=5).audio
    out = Codec(codecs=("aac",)).apply(clean, 48000, {"codec": "aac", "codec_rate": 48000, "bitrate_kbps": 64.0},
                                       resources=Resources(ffmpeg=FFMPEG))
    assert abs(lag_of(out, clean)) <= 1


def test_missing_ffmpeg_replaces_codecs_with_one_warning(monkeypatch, caplog):
    hide_ffmpeg(monkeypatch)
    assert codecs.find_ffmpeg() is None
    transform = Codec(codecs={"opus": 1.0}, bitrate_kbps={"opus": (6.0, 8.0)})
    context = DrawContext(48000, 48000, 1, resources=Resources(ffmpeg=codecs.find_ffmpeg()))
    with caplog.at_level(logging.WARNING, logger="aural.degrade"):
        drawn = [transform.draw(np.random.default_rng(seed), context) for seed in range(3)]
    warnings = [r for r in caplog.records if "ffmpeg not found" in r.getMessage()]
    assert len(warnings) == 1
    for params in drawn:
        assert params["codec"] == "spectral" and params["replaces"] == "opus"
        assert params["reason"] == "ffmpeg not found" and params["codec_rate"] == 8000
    clean = speech_like(1.0, 48000, seed=6).audio
    assert transform.apply(clean, 48000, drawn[0], resources=context.resources).shape == clean.shape
    with pytest.raises(CodecError, match="ffmpeg not found"):
        transform.apply(clean, 48000, {"codec": "opus", "codec_rate": 48000, "bitrate_kbps": 12.0},
                        resources=context.resources)


@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg not installed")
def test_missing_amr_encoder_falls_back_to_gsm(monkeypatch):
    monkeypatch.setattr(codecs, "ffmpeg_encoders", lambda path: frozenset({"libgsm", "aac"}))
    params = Codec(codecs=("amr_nb",)).draw(np.random.default_rng(0),
                                            DrawContext(16000, 16000, 1, resources=Resources(ffmpeg=FFMPEG)))
    assert params["codec"] == "gsm" and params["replaces"] == "amr_nb"
    assert "libopencore_amrnb" in params["reason"]


def test_codec_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown codec"):
        Codec(codecs=("g729",))
