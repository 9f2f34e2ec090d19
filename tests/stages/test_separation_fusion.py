"""``separation`` with ``deepfilter_fusion``: the VoiceFusion network (a per-bin share between
the network's and DeepFilterNet3's voice), streamed, its training material and task."""

import numpy as np
import pytest
import torch

from aural.errors import WeightsError
from aural.stages.deepfilter import DeepFilterStage
from aural.stages.separation import SeparationStage, separate
from aural.stages.separation.fusion import VoiceFusion, VoiceFusionConfig, build_fusion
from aural.stages.separation.fusion_data import FusionMaterial, material_split
from aural.stages.separation.model import build_model
from aural.weights import read_manifest
from helpers import noisy_voice, run_cli, speech_like, streamed_in_blocks

RUNS_HERE, REASON = DeepFilterStage.available()
needs_libdf = pytest.mark.skipif(not RUNS_HERE, reason=f"deepfilter: {REASON}")
FUSION_SHIPPED = "fusion" in read_manifest()["models"].get("separation", {})
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model()


def varied_fusion(config: VoiceFusionConfig | None = None) -> VoiceFusion:
    """A fusion whose share varies from bin to bin (an untrained one is the fixed blend)."""
    torch.manual_seed(1)
    net = VoiceFusion(config)
    torch.nn.init.normal_(net.head.weight, std=0.5)
    if net.gain_head is not None:
        torch.nn.init.normal_(net.gain_head.weight, std=0.5)
        torch.nn.init.constant_(net.gain_head.bias, 0.0)
    return net.eval()


@pytest.fixture(scope="module")
def fusion():
    return varied_fusion()


def estimates(seconds: float = 1.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(3)
    voice = torch.sin(2 * np.pi * 220 * torch.arange(int(16000 * seconds)) / 16000)
    mixture = voice + 0.3 * torch.randn(voice.shape, generator=generator)
    return torch.stack([mixture, voice + 0.1 * torch.randn(voice.shape, generator=generator),
                        voice + 0.1 * torch.randn(voice.shape, generator=generator)]).unsqueeze(0)


def test_an_untrained_fusion_is_the_fixed_blend_of_the_two_estimates():
    stacked = estimates()
    with torch.no_grad():
        fused = VoiceFusion()(stacked)[0, 0]
    torch.testing.assert_close(fused, 0.3 * stacked[0, 1] + 0.7 * stacked[0, 2], rtol=0, atol=1e-5)


def test_the_fused_spectrum_lies_between_the_two_estimates(fusion):
    mixture, network, deepfilter = (torch.randn(2, 40, 257, dtype=torch.complex64) for _ in range(3))
    with torch.no_grad():
        share = fusion.share(mixture, network, deepfilter)
        fused = fusion.fuse(mixture, network, deepfilter)
    assert share.min() >= 0 and share.max() <= 1 and share.std() > 0.05
    assert ((fused - deepfilter).abs() <= (network - deepfilter).abs() + 1e-5).all()
    assert ((fused - network).abs() <= (network - deepfilter).abs() + 1e-5).all()


@pytest.mark.parametrize("time_dilations", [(), (1, 2, 4, 8)])
def test_a_chunk_with_its_context_gives_what_the_whole_spectrum_gives(time_dilations):
    """Per-frame normalisation and a known reach over frames per layer: streamable by chunks."""
    fusion = varied_fusion(VoiceFusionConfig(time_dilations=time_dilations))
    spectra = [torch.randn(1, 80, 257, dtype=torch.complex64) for _ in range(3)]
    context = fusion.config.context_frames
    assert context == (sum(time_dilations) or 4)
    with torch.no_grad():
        whole = fusion.share(*spectra)
        chunk = fusion.share(*(s[:, 20 - context:52 + context] for s in spectra))
    torch.testing.assert_close(chunk[:, context:-context], whole[:, 20:52], rtol=0, atol=1e-5)


def test_the_gain_head_scales_the_fused_estimate_down_and_starts_near_one():
    mixture, network, deepfilter = (torch.randn(2, 40, 257, dtype=torch.complex64) for _ in range(3))
    with torch.no_grad():
        untrained = VoiceFusion(VoiceFusionConfig(gain=True)).share_and_gain(mixture, network, deepfilter)[1]
        assert float(untrained.min()) > 0.997
        net = varied_fusion(VoiceFusionConfig(gain=True))
        share, gain = net.share_and_gain(mixture, network, deepfilter)
        fused = net.fuse(mixture, network, deepfilter)
    assert 0.0 <= float(gain.min()) and float(gain.max()) <= 1.0 and float(gain.std()) > 0.05
    torch.testing.assert_close(fused, gain * (deepfilter + share * (network - deepfilter)))


@pytest.mark.parametrize("gain", [False, True])
def test_onnxruntime_fuses_as_pytorch(monkeypatch, gain):
    pytest.importorskip("onnxruntime")
    from aural.stages.separation.fusion import FusedVoice

    net = varied_fusion(VoiceFusionConfig(gain=gain))
    fast = FusedVoice(net, share=0.7)
    monkeypatch.setenv("AURAL_ONNXRUNTIME", "0")
    plain = FusedVoice(net, share=0.7)
    assert (fast.inference_engine, plain.inference_engine) == ("onnxruntime", "torch")
    mixture, network, deepfilter = estimates(1.0)[0, :, None].unbind(0)
    outputs = []
    for fusion in (fast, plain):
        fusion.reset(1)
        voice = fusion.push(mixture, network, deepfilter)[0]
        outputs.append(torch.cat([voice, fusion.finish()[0]], dim=-1))
    assert outputs[1].abs().max() > 0.1
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=1e-5)


