"""The contract every registered stage keeps, run automatically for each one."""

import pytest
import torch

from aural.errors import AuralError
from aural.signal import Signal
from aural.stages import STAGES
from aural.stages.base import iter_blocks
from aural.stems import Stems
from helpers import speech_like

LENGTHS = [1, 777, 70_001]


def make_stage(name):
    """The stage with its defaults; a learned stage without shipped weights gets an untrained
    network (its ``model_factory``), so the contract is checked all the same. A stage whose
    optional extra is missing here is skipped with the reason."""
    cls = STAGES.get(name)
    runs_here, reason = cls.available()
    if not runs_here:
        pytest.skip(f"{name}: {reason}")
    if not cls.learned:
        return cls()
    try:
        return cls(weights="default")
    except AuralError:
        return cls(model=cls.model_factory({}))


def rate_for(stage):
    return stage.contract.sample_rate or 48000


def signals_of(stage, out):
    """The output's signals: one, or for a stage that outputs stems each stem (checked to be the
    contract's stems)."""
    if stage.contract.output == "stems":
        assert isinstance(out, Stems) and out.names == stage.contract.stems
        return list(out.values())
    assert isinstance(out, Signal)
    return [out]


def audio_of(out):
    return torch.stack([sig.audio for sig in out.values()]) if isinstance(out, Stems) else out.audio


@pytest.mark.parametrize("name", STAGES.names())
@pytest.mark.parametrize("num_channels", [1, 2])
def test_output_matches_the_contract(name, num_channels):
    stage = make_stage(name)
    channels = stage.contract.channels or num_channels
    for length in LENGTHS:
        sig = speech_like(length / rate_for(stage), rate_for(stage), num_channels=channels, seed=length)
        before = sig.audio.clone()
        result = stage.process(sig)
        for out in signals_of(stage, result):
            assert (out.sample_rate, out.num_channels, out.num_samples) == (sig.sample_rate, channels, sig.num_samples)
            assert out.audio.dtype == torch.float32
            assert torch.isfinite(out.audio).all()
            assert out.history[-1]["step"] == name
        if isinstance(result, Stems):
            assert torch.allclose(result.mixture().audio, sig.audio, atol=1e-6), "stems must add up to the input"
        assert torch.equal(sig.audio, before), "process() must not modify its input"


@pytest.mark.parametrize("name", STAGES.names())
def test_streaming_in_odd_blocks_equals_whole_signal(name):
    stage = make_stage(name)
    sig = speech_like(2.0, rate_for(stage), num_channels=stage.contract.channels or 2)
    whole = audio_of(stage.process(sig))
    stage.configure(sig.sample_rate, sig.num_channels)
    if stage.needs_analysis:
        for block in iter_blocks(sig.audio, 4093):
            stage.analyze_block(block)
        stage.finish_analysis()
    parts = [stage.process_block(block) for block in iter_blocks(sig.audio, 4093)]
    parts.append(stage.flush())
    streamed = torch.cat(parts, dim=-1)[..., stage.latency_samples:stage.latency_samples + sig.num_samples]
    assert torch.allclose(streamed, whole, atol=1e-6)


@pytest.mark.parametrize("name", STAGES.names())
def test_silence_stays_finite_and_quiet(name):
    stage = make_stage(name)
    rate = rate_for(stage)
    out = audio_of(stage.process(Signal(torch.zeros(stage.contract.channels or 2, rate), rate)))
    assert torch.isfinite(out).all()
    assert out.abs().max() < 1e-3


@pytest.mark.parametrize("name", STAGES.names())
def test_stereo_stays_time_aligned(name):
    stage = make_stage(name)
    if stage.contract.channels == 1:
        pytest.skip("mono stage")
    rate = rate_for(stage)
    mono = speech_like(1.0, rate)
    out = audio_of(stage.process(Signal(mono.audio.repeat(2, 1), rate)))
    assert torch.allclose(out[..., 0, :], out[..., 1, :], atol=1e-6)


@pytest.mark.parametrize("name", STAGES.names())
def test_documented_params(name):
    from aural.params import param_specs

    cls = STAGES.get(name)
    assert cls.__doc__ and cls.__doc__.strip()
    for spec in param_specs(cls.Params):
        assert spec.help, f"{name}.{spec.name} has no help text"
