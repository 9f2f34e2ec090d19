"""TPDF dither: its distribution, signal-independent error, and a quiet sine that survives."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aural.dsp.dither import lsb, quantize, tpdf_dither, tpdf_noise

STEP = lsb(16)


def test_lsb_of_16_bit_is_one_over_32768():
    assert STEP == 1 / 32768
    assert lsb(24) == 2.0 ** -23
    with pytest.raises(ValueError):
        lsb(1)


def test_tpdf_noise_is_triangular_with_variance_one_sixth():
    noise = tpdf_noise((1_000_000,), torch.Generator().manual_seed(1)).numpy()
    assert noise.min() > -1.0 and noise.max() < 1.0
    assert noise.mean() == pytest.approx(0.0, abs=2e-3)
    assert noise.var() == pytest.approx(1 / 6, rel=1e-2)
    density, edges = np.histogram(noise, bins=20, range=(-1, 1), density=True)
    centres = (edges[1:] + edges[:-1]) / 2
    np.testing.assert_allclose(density, 1 - np.abs(centres), atol=0.02)  # the triangle


@pytest.mark.parametrize("offset_lsb", [0.0, 0.25, 0.5, 0.7])
def test_total_error_has_zero_mean_and_lsb_squared_over_4_whatever_the_signal(offset_lsb):
    # TPDF makes the first two moments of the error independent of the input: plain
    # rounding of a constant 0.25 LSB gives error -0.25 LSB every time.
    audio = torch.full((200_000,), 0.1 + offset_lsb * STEP, dtype=torch.float64)
    out = tpdf_dither(audio, 16, torch.Generator().manual_seed(2))
    error = ((out - audio) / STEP).numpy()
    assert error.mean() == pytest.approx(0.0, abs=5e-3)
    assert error.var() == pytest.approx(1 / 4, rel=2e-2)


def test_output_lies_on_the_16_bit_grid_and_is_clipped():
    audio = torch.tensor([[-1.5, -1.0, -0.3, 0.0, 0.3, 0.99999, 1.0, 1.5]])
    out = tpdf_dither(audio, 16, torch.Generator().manual_seed(3))
    assert out.dtype == torch.float32 and out.shape == audio.shape
    levels = out.double() * 32768
    assert torch.equal(levels, levels.round())
    assert levels.min() >= -32768 and levels.max() <= 32767
    assert quantize(torch.tensor([1.0]), 16).item() == 1 - STEP


def test_seeded_generator_reproduces_and_input_is_kept():
    audio = torch.linspace(-0.5, 0.5, 1000)
    before = audio.clone()
    first = tpdf_dither(audio, 16, torch.Generator().manual_seed(9))
    second = tpdf_dither(audio, 16, torch.Generator().manual_seed(9))
    assert torch.equal(first, second)
    assert torch.equal(audio, before)


def spectrum_in_lsb(audio: torch.Tensor) -> np.ndarray:
    return np.abs(np.fft.rfft(audio.double().numpy())) / (len(audio) / 2) / STEP


@pytest.mark.parametrize("amplitude_lsb", [0.4, 1.5])
def test_quiet_sine_survives_16_bit_without_distortion(amplitude_lsb):
    sample_rate = 48000  # one second: FFT bin k is k Hz
    t = torch.arange(sample_rate, dtype=torch.float64) / sample_rate
    sine = (amplitude_lsb * STEP * torch.sin(2 * math.pi * 1000 * t)).float()
    harmonics = [3000, 5000, 7000, 9000]

    plain = spectrum_in_lsb(quantize(sine, 16))
    if amplitude_lsb < 0.5:
        assert plain.max() == 0.0  # without dither the tone is gone
    else:
        assert max(plain[h] for h in harmonics) > 0.1  # and loud harmonics come instead

    dithered = spectrum_in_lsb(tpdf_dither(sine, 16, torch.Generator().manual_seed(4)))
    assert dithered[1000] == pytest.approx(amplitude_lsb, rel=0.03)
    noise_floor = np.median(dithered[100:20000])
    assert noise_floor < 0.005
    assert max(dithered[h] for h in harmonics) < 5 * noise_floor  # only noise at the harmonics