def test_the_config_round_trips_and_is_told_apart_from_voice_networks():
    config = VoiceFusionConfig(channels=8, dilations=(1, 2))
    assert config.context_frames == 2
    assert isinstance(build_model(config.to_dict()), VoiceFusion)
    assert build_fusion(config.to_dict()).config == config
    wide = VoiceFusionConfig(dilations=(1, 2), time_dilations=(2, 4))
    assert wide.context_frames == 6 and build_fusion(wide.to_dict()).config == wide


def test_time_dilations_need_one_per_layer():
    with pytest.raises(ValueError, match="one dilation"):
        VoiceFusionConfig(dilations=(1, 2), time_dilations=(1, 2, 4))


@needs_libdf
def test_fused_stems_stream_in_odd_blocks_as_the_whole_signal_and_sum_to_it(model, fusion):
    stage = SeparationStage(model=model, fusion=fusion, deepfilter_share=0.8, deepfilter_fusion=True)
    signal = noisy_voice(channels=2)
    whole = stage.process(signal)
    torch.testing.assert_close(whole.mixture().audio, signal.audio, rtol=0, atol=1e-6)
    streamed = streamed_in_blocks(stage, signal)
    torch.testing.assert_close(streamed[0], whole["voice"].audio, rtol=0, atol=1e-5)
    torch.testing.assert_close(streamed[1], whole["background"].audio, rtol=0, atol=1e-5)


@needs_libdf
def test_the_stage_fuses_as_the_network_does_offline(model, fusion):
    signal = noisy_voice(2.0)
    network, deepfilter = (separate(signal, model=model, deepfilter_share=s)["voice"].audio for s in (0.0, 1.0))
    stage = SeparationStage(model=model, fusion=fusion, deepfilter_share=0.6, deepfilter_fusion=True)
    voice = stage.process(signal)["voice"].audio
    # the fusion streams behind the network, so its frames sit the network's latency later
    late = torch.nn.functional.pad(torch.stack([signal.audio, network, deepfilter], dim=1),
                                   (stage._engine.latency_samples, 0))
    with torch.no_grad():
        fused = fusion(late)[:, 0, stage._engine.latency_samples:]
    expected = 0.4 * network + 0.6 * fused
    edge = 1024  # the stage mirrors the file's edges, the offline network pads zeros
    # the phase feature of near-empty bins turns 1e-8 differences of the estimates into 1e-4 (-60 dB)
    torch.testing.assert_close(voice[:, edge:-edge], expected[:, edge:-edge], rtol=0, atol=3e-4)


@needs_libdf
def test_strength_zero_gives_the_whole_input_to_the_voice(model, fusion):
    signal = noisy_voice(0.5)
    stage = SeparationStage(model=model, fusion=fusion, strength=0.0, deepfilter_share=1.0, deepfilter_fusion=True)
    torch.testing.assert_close(stage.process(signal)["voice"].audio, signal.audio, rtol=0, atol=1e-6)


@needs_libdf
def test_the_history_names_the_fusion_weights_and_engine(model):
    if not FUSION_SHIPPED:
        pytest.skip("no fusion preset shipped")
    stage = SeparationStage(model=model, deepfilter_share=1.0, deepfilter_fusion=True)
    fusion = stage.describe()["fusion"]
    assert fusion["weights"] == "fusion"
    assert fusion["sha256"] == read_manifest()["models"]["separation"]["fusion"]["sha256"]
    assert fusion["engine"] in ("onnxruntime", "torch")
    assert "fusion" not in SeparationStage(model=model, deepfilter_share=1.0).describe()


