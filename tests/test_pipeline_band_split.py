"""A 16 kHz stage in a 48 kHz stream: the band above 8 kHz bypasses it instead of being lost."""

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from aural.config import parse_pipeline
from aural.params import param
from aural.pipeline import Pipeline
from aural.stages import IOContract
from helpers import DelayStage, speech_like


@dataclass(frozen=True)
class GainParams:
    gain: float = param(1.0, help="linear gain", min=0.0)
    latency: int = param(0, help="delay in samples", min=0)


class Gain16kStage(DelayStage):
    """Scales (and delays) its input at 16 kHz; keeps the high band of a faster stream."""

    name = "test_gain16k"
    Params = GainParams
    contract = IOContract(sample_rate=16000, keep_high_band=True)


class Drop16kStage(Gain16kStage):
    name = "test_drop16k"
    contract = IOContract(sample_rate=16000)


@pytest.fixture
def stages(temporary_stage):
    temporary_stage(Gain16kStage)
    temporary_stage(Drop16kStage)


def build(name: str, **params) -> Pipeline:
    return Pipeline.from_spec(parse_pipeline(
        {"aural": 1, "name": "t", "sample_rate": 48000, "stages": [{"stage": name, "params": params}]}))


def band_energy(audio: torch.Tensor, sample_rate: int, low_hz: float, high_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(audio.numpy(), axis=-1)) ** 2
    freqs = np.fft.rfftfreq(audio.shape[-1], 1 / sample_rate)
    return float(spectrum[..., (freqs >= low_hz) & (freqs < high_hz)].sum())


def wideband(seconds: float = 1.0, channels: int = 2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(3)
    noise = 0.05 * torch.randn(channels, int(48000 * seconds), generator=generator)
    return speech_like(seconds, 48000, num_channels=channels).audio + noise


def test_transparent_stage_passes_the_whole_band_exactly(stages):
    from aural.signal import Signal

    audio = wideband()
    out = build("test_gain16k", latency=77).process(Signal(audio, 48000))
    assert out.num_samples == audio.shape[1] and out.num_channels == 2
    assert torch.allclose(out.audio, audio, atol=1e-5)
    assert any("high_band" in entry for entry in out.history)


def test_without_keep_high_band_the_top_is_dropped(stages):
    from aural.signal import Signal

    audio = wideband()
    out = build("test_drop16k").process(Signal(audio, 48000)).audio
    assert band_energy(out, 48000, 9000, 20000) < 1e-4 * band_energy(audio, 48000, 9000, 20000)


@pytest.mark.parametrize("gain", [0.0, 0.25])
def test_bypassed_band_follows_the_stage_gain(stages, gain):
    from aural.signal import Signal

    audio = wideband()
    out = build("test_gain16k", gain=gain).process(Signal(audio, 48000)).audio
    steady = slice(4800, -4800)
    ratio = band_energy(out[:, steady], 48000, 9000, 20000) / band_energy(audio[:, steady], 48000, 9000, 20000)
    assert ratio == pytest.approx(gain ** 2, abs=1e-3)


@pytest.mark.parametrize("block", [1, 480, 1013, 48000])
def test_block_size_does_not_change_the_output(stages, block):
    audio = wideband(0.5, 1)
    whole = build("test_gain16k", gain=0.5, latency=9).plan(48000, 1)
    chunks = build("test_gain16k", gain=0.5, latency=9).plan(48000, 1)

    def run(steps, blocks):
        from aural.pipeline import _finish_all, _through

        return torch.cat([*(_through(steps, b) for b in blocks), _finish_all(steps, 1)], dim=1)

    expected = run(whole, [audio])
    got = run(chunks, [audio[:, i:i + block] for i in range(0, audio.shape[1], block)])
    assert got.shape == expected.shape == audio.shape
    assert torch.allclose(got, expected, atol=1e-6)


def test_follower_gains_are_one_for_equal_signals_and_capped():
    from aural.dsp.band_split import HighBandFollower

    follower = HighBandFollower(48000, 2, 4000.0)
    audio = wideband(0.2).numpy()
    assert np.all(follower.gains(audio, audio) == 1.0)
    louder = follower.gains(2 * audio, audio)
    assert np.all(louder == 1.0)                      # never boosts the bypassed band
    follower.reset()
    quiet = follower.gains(0.1 * audio[:, :4800], audio[:, :4800])
    assert quiet[-1] < 0.2 and np.all(np.diff(quiet) <= 1e-12)  # ramps down, no jump


def test_a_stream_starts_at_its_own_gain_not_at_one():
    from aural.dsp.band_split import HighBandFollower

    follower = HighBandFollower(48000, 1, 4000.0)
    audio = wideband(0.1).numpy()[:1]
    gains = follower.gains(0.01 * audio, audio)       # the stage took its top band 40 dB down
    assert np.all(gains[:follower.frame] < 0.02)      # from the first sample, not after ~60 ms


class Analysing16kStage(Gain16kStage):
    """Measures its input's peak in an analysis pass, then scales so that the peak becomes 0.5."""

    name = "test_analysing16k"
    needs_analysis = True

    def reset(self) -> None:
        super().reset()
        self.seen_samples, self.peak = 0, 0.0

    def analyze_block(self, audio: torch.Tensor) -> None:
        self.seen_samples += audio.shape[1]
        self.peak = max(self.peak, float(audio.abs().max()) if audio.numel() else 0.0)

    def process_block(self, audio: torch.Tensor) -> torch.Tensor:
        return super().process_block(audio) * (0.5 / self.peak)


def test_a_stage_with_an_analysis_pass_analyses_at_its_rate_and_keeps_the_high_band(temporary_stage):
    """The analysis pass sees the stream brought to the stage's rate; the band above it bypasses
    the stage, scaled by its gain, as for any stage."""
    from aural.signal import Signal

    temporary_stage(Analysing16kStage)
    audio = wideband()
    pipeline = build("test_analysing16k")
    out = pipeline.process(Signal(audio, 48000))
    stage = pipeline.stages[0]
    assert stage.seen_samples == pytest.approx(audio.shape[1] / 3, abs=2)
    gain = 0.5 / stage.peak
    steady = slice(4800, -4800)
    ratio = band_energy(out.audio[:, steady], 48000, 9000, 20000) / band_energy(audio[:, steady], 48000, 9000, 20000)
    assert ratio == pytest.approx(gain ** 2, rel=1e-2)
    assert any("high_band" in entry for entry in out.history)
