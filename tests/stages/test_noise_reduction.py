"""noise_reduction: overlap-add exactness, streaming, strength, training smoke test, weights."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from helpers import random_network, speech_like
from aural.signal import Signal
from aural.stages.noise_reduction.model import ConvAutoencoder, ConvAutoencoderConfig, overlap_add_forward
from aural.stages.noise_reduction.stage import NoiseReductionStage

pytestmark = pytest.mark.usefixtures("one_thread")


SMALL = ConvAutoencoderConfig(channels=(4, 8), kernel_size=8, stride=4, bottleneck_layers=1, window_samples=2048)
SMALL_MASK = ConvAutoencoderConfig(output="mask", basis_size=16, basis_kernel=32, channels=(4, 8), kernel_size=8,
                                   stride=4, bottleneck_layers=1, window_samples=2048)


class Identity(nn.Module):
    def forward(self, x):
        return x.clone()


class Half(nn.Module):
    def forward(self, x):
        return 0.5 * x


def random_model(seed: int = 0) -> ConvAutoencoder:
    return random_network(lambda: ConvAutoencoder(SMALL), seed)


def noisy_input(num_channels: int = 1, duration_s: float = 1.3) -> torch.Tensor:
    clean = speech_like(duration_s, 16000, num_channels, seed=1).audio
    return clean + 0.05 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(2))


def stream(stage: NoiseReductionStage, audio: torch.Tensor, block: int) -> torch.Tensor:
    stage.configure(16000, audio.shape[0])
    parts = [stage.process_block(audio[:, i:i + block]) for i in range(0, audio.shape[1], block)]
    parts.append(stage.flush())
    out = torch.cat(parts, dim=1)
    return out[:, stage.latency_samples:stage.latency_samples + audio.shape[1]]


@pytest.mark.parametrize("num_samples", [1, 1023, 2048, 20001])
def test_identity_model_overlap_add_reproduces_input(num_samples):
    audio = torch.randn(2, num_samples)
    out = NoiseReductionStage(model=Identity()).process(Signal(audio, 16000)).audio
    assert out.shape == audio.shape
    torch.testing.assert_close(out, audio, rtol=0, atol=1e-6)


def test_linear_model_has_no_boundary_ripple():
    audio = noisy_input()
    out = NoiseReductionStage(model=Half()).process(Signal(audio, 16000)).audio
    torch.testing.assert_close(out, 0.5 * audio, rtol=0, atol=1e-6)


@pytest.mark.parametrize("block", [1, 777, 4096, 65536])
def test_blockwise_streaming_equals_whole_signal(block):
    audio = noisy_input(num_channels=2, duration_s=0.6 if block == 1 else 1.3)
    stage = NoiseReductionStage(model=random_model())
    whole = stage.process(Signal(audio, 16000)).audio
    torch.testing.assert_close(stream(stage, audio, block), whole, rtol=0, atol=1e-5)


def test_stage_equals_overlap_add_forward_used_in_validation():
    audio = noisy_input()
    model = random_model()
    whole = NoiseReductionStage(model=model).process(Signal(audio, 16000)).audio
    with torch.no_grad():
        reference = overlap_add_forward(model, audio, 2048)
    torch.testing.assert_close(whole, reference, rtol=0, atol=1e-5)


def test_strength_zero_returns_input_exactly_and_half_mixes():
    audio = noisy_input(num_channels=2)
    assert torch.equal(NoiseReductionStage(model=random_model(), strength=0.0).process(Signal(audio, 16000)).audio, audio)
    wet = NoiseReductionStage(model=random_model()).process(Signal(audio, 16000)).audio
    half = NoiseReductionStage(model=random_model(), strength=0.5).process(Signal(audio, 16000)).audio
    torch.testing.assert_close(half, 0.5 * (audio + wet), rtol=0, atol=1e-5)


def test_channels_are_independent_and_input_untouched():
    mono = noisy_input()
    other = torch.randn_like(mono)
    stereo = torch.cat([mono, other])
    kept = stereo.clone()
    stage = NoiseReductionStage(model=random_model())
    out_stereo = stage.process(Signal(stereo, 16000)).audio
    out_mono = stage.process(Signal(mono, 16000)).audio
    torch.testing.assert_close(out_stereo[:1], out_mono, rtol=0, atol=1e-5)
    assert torch.equal(stereo, kept)
    assert stage.latency_samples == 2047


def test_untrained_residual_model_is_close_to_identity():
    torch.manual_seed(0)
    audio = noisy_input()
    out = NoiseReductionStage(model=ConvAutoencoder(SMALL)).process(Signal(audio, 16000)).audio
    error_db = 10 * math.log10(float((out - audio).pow(2).mean() / audio.pow(2).mean()))
    assert -80 < error_db < -15  # near the input, but not stuck exactly on it


def test_mask_output_scales_the_filterbank_frames():
    with pytest.raises(ValueError, match="basis_kernel"):
        ConvAutoencoderConfig(output="mask", basis_kernel=31)
    assert SMALL_MASK.total_stride == 16 * 4 ** 2
    model = ConvAutoencoder(SMALL_MASK).eval()
    window = noisy_input()[:, :2048].unsqueeze(0)
    last = model.decoder[-1][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(-50.0)          # mask 0: nothing passes
        silent = model(window)
        last.bias.fill_(50.0)           # mask 1: the filterbank pair alone
        passed = model(window)
        half = model.config.basis_kernel // 2
        frames = torch.relu(model.analysis(nn.functional.pad(window, (half, half))))[..., :2048 // half]
        expected = model.synthesis(frames)[..., half:half + 2048]
    assert silent.shape == window.shape and float(silent.abs().max()) < 1e-12
    assert torch.allclose(passed, expected, atol=1e-6)


@pytest.mark.parametrize("config", [SMALL, SMALL_MASK], ids=["residual", "mask"])
def test_two_step_smoke_training_then_save_and_load_give_identical_output(tmp_path, config):
    from aural import weights
    from aural.stages.noise_reduction.task import build_task, weights_config
    from aural.train.recipe import builtin_recipe
    from aural.train.trainer import Trainer

    recipe = builtin_recipe("noise_reduction").replace(
        steps=2, batch_size=2, segment_samples=4096, model={**config.to_dict()}, val_every=2)
    task = build_task(recipe)
    clean = torch.stack([speech_like(4096 / 16000, 16000, 1, seed=s).audio for s in range(4)])
    noisy = clean + 0.05 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
    data = torch.utils.data.TensorDataset(noisy, clean)
    result = Trainer(task, data, tmp_path / "run", recipe.trainer_config(progress=False), val_data=data,
                     run_info={"weights_config": weights_config(task)}).fit()
    assert result.step == 2 and math.isfinite(result.last_metrics["loss/val"])

    path = tmp_path / "nr.safetensors"
    weights.save(path, task.model.state_dict(), weights_config(task))
    audio = noisy_input()
    loaded = NoiseReductionStage(weights=str(path)).process(Signal(audio, 16000)).audio
    direct = NoiseReductionStage(model=task.model).process(Signal(audio, 16000)).audio
    assert torch.equal(loaded, direct)
    # the training checkpoint itself also loads as weights
    from_checkpoint = NoiseReductionStage(weights=str(tmp_path / "run" / "last.safetensors"))
    assert torch.equal(from_checkpoint.process(Signal(audio, 16000)).audio, direct)


def test_shipped_weights_improve_snr_of_a_noisy_tone_plus_speech_like_signal():
    """The default weights (a denoiser) raise the SNR of tone plus speech-like audio in white
    noise at 0, 5 and 10 dB (measured 2026-11-21: +5.3, +4.1, +2.8 dB)."""
    from aural import weights
    from aural.train.task import snr_db

    if "default" not in weights.read_manifest()["models"].get("noise_reduction", {}):
        pytest.skip("no shipped noise_reduction weights yet")
    clean = speech_like(3.0, 16000, 1, seed=5).audio
    t = torch.arange(clean.shape[1]) / 16000
    clean = clean + 0.03 * torch.sin(2 * math.pi * 220 * t)
    generator = torch.Generator().manual_seed(0)
    stage = NoiseReductionStage()
    gains = []
    for snr in (0.0, 5.0, 10.0):
        noise = torch.randn(clean.shape, generator=generator)
        noise = noise * clean.pow(2).mean().sqrt() / noise.pow(2).mean().sqrt() * 10 ** (-snr / 20)
        noisy = clean + noise
        out = stage.process(Signal(noisy, 16000)).audio
        gains.append(float(snr_db(out[None], clean[None]) - snr_db(noisy[None], clean[None])))
    assert min(gains) > 1.5, gains
    assert sum(gains) / len(gains) > 3.0, gains