def test_fusion_weights_are_not_a_voice_network():
    if not FUSION_SHIPPED:
        pytest.skip("no fusion preset shipped")
    with pytest.raises(WeightsError, match="fusion.*deepfilter_fusion"):
        SeparationStage(weights="fusion")


@needs_libdf
def test_the_shipped_fusion_beats_the_fixed_blend_on_a_generated_voice_in_noise():
    if not FUSION_SHIPPED:
        pytest.skip("no fusion preset shipped")
    from aural.metrics.separation import si_sdr_db
    from aural.signal import Signal

    voice = speech_like(3.0, 16000)
    noise = 0.05 * torch.randn(voice.audio.shape, generator=torch.Generator().manual_seed(9))
    signal = Signal(voice.audio + noise, 16000)
    blend = separate(signal, deepfilter_share=0.7)["voice"].audio
    fused = separate(signal, deepfilter_share=1.0, deepfilter_fusion=True)["voice"].audio
    reference = voice.audio[0].numpy()
    assert si_sdr_db(reference, fused[0].numpy()) > si_sdr_db(reference, blend[0].numpy())


def write_material(folder, count: int = 4, samples: int = 8000):
    rng = np.random.default_rng(0)
    folder.mkdir()
    (folder / "fusion.json").write_text(f'{{"items": {count}, "seed": 0, "segment_s": {samples / 16000}, '
                                       '"voices": 1, "backgrounds": 1}')
    for index in range(count):
        voice = rng.standard_normal(samples).astype(np.float32) * 0.1
        noise = rng.standard_normal(samples).astype(np.float32) * 0.1
        np.savez(folder / f"{index:06d}.npz", mixture=voice + noise, voice=voice, network=voice + 0.5 * noise,
                 deepfilter=voice + 0.3 * noise)


def test_material_crops_are_three_estimates_and_the_voice_and_repeat(tmp_path):
    write_material(tmp_path / "m")
    files, val = material_split(tmp_path / "m", 0.5)
    assert len(files) + len(val) == 4
    data = FusionMaterial(files + val, segment_samples=4000, seed=2, num_items=8)
    estimates_, voice = data[5]
    assert estimates_.shape == (3, 4000) and voice.shape == (1, 4000)
    torch.testing.assert_close(data[5][0], estimates_)
    long_estimates, long_voice = FusionMaterial(files, segment_samples=9000)[0]  # files of 8000: padded
    assert long_voice.shape == (1, 9000) and long_estimates.shape == (3, 9000)
    assert long_voice[:, 8000:].abs().max() == 0 and long_voice[:, :8000].abs().max() > 0


def test_aural_train_separation_on_material_trains_the_fusion(tmp_path, capsys):
    write_material(tmp_path / "m", count=12)
    recipe = tmp_path / "fusion.yaml"
    recipe.write_text("stage: separation\nsteps: 2\nbatch_size: 2\nsegment_samples: 4000\nval_every: 2\n"
                      "checkpoint_every: 2\nlosses: [{name: si_sdr, weight: 1.0}]\n"
                      "model: {network: voice_fusion, channels: 4, dilations: [1, 2]}\n")
    code, _, err = run_cli(["train", "separation", "--data", str(tmp_path / "m"), "--val-data", str(tmp_path / "m"),
                            "--recipe", str(recipe), "--out", str(tmp_path / "run"), "--no-progress"], capsys)
    assert code == 0, err
    log = (tmp_path / "run" / "log.jsonl").read_text()
    assert "si_sdr_network/val" in log and "si_sdr_deepfilter_gain/val" in log


def test_fusion_without_a_share_is_a_validation_error_with_file_and_line(tmp_path, capsys):
    pipeline = tmp_path / "fused.yaml"
    pipeline.write_text("aural: 1\nname: fused\nstages:\n  - stage: separation\n    params:\n"
                        "      deepfilter_fusion: true\n")
    code, _, err = run_cli(["validate", str(pipeline)], capsys)
    assert code == 2 and "fused.yaml:6 stages[0].params.deepfilter_fusion: " in err and "deepfilter_share" in err


def test_fusion_material_with_a_voice_networks_recipe_is_a_one_line_error(tmp_path, capsys):
    write_material(tmp_path / "m", count=12)
    recipe = tmp_path / "voice.yaml"
    recipe.write_text("stage: separation\nsteps: 2\nbatch_size: 2\nsegment_samples: 4000\nval_every: 2\n"
                      "losses: [{name: si_sdr, weight: 1.0}]\n")
    code, _, err = run_cli(["train", "separation", "--data", str(tmp_path / "m"), "--val-data", str(tmp_path / "m"),
                            "--recipe", str(recipe), "--out", str(tmp_path / "run"), "--no-progress"], capsys)
    assert code == 2 and "does not suit this model" in err and "Traceback" not in err
