"""The complex-mask network of ``separation``: stems, streaming, config checks, and that it learns."""

import pytest
import torch

from aural.losses.time import si_sdr
from aural.signal import Signal
from aural.stages.separation import SeparationStage, separate
from aural.stages.separation.complex_mask import ComplexMaskConfig, ComplexMaskNet
from aural.stages.separation.model import build_model
from aural.systems.probe import voiced
from helpers import speech_like

SMALL = {"network": "complex_mask", "channels": 32, "dilations": [1, 2, 4], "context_frames": 7, "chunk_frames": 16}


def random_net(**options) -> ComplexMaskNet:
    """A small complex-mask net whose output layer is random (an untrained one is a fixed mask)."""
    torch.manual_seed(0)
    net = build_model({**SMALL, **options})
    torch.nn.init.normal_(net.output.weight, std=0.05)
    return net.eval()


def test_the_config_names_the_network():
    assert isinstance(build_model({"network": "complex_mask"}), ComplexMaskNet)
    with pytest.raises(ValueError, match="unknown separation network 'tasnet'"):
        build_model({"network": "tasnet"})


def test_context_must_cover_the_receptive_radius():
    assert ComplexMaskConfig(dilations=(1, 2, 4), context_frames=7).receptive_radius == 7
    with pytest.raises(ValueError, match=r"context_frames \(6\) must cover the receptive radius \(7 frames\)"):
        ComplexMaskConfig(dilations=(1, 2, 4), context_frames=6)
    with pytest.raises(ValueError, match="max_gain"):
        ComplexMaskConfig(max_gain=0.5)


@pytest.mark.parametrize("rate, channels", [(16000, 1), (48000, 2), (8000, 1)])
def test_stems_add_up_to_the_input(rate, channels):
    sig = speech_like(1.2, rate, num_channels=channels, seed=2)
    stems = separate(sig, model=random_net())
    assert (stems.sample_rate, stems.num_channels, stems.num_samples) == (rate, channels, sig.num_samples)
    assert torch.isfinite(stems["voice"].audio).all() and torch.isfinite(stems["background"].audio).all()
    assert torch.allclose(stems.mixture().audio, sig.audio, atol=1e-6)


def test_the_mask_is_complex_and_bounded():
    net = random_net(max_gain=1.5)
    torch.nn.init.normal_(net.output.weight, std=1.0)  # saturate: |M| near its bound
    spec = torch.randn(2, 40, 257, dtype=torch.complex64)
    with torch.no_grad():
        mask = net.gains(spec)
    assert mask.is_complex() and mask.shape == spec.shape
    assert float(mask.abs().max()) <= 1.5 + 1e-6 and float(mask.abs().max()) > 1.4
    assert float(mask.angle().abs().max()) > 3.0   # phase free: it can turn a bin around


def test_an_untrained_net_is_a_fixed_mask_with_finite_stems():
    net = build_model({**SMALL, "initial_gain": 0.5})
    sig = speech_like(1.0, 16000, seed=3)
    stems = separate(sig, model=net)
    assert torch.isfinite(stems["voice"].audio).all()
    assert torch.allclose(stems["voice"].audio, 0.5 * sig.audio, atol=1e-5)
    assert torch.allclose(stems["background"].audio, 0.5 * sig.audio, atol=1e-5)
    silent = separate(Signal(torch.zeros(1, 8000), 16000), model=net)
    assert silent["voice"].audio.abs().max() == 0


def test_streaming_in_odd_blocks_equals_whole_signal():
    stage = SeparationStage(model=random_net())
    sig = speech_like(1.5, 16000, num_channels=2)
    whole = stage.process(sig)
    stage.configure(16000, 2)
    parts = [stage.process_block(sig.audio[:, i:i + 1237]) for i in range(0, sig.num_samples, 1237)]
    parts.append(stage.flush())
    streamed = torch.cat(parts, dim=-1)[..., stage.latency_samples:stage.latency_samples + sig.num_samples]
    assert torch.allclose(streamed[0], whole["voice"].audio, atol=1e-6)
    assert torch.allclose(streamed[1], whole["background"].audio, atol=1e-6)


