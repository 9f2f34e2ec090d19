"""freq_expansion: cutoff tracking, the kept band, streaming, strength, bad input, training, weights."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch
from torch import nn

from aural.signal import Signal
from aural.stages.freq_expansion.cutoff import FullBandShare, detect_cutoff_hz
from aural.stages.freq_expansion.data import FILTERS, band_limit
from aural.stages.freq_expansion.model import STRONGEST_BINS, BandwidthExtender, FreqExpansionConfig
from aural.stages.freq_expansion.stage import FreqExpansionStage
from helpers import random_network, speech_like, stream_blocks, tone

pytestmark = pytest.mark.usefixtures("one_thread")

RATE = 48000
SMALL = FreqExpansionConfig(channels=16, dilations=(1, 2), chunk_frames=16, context_frames=8)


def random_model(seed: int = 0, bias: float = -1.0) -> BandwidthExtender:
    model = random_network(lambda: BandwidthExtender(SMALL), seed, std=0.1)
    nn.init.constant_(model.output.bias, bias)
    return model


def full_band(duration_s: float = 2.0, num_channels: int = 1, seed: int = 1) -> torch.Tensor:
    """Speech-like harmonics plus breath noise over the whole band, at -20 dBFS."""
    return speech_like(duration_s, RATE, num_channels, seed=seed).audio


def lowpass(audio: torch.Tensor, cutoff_hz: float) -> torch.Tensor:
    low_rate = int(2 * cutoff_hz)
    x = audio.numpy().T
    y = soxr.resample(soxr.resample(x, RATE, low_rate), low_rate, RATE)[: x.shape[0]]
    return torch.from_numpy(np.ascontiguousarray(y.T)).float().reshape(audio.shape)


def band_power_db(audio: torch.Tensor, lo_hz: float, hi_hz: float) -> float:
    """Mean power per bin between two frequencies, in dB."""
    return float(10 * np.log10(np.mean(10 ** (band_db(audio, lo_hz, hi_hz) / 10))))


def band_db(audio: torch.Tensor, lo_hz: float, hi_hz: float) -> np.ndarray:
    """Per-bin level in dB (long-term, 4096-point Welch) between two frequencies."""
    from scipy.signal import welch

    freqs, power = welch(audio.numpy(), fs=RATE, nperseg=4096)
    keep = (freqs >= lo_hz) & (freqs < hi_hz)
    return 10 * np.log10(power[..., keep] + 1e-30)


@pytest.mark.parametrize("cutoff_hz", [4000, 5500, 8000, 11000, 12000, 16000])
def test_cutoff_is_detected_at_each_listed_band(cutoff_hz):
    detected = detect_cutoff_hz(lowpass(full_band(), cutoff_hz), RATE)
    assert 0.9 * cutoff_hz <= detected <= 1.02 * cutoff_hz


@pytest.mark.parametrize("kind", FILTERS)
def test_cutoff_is_detected_after_every_training_filter(kind):
    audio = full_band()[0].numpy()
    limited = band_limit(audio, 8000.0, kind, np.random.default_rng(0))
    detected = detect_cutoff_hz(torch.from_numpy(limited)[None], RATE)
    assert 7200 <= detected <= 10000, kind


@pytest.mark.parametrize("make", [lambda: full_band(), lambda: torch.zeros(1, RATE),
                                  lambda: tone(1000.0, 2.0).audio, lambda: 0.1 * torch.randn(1, 2 * RATE)])
def test_full_band_silence_and_low_tones_have_no_cutoff(make):
    assert detect_cutoff_hz(make(), RATE) == RATE / 2


def test_cutoff_is_found_at_once_when_a_stream_starts_mid_signal():
    """A crop that starts on loud samples: the partial first frames must not blind the tracker."""
    from aural.stages.freq_expansion.model import BandwidthExtender

    t = torch.arange(2 * RATE) / RATE
    tone_stack = sum(torch.sin(2 * math.pi * 200 * k * t + k) / k for k in range(1, 60))
    audio = lowpass(0.1 * tone_stack[None] + 0.01 * torch.randn(1, 2 * RATE), 8000)[:, 1000:]  # starts at full level
    model = BandwidthExtender(SMALL)
    spec, _, _ = model.analyse(audio)
    cutoff_hz = model.track_cutoff(spec)[0].float() * RATE / SMALL.n_fft
    settled = cutoff_hz[3:-4]   # the first whole frame on; the last frames reach past the end
    assert float(settled.max()) <= 8200 and float(settled.min()) >= 7000, cutoff_hz[:40].tolist()


def test_tracker_leaves_a_streams_mirrored_lead_in_out():
    """The stream's frames reaching into its made-up start get no cutoff and never reach the
    tracker: a 2.1 kHz tone (below the tracker's floor) has no cutoff from its first frame on."""
    from aural.nn.spectral import hann_window, stft
    from aural.nn.streaming import spectral_lead_in_samples
    from aural.stages.freq_expansion.cutoff import CutoffTracker

    stage = FreqExpansionStage(model=random_model())
    config = stage.model.config
    seen = []
    stage._transform.transform = lambda spec, cutoff: seen.append(cutoff) or spec
    audio = 0.5 * torch.sin(2 * math.pi * 2100 * torch.arange(RATE) / RATE)
    stage.process(Signal(audio[None], RATE))
    assert (seen[0] == config.n_fft // 2 + 1).all()  # the first windows: the lead-in and the first chunk

    lead_in = spectral_lead_in_samples(config)
    mirrored = torch.cat([audio[1:lead_in + 1].flip(0), audio])  # the even mirror: a kink at the first sample
    padded = torch.nn.functional.pad(mirrored, (config.n_fft - config.hop_length, 0))
    spec = stft(padded[None], config.n_fft, config.hop_length, hann_window(config.n_fft))
    kinked = CutoffTracker(RATE, config.n_fft, config.hop_length, config.cutoff)(spec.real.pow(2) + spec.imag.pow(2))
    assert (kinked < config.n_fft // 2 + 1).any()  # shown the lead-in, it reads the kink as a band-limited onset


def test_cutoff_follows_a_codec_switch_halfway():
    audio = full_band(8.0)
    switched = torch.cat([lowpass(audio[:, :4 * RATE], 8000), lowpass(audio[:, 4 * RATE:], 4000)], dim=1)
    assert 7200 <= detect_cutoff_hz(switched[:, :4 * RATE], RATE) <= 8200
    assert 3600 <= detect_cutoff_hz(switched, RATE) <= 4200


def full_band_share(audio: torch.Tensor, block: int | None = None) -> float | None:
    meter = FullBandShare(RATE)
    for start in range(0, audio.shape[1], block or audio.shape[1]):
        meter.push(audio[:, start:start + (block or audio.shape[1])])
    return meter.share


def test_full_band_share_tells_full_band_from_band_limited_audio_whatever_the_blocks():
    audio = full_band(2.0, num_channels=2)
    assert full_band_share(audio) == 1.0
    for cutoff_hz in (4000, 8000, 11000, 16000):
        assert full_band_share(lowpass(audio, cutoff_hz)) == 0.0
    audio = full_band(8.0)
    switched = torch.cat([audio[:, :4 * RATE], lowpass(audio[:, 4 * RATE:], 8000)], dim=1)
    share = full_band_share(switched)  # the tracker's peak hold takes a moment to let the top band go
    assert 0.5 < share < 0.75
    assert full_band_share(switched, block=1001) == share
    assert full_band_share(torch.zeros(1, RATE)) is None  # digital silence: nothing to judge


def test_regenerate_above_keeps_a_full_band_input_as_it_is():
    audio = full_band(num_channels=2)
    stage = FreqExpansionStage(model=random_model(bias=0.5), regenerate_above_hz=8000.0)
    assert stage.needs_analysis and not FreqExpansionStage(model=random_model()).needs_analysis
    torch.testing.assert_close(stage.process(Signal(audio, RATE)).audio, audio, rtol=0, atol=1e-6)
    assert stage.describe()["input_full_band_share"] == 1.0 and stage.describe()["regenerated_above_hz"] is None


def test_regenerate_above_drops_a_band_limited_inputs_top_band_and_keeps_the_band_below():
    """Content to 12 kHz: what lies above 8 kHz goes (a network that adds next to nothing leaves
    that band empty), the band below stays within 0.1 dB; the decision is made anew per input."""
    limited = lowpass(full_band(num_channels=2), 12000)
    stage = FreqExpansionStage(model=random_model(bias=-12.0), regenerate_above_hz=8000.0)
    out = stage.process(Signal(limited, RATE)).audio
    assert stage.describe()["input_full_band_share"] == 0.0 and stage.describe()["regenerated_above_hz"] == 8000.0
    assert np.abs(band_db(out, 100, 7000) - band_db(limited, 100, 7000)).max() < 0.1
    assert band_power_db(out, 8600, 11400) < band_power_db(limited, 8600, 11400) - 40.0
    full = full_band(num_channels=2)
    torch.testing.assert_close(stage.process(Signal(full, RATE)).audio, full, rtol=0, atol=1e-6)
    assert stage.describe()["regenerated_above_hz"] is None


@pytest.mark.parametrize("block", [100, 65536])
def test_regenerating_streams_as_it_runs_whole(block):
    limited = lowpass(full_band(1.5, num_channels=2), 12000)
    stage = FreqExpansionStage(model=random_model(), regenerate_above_hz=8000.0)
    whole = stage.process(Signal(limited, RATE)).audio
    stage.configure(RATE, 2)
    stage.reset()
    for start in range(0, limited.shape[1], block):
        stage.analyze_block(limited[:, start:start + block])
    assert stage.finish_analysis() is False
    parts = [stage.process_block(limited[:, i:i + block]) for i in range(0, limited.shape[1], block)]
    streamed = torch.cat([*parts, stage.flush()], dim=1)[:, stage.latency_samples:][:, :limited.shape[1]]
    torch.testing.assert_close(streamed, whole, rtol=0, atol=1e-6)


@pytest.mark.parametrize("cutoff_hz", [4000, 8000, 11000])
def test_existing_band_is_kept_below_the_cutoff(cutoff_hz):
    limited = lowpass(full_band() + tone(1000.0, 2.0, amplitude=0.05).audio, cutoff_hz)
    out = FreqExpansionStage(model=random_model()).process(Signal(limited, RATE)).audio
    difference = band_db(out, 100, 0.9 * cutoff_hz) - band_db(limited, 100, 0.9 * cutoff_hz)
    assert np.abs(difference).max() < 0.1
    added = band_db(out, 1.1 * cutoff_hz, 20000).mean() - band_db(limited, 1.1 * cutoff_hz, 20000).mean()
    assert added > 20.0, "the missing band must be generated, not left empty"


def test_full_band_input_passes_unchanged():
    audio = full_band(num_channels=2)
    out = FreqExpansionStage(model=random_model(bias=0.5)).process(Signal(audio, RATE)).audio
    torch.testing.assert_close(out, audio, rtol=0, atol=1e-6)


@pytest.mark.parametrize("block", [100, 4093, 65536])
def test_blockwise_streaming_equals_whole_signal(block):
    audio = lowpass(full_band(1.5, num_channels=2), 8000)
    stage = FreqExpansionStage(model=random_model())
    whole = stage.process(Signal(audio, RATE)).audio
    torch.testing.assert_close(stream_blocks(stage, audio, RATE, block), whole, rtol=0, atol=1e-6)


def expanded_at(audio: torch.Tensor, model, **params) -> dict[str, torch.Tensor]:
    """The stage's output for each named set of params (``name=dict(...)``), one model."""
    return {name: FreqExpansionStage(model=model, **values).process(Signal(audio, RATE)).audio
            for name, values in params.items()}


def test_strength_scales_only_the_generated_band():
    audio = lowpass(full_band(), 8000)
    out = expanded_at(audio, random_model(), full={}, half={"strength": 0.5}, none={"strength": 0.0})
    assert torch.equal(out["none"], audio)
    torch.testing.assert_close(out["half"] - audio, 0.5 * (out["full"] - audio), rtol=0, atol=1e-6)


def test_strength_below_8khz_scales_only_the_band_generated_below_8khz():
    limited = lowpass(full_band(), 4000)
    out = expanded_at(limited, random_model(), full={}, quiet_low={"strength_below_8khz": 0.0},
                      halved={"strength_below_8khz": 0.5})
    full, quiet_low, halved = out["full"], out["quiet_low"], out["halved"]
    assert band_db(full, 4800, 7500).mean() - band_db(limited, 4800, 7500).mean() > 20.0
    assert band_db(full, 4800, 7500).mean() - band_db(quiet_low, 4800, 7500).mean() > 60.0  # nothing added
    assert 4.0 < band_db(full, 4800, 7500).mean() - band_db(halved, 4800, 7500).mean() < 8.0   # about 6 dB
    assert np.abs(band_db(quiet_low, 8500, 20000) - band_db(full, 8500, 20000)).max() < 0.5


def test_predicted_level_is_bounded_relative_to_the_existing_band():
    """However the network is driven, the new band stays near the level of the old one."""
    audio = lowpass(full_band(), 4000)
    out = FreqExpansionStage(model=random_model(bias=50.0)).process(Signal(audio, RATE)).audio
    generated = band_power_db(out, 4400, 24000)
    existing = band_power_db(audio, 200, 4000)
    assert generated <= existing + SMALL.max_level_db + 1.0


def test_a_pure_tone_gets_no_burst_however_the_network_is_driven():
    """The per-bin ceiling alone let a tone's band reach +17 dB (its mean bin power is low); the
    band limit counts only the in-band power outside the strongest bins, which a tone lacks."""
    audio = 0.5 * torch.sin(2 * math.pi * 3000.0 * torch.arange(2 * RATE) / RATE)[None]
    audio[:, :480] *= torch.linspace(0.0, 1.0, 480)  # a steady tone: no clicks at its ends (a click is broad)
    audio[:, -480:] *= torch.linspace(1.0, 0.0, 480)
    out = FreqExpansionStage(model=random_model(bias=50.0)).process(Signal(audio, RATE)).audio
    steady = slice(RATE // 10, 2 * RATE - RATE // 10)
    added = (out - audio)[:, steady]
    assert float(added.pow(2).mean().sqrt()) <= 0.03 * float(audio[:, steady].pow(2).mean().sqrt())  # -30 dB


@pytest.mark.parametrize("cutoff_hz, limit_db", [(4000.0, 38.0), (8000.0, 24.0), (16000.0, 10.0)])
def test_band_limit_keeps_a_broad_band_and_holds_it_to_the_limit_of_its_cutoff(cutoff_hz, limit_db):
    model = BandwidthExtender(SMALL)
    bin_hz = RATE / SMALL.n_fft
    cutoff = torch.tensor([[int(round(cutoff_hz / bin_hz))]])
    limit_db -= SMALL.band_limit_db_per_octave * math.log2(int(cutoff) * bin_hz / cutoff_hz)  # whole bins
    power = torch.zeros(1, 1, model.num_bins)
    power[..., model.reference_low_bin:cutoff] = 1.0                   # broad, like a fricative
    broad = float(power.sum()) - STRONGEST_BINS
    generated = torch.zeros_like(power)
    generated[..., cutoff:] = broad * 10 ** ((limit_db - 1.0) / 10) / (model.num_bins - int(cutoff))
    assert float(model.band_limit_scale(power, cutoff, generated)) == pytest.approx(1.0)
    louder = model.band_limit_scale(power, cutoff, generated * 100.0)  # 20 dB over: back to the limit
    assert 20 * math.log10(float(louder)) == pytest.approx(-19.0, abs=0.01)


BAD_INPUTS = {
    "silence": lambda: torch.zeros(1, RATE),
    "dc": lambda: torch.full((1, RATE), 0.5),
    "tone": lambda: tone(440.0, 1.0).audio,
    "white_noise_band_limited": lambda: lowpass(0.1 * torch.randn(1, RATE), 8000),
    "clipped": lambda: lowpass(full_band(1.0) * 30, 8000).clamp(-1, 1),
    "switching_codec": lambda: torch.cat([lowpass(full_band(2.0)[:, :RATE], 8000),
                                          lowpass(full_band(2.0)[:, RATE:], 4000)], dim=1),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_gives_finite_output_without_bursts(name):
    audio = BAD_INPUTS[name]()
    out = FreqExpansionStage(model=random_model(bias=0.5)).process(Signal(audio, RATE)).audio
    assert torch.isfinite(out).all()
    input_rms = float(audio.pow(2).mean().sqrt())
    assert float((out - audio).pow(2).mean().sqrt()) <= 3.2 * input_rms + 1e-9  # +10 dB at most
    if name == "silence":
        assert torch.equal(out, audio)


def test_pipeline_expands_8_khz_mono_and_44_1_khz_stereo(tmp_path):
    from aural.config import PipelineSpec, StageSpec
    from aural.pipeline import Pipeline

    for rate, channels in ((8000, 1), (44100, 2)):
        audio = speech_like(1.0, rate, channels).audio
        stage = FreqExpansionStage(model=random_model())
        spec = PipelineSpec("expand", (StageSpec("freq_expansion", stage.params),), sample_rate=RATE)
        pipeline = Pipeline(spec, [stage])
        out = pipeline.process(Signal(audio, rate))
        assert (out.sample_rate, out.num_channels) == (RATE, channels)
        assert torch.isfinite(out.audio).all()


def test_missing_band_loss_is_zero_at_the_target_and_ignores_the_kept_band():
    from aural.stages.freq_expansion.model import LOG_FLOOR
    from aural.stages.freq_expansion.task import missing_band_mse

    power = torch.rand(2, 5, 513) + 0.1
    cutoff = torch.full((2, 5), 200)
    target = torch.log10(power + LOG_FLOOR)
    assert float(missing_band_mse(target, power, cutoff)) == pytest.approx(0.0, abs=1e-10)
    wrong_below = target.clone()
    wrong_below[..., :200] += 3.0
    assert float(missing_band_mse(wrong_below, power, cutoff)) == pytest.approx(0.0, abs=1e-10)
    wrong_above = target.clone()
    wrong_above[..., 200:] += 1.0
    assert float(missing_band_mse(wrong_above, power, cutoff)) == pytest.approx(1.0, rel=1e-5)


def test_missing_band_loss_ignores_what_lies_above_a_references_known_band():
    from aural.stages.freq_expansion.model import LOG_FLOOR
    from aural.stages.freq_expansion.task import missing_band_mse

    power = torch.rand(2, 5, 513) + 0.1
    predicted = torch.log10(power + LOG_FLOOR)
    predicted[..., 400:] += 2.0                       # wrong only above bin 400
    cutoff = torch.full((2, 5), 200)
    assert float(missing_band_mse(predicted, power, cutoff, torch.tensor([400.0, 400.0]))) == pytest.approx(0.0, abs=1e-10)
    assert float(missing_band_mse(predicted, power, cutoff, torch.tensor([400.0, 513.0]))) > 0.5


def test_items_know_how_far_up_their_source_holds_content(tmp_path):
    """A 44.1 kHz source ends at ~20 kHz once upsampled; a 48 kHz one low-passed at 20 kHz, there."""
    from aural.stages.freq_expansion.data import BandLimitDataset

    audio = full_band(2.0)
    sf.write(tmp_path / "cd.flac", soxr.resample(audio[0].numpy(), RATE, 44100), 44100)
    sf.write(tmp_path / "studio.flac", audio[0].numpy(), RATE)
    sf.write(tmp_path / "dat.flac", lowpass(audio, 20000)[0].numpy(), RATE)
    for name, low_hz, high_hz in (("cd", 19800, 19900), ("studio", 23900, 24000), ("dat", 19000, 20500)):
        limited, clean, known = BandLimitDataset([tmp_path / f"{name}.flac"], segment_samples=4800, num_items=1)[0]
        assert low_hz <= float(known) <= high_hz and limited.shape == clean.shape == (1, 4800), name
        _, _, whole = BandLimitDataset([tmp_path / f"{name}.flac"], segment_samples=4800, num_items=1,
                                       known_band=False)[0]
        assert float(whole) == RATE / 2, name  # data.known_band: false scores the whole band


def test_known_band_is_a_recipe_data_key_of_freq_expansion_only(tmp_path, capsys):
    from helpers import run_cli, write_audio

    write_audio(tmp_path / "speech" / "a.wav", speech_like(2.0, 16000))
    recipe = tmp_path / "r.yaml"
    recipe.write_text("base: builtin\nstage: mel_unet\nsteps: 2\ndata: {known_band: false}\n")
    code, _, err = run_cli(["train", "mel_unet", "--data", str(tmp_path / "speech"), "--recipe", str(recipe),
                            "--out", str(tmp_path / "run")], capsys)
    assert code == 2 and "data.known_band" in err and "only freq_expansion's does" in err


def test_two_step_smoke_training_then_save_and_load_give_identical_output(tmp_path):
    from aural import weights
    from aural.stages.freq_expansion.data import BandLimitDataset
    from aural.stages.freq_expansion.task import build_task, weights_config
    from aural.train.recipe import builtin_recipe
    from aural.train.trainer import Trainer
    from helpers import write_audio

    for seed in range(3):
        write_audio(tmp_path / "clean" / f"{seed}.flac", speech_like(1.5, RATE, 1, seed=seed))
    files = sorted((tmp_path / "clean").glob("*.flac"))
    recipe = builtin_recipe("freq_expansion").replace(steps=2, batch_size=2, segment_samples=12000,
                                                      model=SMALL.to_dict(), val_every=2, num_workers=0)
    task = build_task(recipe)
    train = BandLimitDataset(files, segment_samples=12000, num_items=8)
    val = BandLimitDataset(files, segment_samples=24000, num_items=2, damage=False)
    result = Trainer(task, train, tmp_path / "run", recipe.trainer_config(progress=False), val_data=val,
                     run_info={"weights_config": weights_config(task)}).fit()
    assert result.step == 2 and math.isfinite(result.last_metrics["lsd/val"])
    assert "lsd_input/val" in result.last_metrics

    path = tmp_path / "fe.safetensors"
    weights.save(path, task.model.state_dict(), weights_config(task))
    audio = lowpass(full_band(1.0), 8000)
    loaded = FreqExpansionStage(weights=str(path)).process(Signal(audio, RATE)).audio
    direct = FreqExpansionStage(model=task.model).process(Signal(audio, RATE)).audio
    assert torch.equal(loaded, direct)


def test_a_file_listed_twice_is_drawn_about_twice_as_often(tmp_path):
    from collections import Counter

    from aural.stages.freq_expansion.data import BandLimitDataset, list_files
    from helpers import write_audio

    for name in ("once", "twice"):
        write_audio(tmp_path / f"{name}.flac", speech_like(0.5, RATE, 1, seed=len(name)))
    (tmp_path / "train.txt").write_text("once.flac\ntwice.flac\ntwice.flac\n")
    dataset = BandLimitDataset(list_files(tmp_path / "train.txt"), segment_samples=4800, num_items=300)
    drawn = Counter(Path(dataset.item(i)[2]["source"]).stem for i in range(300))
    assert drawn == {"once": 100, "twice": 200}


@pytest.mark.parametrize("kind", FILTERS)
def test_training_filters_remove_the_band_above_the_cutoff(kind):
    audio = (0.1 * torch.randn(2 * RATE, generator=torch.Generator().manual_seed(0))).numpy()
    limited = torch.from_numpy(band_limit(audio, 8000.0, kind, np.random.default_rng(1)))[None]
    passband = band_db(limited, 1000, 6000).mean()
    stopband = band_db(limited, 12000, 20000).mean()
    assert passband - stopband > 40.0, kind


def test_replicated_phase_is_finite_for_subnormal_and_zero_bins():
    """A decay into silence leaves subnormal bins, whose complex sign can overflow to inf."""
    from aural.stages.freq_expansion.model import replicated_phase

    for value in (complex(1e-39, 1e-39), 0.0):
        for frames in (1, 3, 8):
            spec = torch.full((1, frames, 513), value, dtype=torch.complex64)
            unit = replicated_phase(spec, torch.full((1, frames), 171))
            assert torch.isfinite(torch.view_as_real(unit)).all(), (value, frames)
    spec = torch.zeros(1, 1, 513, dtype=torch.complex64)
    spec[0, 0, :171] = complex(0.3, -0.4)
    unit = replicated_phase(spec, torch.tensor([[171]]))
    assert torch.allclose(unit[0, 0, 171:], torch.full((342,), complex(0.6, -0.8)), atol=1e-6)


SHIPPED_PRESETS = ("default", "music")


def skip_unless_shipped(preset: str) -> None:
    from aural import weights

    if preset not in weights.read_manifest()["models"].get("freq_expansion", {}):
        pytest.skip(f"no shipped freq_expansion weights {preset!r}")


@pytest.mark.parametrize("preset", SHIPPED_PRESETS)
def test_shipped_weights_lower_lsd_of_a_band_limited_harmonic_signal(preset):
    from aural.metrics.spectral import log_spectral_distance

    skip_unless_shipped(preset)
    reference = full_band(3.0, seed=4)
    limited = lowpass(reference, 8000)
    out = FreqExpansionStage(weights=preset).process(Signal(limited, RATE)).audio
    before = log_spectral_distance(reference[0].numpy(), limited[0].numpy(), RATE)
    after = log_spectral_distance(reference[0].numpy(), out[0].numpy(), RATE)
    assert after < before - 0.2, (before, after)


SHIPPED_TONES = {
    "tone_2khz": lambda t: 0.5 * np.sin(2 * np.pi * 2000 * t),
    "fax_2100hz": lambda t: 0.5 * np.sin(2 * np.pi * 2100 * t),
    "tone_3khz": lambda t: 0.5 * np.sin(2 * np.pi * 3000 * t),
    "tone_4khz": lambda t: 0.5 * np.sin(2 * np.pi * 4000 * t),
    "dtmf": lambda t: 0.25 * np.sin(2 * np.pi * 941 * t) + 0.25 * np.sin(2 * np.pi * 1477 * t),
    "whistle_vibrato": lambda t: 0.3 * np.sin(2 * np.pi * 2500 * t + 3 * np.sin(2 * np.pi * 5 * t)),
    "fax_with_faint_noise": lambda t: (0.5 * np.sin(2 * np.pi * 2100 * t)
                                       + 0.001 * np.random.default_rng(0).standard_normal(t.size)),
}


# (whole file, worst 100 ms) bounds on what the stage adds, dB re the input. A 4 kHz tone sits above
# the tracker's 3.5 kHz floor and reads as content cut off at 4.4 kHz: it gets a steady band 24.8 dB
# down (measured 2026-12-04), the band limit's allowance for so little in-band power beyond the
# tone's own bins. The others are below the floor (nothing to expand) or, with the faint noise,
# full band; before the tracker left the mirrored lead-in out, its kink at the first sample gave
# them a band in their first second (worst 100 ms: -15 dB for the fax tone with faint noise,
# -24 to -26 dB for the plain fax tone, the 2 kHz tone and the whistle).
ADDED_BOUNDS_DB = {"tone_4khz": (-24.0, -24.0)}


@pytest.mark.parametrize("preset", SHIPPED_PRESETS)
@pytest.mark.parametrize("name", sorted(SHIPPED_TONES))
def test_shipped_weights_add_no_burst_to_tones(name, preset):
    skip_unless_shipped(preset)
    audio = torch.from_numpy(SHIPPED_TONES[name](np.arange(3 * RATE) / RATE)).float()[None]
    out = FreqExpansionStage(weights=preset).process(Signal(audio, RATE)).audio
    added_db = 20 * math.log10(float((out - audio).pow(2).mean().sqrt()) / float(audio.pow(2).mean().sqrt()))
    worst_100ms_db = 20 * math.log10(float((out - audio)[0, : 30 * 4800].reshape(30, 4800).pow(2).mean(1).sqrt().max())
                                     / float(audio.pow(2).mean().sqrt()))
    whole_bound_db, worst_bound_db = ADDED_BOUNDS_DB.get(name, (-45.0, -40.0))
    assert added_db <= whole_bound_db, added_db
    assert worst_100ms_db <= worst_bound_db, worst_100ms_db


@pytest.mark.parametrize("change, key", [({"adversarial": {"start_step": 100}}, "adversarial"),
                                         ({"losses": ({"name": "l1", "weight": 1.0},)}, "losses")])
def test_a_recipe_asking_for_what_the_stage_does_not_train_is_refused(change, key):
    from aural.errors import ConfigError
    from aural.stages.freq_expansion.task import build_task
    from aural.train.recipe import Recipe

    recipe = Recipe(stage="freq_expansion", model={"channels": 16, "dilations": [1, 2]}, source="r.yaml")
    build_task(recipe)
    with pytest.raises(ConfigError, match=f"r.yaml {key}: freq_expansion"):
        build_task(recipe.replace(**change))
