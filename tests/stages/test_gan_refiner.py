"""gan_refiner: an untrained refiner passes its input, streaming, strength, training with a GAN phase."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from aural.signal import Signal
from aural.stages.gan_refiner.model import RefinerConfig, SpectralRefiner
from aural.stages.gan_refiner.stage import GanRefinerStage
from helpers import random_network, speech_like, stream_blocks

pytestmark = pytest.mark.usefixtures("one_thread")

RATE = 16000
SMALL = RefinerConfig(channels=16, dilations=(1, 2), chunk_frames=16, context_frames=4)


def random_model(seed: int = 0) -> SpectralRefiner:
    return random_network(lambda: SpectralRefiner(SMALL), seed, std=0.05)


def noisy(num_channels: int = 1, duration_s: float = 1.2) -> torch.Tensor:
    clean = speech_like(duration_s, RATE, num_channels, seed=3).audio
    return clean + 0.02 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(4))


def test_untrained_refiner_passes_its_input():
    audio = noisy(num_channels=2)
    out = GanRefinerStage(model=SpectralRefiner(SMALL)).process(Signal(audio, RATE)).audio
    torch.testing.assert_close(out, audio, rtol=0, atol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(SpectralRefiner(SMALL)(audio), audio, rtol=0, atol=1e-5)


@pytest.mark.parametrize("block", [100, 1537, 65536])
def test_blockwise_streaming_equals_whole_signal(block):
    audio = noisy(num_channels=2)
    stage = GanRefinerStage(model=random_model())
    whole = stage.process(Signal(audio, RATE)).audio
    torch.testing.assert_close(stream_blocks(stage, audio, RATE, block), whole, rtol=0, atol=1e-5)
    assert not torch.allclose(whole, audio, atol=1e-4), "a random refiner must change something"


def test_strength_is_a_dry_wet_mix():
    audio = noisy()
    model = random_model()
    wet = GanRefinerStage(model=model).process(Signal(audio, RATE)).audio
    half = GanRefinerStage(model=model, strength=0.5).process(Signal(audio, RATE)).audio
    assert torch.equal(GanRefinerStage(model=model, strength=0.0).process(Signal(audio, RATE)).audio, audio)
    torch.testing.assert_close(half, 0.5 * (audio + wet), rtol=0, atol=1e-5)


def test_smoke_training_through_the_gan_phase_then_save_and_load(tmp_path):
    from aural import weights
    from aural.stages.gan_refiner.task import build_task, weights_config
    from aural.train.recipe import builtin_recipe
    from aural.train.trainer import Trainer

    adversarial = {**builtin_recipe("gan_refiner").adversarial, "start_step": 1,
                   "discriminators": {"periods": [2], "period_channels": [4, 8], "fft_sizes": [256],
                                      "stft_channels": 4}}
    recipe = builtin_recipe("gan_refiner").replace(
        steps=2, batch_size=2, segment_samples=8192, model=SMALL.to_dict(), val_every=2, num_workers=0,
        adversarial=adversarial, task={"match_level": True, "front": "none"})
    task = build_task(recipe)
    clean = torch.stack([speech_like(8192 / RATE, RATE, 1, seed=s).audio for s in range(4)])
    data = torch.utils.data.TensorDataset(clean + 0.05 * torch.randn(clean.shape), clean)
    result = Trainer(task, data, tmp_path / "run", recipe.trainer_config(progress=False), val_data=data,
                     run_info={"weights_config": weights_config(task)}).fit()
    assert result.step == 2 and math.isfinite(result.last_metrics["stoi_approx/val"])
    assert "loss/disc/train" in (tmp_path / "run" / "log.jsonl").read_text()

    path = tmp_path / "refiner.safetensors"
    weights.save(path, task.model.state_dict(), weights_config(task))
    audio = noisy()
    loaded = GanRefinerStage(weights=str(path)).process(Signal(audio, RATE)).audio
    direct = GanRefinerStage(model=task.model).process(Signal(audio, RATE)).audio
    assert torch.equal(loaded, direct)


def test_front_stage_output_is_the_refiners_input():
    from aural.stages.gan_refiner.task import RefinerTask
    from aural.losses import build_loss

    class Halve(nn.Module):
        def forward(self, x):
            return 0.5 * x

    task = RefinerTask(SpectralRefiner(SMALL), build_loss([{"name": "l1"}]), front=Halve())
    degraded, clean = torch.ones(2, 1, 100), torch.zeros(2, 1, 100)
    restored, target = task.pair((degraded, clean))
    assert torch.equal(restored, 0.5 * degraded) and torch.equal(target, clean)


@pytest.mark.parametrize("front_weights", ["default", "dereverb"])
def test_the_front_runs_the_weights_the_recipe_names(front_weights):
    from aural import weights
    from aural.stages.gan_refiner.task import front_model
    from aural.stages.mel_unet.stage import MelUNetStage

    front = front_model("mel_unet", front_weights)
    expected, _, _ = weights.load_model("mel_unet", front_weights, MelUNetStage.model_factory)
    for (name, value), reference in zip(front.state_dict().items(), expected.state_dict().values()):
        assert torch.equal(value, reference), name
    assert not any(parameter.requires_grad for parameter in front.parameters())
    other, _, _ = weights.load_model("mel_unet", "dereverb" if front_weights == "default" else "default",
                                     MelUNetStage.model_factory)
    assert not all(torch.equal(a, b) for a, b in zip(front.state_dict().values(), other.state_dict().values()))


BAD_INPUTS = {
    "silence": lambda: torch.zeros(1, 32000),
    "dc": lambda: torch.full((1, 32000), 0.5),
    "tone_440hz": lambda: 0.5 * torch.sin(2 * math.pi * 440.0 * torch.arange(32000) / 16000)[None],
    "tone_3khz": lambda: 0.5 * torch.sin(2 * math.pi * 3000.0 * torch.arange(32000) / 16000)[None],
    "white_noise": lambda: 0.1 * torch.randn(1, 32000, generator=torch.Generator().manual_seed(0)),
    "clipped_speech": lambda: (speech_like(2.0, 16000, 1).audio * 30).clamp(-1, 1),
    "speech_at_-60_dbfs": lambda: 0.01 * speech_like(2.0, 16000, 1).audio,
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_shipped_weights_keep_bad_input_finite_and_near_its_level(name):
    """Measured 2026-12-04: level changes +0.4 dB (speech at -20 dBFS) to +2.1 dB (-60 dBFS);
    clipped speech +0.4 dB RMS (its peaks come back above full scale: the refiner restores
    them; the pipeline's master limits them); DC is taken down."""
    from aural import weights

    if "default" not in weights.read_manifest()["models"].get("gan_refiner", {}):
        pytest.skip("no shipped gan_refiner weights")
    audio = BAD_INPUTS[name]()
    out = GanRefinerStage().process(Signal(audio, 16000)).audio
    assert out.shape == audio.shape and torch.isfinite(out).all()
    if name == "silence":
        assert torch.equal(out, audio)
        return
    change_db = 20 * math.log10(float(out.pow(2).mean().sqrt()) / float(audio.pow(2).mean().sqrt()))
    assert change_db <= 2.5, change_db
    if name != "dc":
        assert change_db >= -1.0, change_db
    assert float(out.abs().max()) <= 1.5 * float(audio.abs().max())