@pytest.mark.parametrize("context_frames, matches", [(7, True), (3, False)])
def test_chunked_stage_equals_the_whole_file_network(context_frames, matches):
    """Chunks of 16 frames with context covering the radius give what the network gives on the
    whole file (away from its edges, where the stage mirrors the signal and training pads zeros);
    too little context (forced past the config check) does not."""
    net = random_net()
    object.__setattr__(net.config, "context_frames", context_frames)
    sig = speech_like(2.0, 16000, seed=5)
    stems = separate(sig, model=net)
    with torch.no_grad():
        whole = net(sig.audio[None])[0]
    margin = (net.config.receptive_radius + 4) * net.config.hop_length
    difference = (stems["voice"].audio - whole)[:, margin:-margin].abs().max()
    assert (difference < 1e-5) == matches


def voice_in_noise(seed: int, seconds: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(voice, voice + noise)`` at 0 dB: a generated voice in slightly coloured generated noise."""
    voice = torch.from_numpy(voiced(16000, seconds, seed=seed))
    noise = torch.randn(voice.shape[0], generator=torch.Generator().manual_seed(seed))
    noise = torch.nn.functional.conv1d(noise[None, None], torch.ones(1, 1, 3) / 3, padding=1)[0, 0]
    noise *= voice.pow(2).mean().sqrt() / noise.pow(2).mean().sqrt()
    return voice, voice + noise


def test_a_few_optimisation_steps_raise_the_si_sdr_of_unseen_mixtures():
    torch.manual_seed(0)
    net = build_model({**SMALL, "dilations": [1, 2], "context_frames": 3})
    voices, mixtures = (torch.stack(part) for part in zip(*(voice_in_noise(seed) for seed in range(4))))
    test_voice, test_mixture = voice_in_noise(100)

    def gain_db() -> float:
        with torch.no_grad():
            return float(si_sdr(net(test_mixture[None])[0], test_voice) - si_sdr(test_mixture, test_voice))

    assert abs(gain_db()) < 1e-3   # an untrained net is a real fixed mask: SI-SDR unchanged
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(20):
        loss = -si_sdr(net(mixtures), voices).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert gain_db() > 2.0


def test_smoke_training_with_the_complex_recipe_then_save_and_load(tmp_path):
    """The shipped recipe builds the complex-mask task; two steps train, and the saved weights
    (config from ``weights_config``) load into the stage and separate as the trained net does."""
    import math
    from pathlib import Path

    from aural import weights
    from aural.stages.separation.task import build_task, weights_config
    from aural.train.recipe import load_recipe
    from aural.train.trainer import Trainer

    recipe = load_recipe(Path(__file__).parents[2] / "scripts" / "recipes" / "separation_complex.yaml")
    assert recipe.model["network"] == "complex_mask"
    recipe = recipe.replace(steps=2, batch_size=2, segment_samples=8192, val_every=2, num_workers=0,
                            model={**recipe.model, **SMALL})
    task = build_task(recipe)
    assert isinstance(task.model, ComplexMaskNet) and weights_config(task)["architecture"] == "ComplexMaskNet"
    voices, mixtures = (torch.stack(part)[:, None, :8192] for part in zip(*(voice_in_noise(s) for s in range(4))))
    data = torch.utils.data.TensorDataset(mixtures, voices)
    result = Trainer(task, data, tmp_path / "run", recipe.trainer_config(progress=False), val_data=data,
                     run_info={"weights_config": weights_config(task)}).fit()
    assert result.step == 2 and math.isfinite(result.last_metrics["si_sdr/val"])

    path = tmp_path / "complex.safetensors"
    weights.save(path, task.model.state_dict(), weights_config(task))
    sig = speech_like(1.0, 16000, seed=6)
    loaded = separate(sig, weights=str(path))["voice"].audio
    assert torch.equal(loaded, separate(sig, model=task.model)["voice"].audio)
