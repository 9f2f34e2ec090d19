import math

import pytest
import torch

from aural.signal import Signal
from helpers import tone


def test_signal_is_frozen_and_operations_return_new_values():
    sig = tone(num_channels=2)
    before = sig.audio.clone()
    louder = sig.gain_db(6.0)
    assert louder is not sig
    assert torch.equal(sig.audio, before)
    assert louder.audio.abs().max() == pytest.approx(0.5 * 10 ** (6 / 20), rel=1e-5)
    with pytest.raises(AttributeError):
        sig.sample_rate = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        sig.meta["x"] = 1  # type: ignore[index]


def test_shape_and_rate_are_checked():
    assert Signal(torch.zeros(10), 16000).audio.shape == (1, 10)
    with pytest.raises(ValueError):
        Signal(torch.zeros(1, 2, 3), 16000)
    with pytest.raises(ValueError):
        Signal(torch.zeros(1, 10), 10)
    with pytest.raises(TypeError):
        Signal(torch.zeros(1, 10), 16000.0)  # type: ignore[arg-type]


def test_history_records_conversions():
    sig = tone(sample_rate=48000, num_channels=2).resample(16000).to_mono()
    steps = [entry["step"] for entry in sig.history]
    assert steps == ["resample", "channels"]
    assert sig.sample_rate == 16000 and sig.num_channels == 1
    assert sig.num_samples == 16000


def test_resample_keeps_a_tone():
    sig = tone(1000.0, 1.0, 44100).resample(48000)
    spectrum = torch.fft.rfft(sig.audio[0, 4800:-4800].double())
    peak_hz = spectrum.abs().argmax().item() * 48000 / (sig.num_samples - 9600)
    assert peak_hz == pytest.approx(1000.0, abs=2.0)


def test_levels_and_slices():
    sig = tone(amplitude=0.5)
    assert sig.peak_db() == pytest.approx(20 * math.log10(0.5), abs=0.01)
    assert sig.rms_db() == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.01)
    part = sig.slice(100, 200)
    assert part.num_samples == 100
    part_audio = part.audio
    part_audio += 1.0  # a slice never aliases its source
    assert sig.audio[0, 100] == pytest.approx(tone(amplitude=0.5).audio[0, 100])
    assert Signal(torch.zeros(1, 8), 8000).peak_db() == -math.inf
