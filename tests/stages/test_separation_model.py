"""The separation model factory: the weights' config picks the network; the MelUNet weights
load and separate as they did before the complex-mask network came."""

import pytest
import torch

from aural import weights
from aural.errors import WeightsError
from aural.signal import Signal
from aural.stages.mel_unet.model import MelUNet
from aural.stages.separation import SeparationStage, separate
from aural.stages.separation.model import build_model
from aural.stages.separation.task import weights_config
from aural.train.task import EnhancementTask
from helpers import separation_preset_shipped, speech_like


def test_no_network_key_is_the_melunet():
    assert isinstance(build_model(), MelUNet)
    assert isinstance(build_model({"network": "mel_unet"}), MelUNet)
    assert "network" not in build_model().config.to_dict()  # the MelUNet's saved config stays as it was


@pytest.mark.parametrize("config, architecture", [({}, "MelUNet"), ({"network": "complex_mask"}, "ComplexMaskNet")])
def test_weights_config_names_the_architecture(config, architecture):
    model = build_model(config)
    task = EnhancementTask(model, loss=None, model_config=model.config.to_dict())
    assert weights_config(task)["architecture"] == architecture
    assert type(build_model(weights_config(task)["model"])) is type(model)


def test_weights_of_another_network_are_a_clear_error(tmp_path):
    net = build_model({"network": "complex_mask", "channels": 16, "dilations": [1], "context_frames": 1})
    path = tmp_path / "mislabelled.safetensors"
    weights.save(path, net.state_dict(), {"stage": "separation", "sample_rate": 16000, "model": {}})
    with pytest.raises(WeightsError, match="weights do not fit the separation model"):
        SeparationStage(weights=str(path))


@pytest.mark.skipif(not separation_preset_shipped(), reason="no separation preset shipped")
def test_shipped_melunet_weights_separate_as_before():
    """Numbers recorded with the shipped preset (sha256 e121fd71..., exported 2026-12-04; the
    check dates from the complex-mask network's arrival, commit 85ad7f2): a change to the
    MelUNet path shows here as a different voice stem. New weights need new numbers."""
    stage = SeparationStage(weights="default")
    assert isinstance(stage.model, MelUNet)
    voice = speech_like(1.5, 16000, seed=4).audio
    noise = 0.03 * torch.randn(voice.shape, generator=torch.Generator().manual_seed(4))
    separated = separate(Signal(voice + noise, 16000))["voice"].audio[0]
    assert float(separated.pow(2).mean().sqrt()) == pytest.approx(0.0983409, abs=1e-5)
    recorded = [-0.0048686, -0.1993363, 0.0015363, 0.0713669, -0.0018328, 0.0000168, 0.009381, -0.0024403,
                -0.0673853, -0.0063801]
    assert separated[1000::2500].tolist() == pytest.approx(recorded, abs=2e-5)
