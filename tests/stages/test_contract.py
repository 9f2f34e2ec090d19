"""The contract every registered stage keeps, run automatically for each one."""

import pytest
import torch

from aural.errors import AuralError
from aural.signal import Signal
from aural.stages import STAGES
from aural.stages.base import iter_blocks
from helpers import speech_like

LENGTHS = [1, 777, 70_001]


def make_stage(name):
    """The stage with its defaults; a learned stage without shipped weights gets an untrained
    network (its ``model_factory``), so the contract is checked all the same."""
    cls = STAGES.get(name)
    if not cls.learned:
        return cls()
    try:
        return cls(weights="default")
    except AuralError:
        return cls(model=cls.model_factory({}))


def rate_for(stage):
    return stage.contract.sample_rate or 48000


@pytest.mark.parametrize("name", STAGES.names())
@pytest.mark.parametrize("num_channels", [1, 2])
def test_output_matches_the_contract(name, num_channels):
    stage = make_stage(name)
    channels = stage.contract.channels or num_channels
    for length in LENGTHS:
        sig = speech_like(length / rate_for(stage), rate_for(stage), num_channels=channels, seed=length)
        before = sig.audio.clone()
        out = stage.process(sig)
        assert isinstance(out, Signal)
        assert (out.sample_rate, out.num_channels, out.num_samples) == (sig.sample_rate, channels, sig.num_samples)
        assert out.audio.dtype == torch.float32
        assert torch.isfinite(out.audio).all()
        assert torch.equal(sig.audio, before), "process() must not modify its input"
        assert out.history[-1]["step"] == name


@pytest.mark.parametrize("name", STAGES.names())
def test_streaming_in_odd_blocks_equals_whole_signal(name):
    stage = make_stage(name)
    sig = speech_like(2.0, rate_for(stage), num_channels=stage.contract.channels or 2)
    whole = stage.process(sig).audio
    stage.configure(sig.sample_rate, sig.num_channels)
    if stage.needs_analysis:
        for block in iter_blocks(sig.audio, 4093):
            stage.analyze_block(block)
        stage.finish_analysis()
    parts = [stage.process_block(block) for block in iter_blocks(sig.audio, 4093)]
    parts.append(stage.flush())
    streamed = torch.cat(parts, dim=1)[:, stage.latency_samples:stage.latency_samples + sig.num_samples]
    assert torch.allclose(streamed, whole, atol=1e-6)


@pytest.mark.parametrize("name", STAGES.names())
def test_silence_stays_finite_and_quiet(name):
    stage = make_stage(name)
    rate = rate_for(stage)
    out = stage.process(Signal(torch.zeros(stage.contract.channels or 2, rate), rate))
    assert torch.isfinite(out.audio).all()
    assert out.audio.abs().max() < 1e-3


@pytest.mark.parametrize("name", STAGES.names())
def test_stereo_stays_time_aligned(name):
    stage = make_stage(name)
    if stage.contract.channels == 1:
        pytest.skip("mono stage")
    rate = rate_for(stage)
    mono = speech_like(1.0, rate)
    out = stage.process(Signal(mono.audio.repeat(2, 1), rate))
    assert torch.allclose(out.audio[0], out.audio[1], atol=1e-6)


@pytest.mark.parametrize("name", STAGES.names())
def test_documented_params(name):
    from aural.params import param_specs

    cls = STAGES.get(name)
    assert cls.__doc__ and cls.__doc__.strip()
    for spec in param_specs(cls.Params):
        assert spec.help, f"{name}.{spec.name} has no help text"
