"""The separation trainer's mixtures: reproducible items whose voice sits in the mixture as the
target says, and the optional speed and EQ augmentation of their sources."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aural.signal import Signal
from aural.stages.separation.data import Augmentation, MixtureDataset
from helpers import run_cli, speech_like, write_audio

SAMPLE_RATE = 16000


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    voices = [write_audio(root / f"v{i}.wav", speech_like(3.0, SAMPLE_RATE, seed=i)) for i in range(3)]
    rng = np.random.default_rng(0)
    backgrounds = [write_audio(root / f"n{i}.wav", Signal(torch.from_numpy(
        (0.05 * rng.standard_normal((1, 3 * SAMPLE_RATE))).astype("float32")), SAMPLE_RATE)) for i in range(2)]
    return voices, backgrounds


def dataset(sources, augment: bool) -> MixtureDataset:
    voices, backgrounds = sources
    return MixtureDataset(voices, backgrounds, segment_samples=SAMPLE_RATE, seed=5, num_items=12, augment=augment)


def peak_hz(audio: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE)[np.argmax(spectrum)])


def test_a_speed_change_moves_the_pitch_and_keeps_the_length():
    tone = np.sin(2 * np.pi * 1000.0 * np.arange(int(1.2 * SAMPLE_RATE)) / SAMPLE_RATE)
    for speed in (0.9, 1.1):
        out = Augmentation(speed=speed, eq=None).apply(tone, SAMPLE_RATE, SAMPLE_RATE)
        assert out.shape == (SAMPLE_RATE,)
        assert peak_hz(out) == pytest.approx(1000.0 * speed, abs=2.0)
    assert np.array_equal(Augmentation(speed=1.0, eq=None).apply(tone, SAMPLE_RATE, SAMPLE_RATE), tone)


def test_the_eq_colours_without_moving_or_lengthening():
    from aural.degrade.eq import Equalizer

    noise = np.random.default_rng(1).standard_normal(SAMPLE_RATE)
    eq = Equalizer(tilt_db_per_octave=(3.0, 3.0), num_bells=(0, 0)).draw(np.random.default_rng(0), {})
    out = Augmentation(speed=1.0, eq=eq).apply(noise, SAMPLE_RATE, SAMPLE_RATE)
    assert out.shape == noise.shape
    assert np.corrcoef(out, noise)[0, 1] > 0.5                       # aligned, not shifted
    highs_over_lows_out, highs_over_lows_in = (np.abs(np.fft.rfft(x))[4000:7000].mean()
                                               / np.abs(np.fft.rfft(x))[100:400].mean() for x in (out, noise))
    assert 20 * np.log10(highs_over_lows_out / highs_over_lows_in) > 10.0  # +3 dB/octave tilts the top up


def test_items_are_reproducible_with_and_without_augmentation(sources):
    plain, augmented = dataset(sources, False), dataset(sources, True)
    differ = 0
    for index in range(len(plain)):
        mixture, voice, record = plain.item(index)
        again, voice_again, _ = dataset(sources, False).item(index)
        assert torch.equal(mixture, again) and torch.equal(voice, voice_again)
        mixed, target, facts = augmented.item(index)
        assert torch.equal(mixed, dataset(sources, True).item(index)[0])
        for mix, clean, drawn in ((mixture, voice, record), (mixed, target, facts)):
            if np.isfinite(drawn["snr_db"]):  # the target sits in the mixture at the drawn ratio
                ratio_db = 10 * np.log10(float(clean.double().pow(2).sum() / (mix - clean).double().pow(2).sum()))
                assert ratio_db == pytest.approx(drawn["snr_db"], abs=0.05)
        assert mixed.shape == mixture.shape == target.shape == (1, SAMPLE_RATE)
        assert torch.isfinite(mixed).all() and mixed.abs().max() < 1.0
        differ += not torch.equal(mixed, mixture)
    assert differ >= len(plain) - 2  # a few items draw no change at all


def test_a_stage_whose_data_does_not_take_augment_refuses_it(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("base: builtin\nstage: mel_unet\nsteps: 2\ndata: {augment: true}\n")
    write_audio(tmp_path / "speech" / "a.wav", speech_like(2.0, SAMPLE_RATE))
    code, _, err = run_cli(["train", "mel_unet", "--data", str(tmp_path / "speech"), "--recipe", str(recipe),
                            "--out", str(tmp_path / "run")], capsys)
    assert code == 2 and "data.augment" in err and "only separation's does" in err
    assert not (tmp_path / "run" / "last.safetensors").exists()
