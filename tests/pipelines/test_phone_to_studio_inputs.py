"""`phone_to_studio` on awkward input: finite output at the pipeline's 48 kHz and the input's
duration, no pumping on steady signals, and never the input's speech quieter relative to its noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import phone_speech, speech_like, tone
from aural.signal import Signal

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]

FRAME_S = 0.1
OUTPUT_RATE = 48000


@pytest.fixture(scope="module")
def pipeline():
    from aural.pipeline import load_pipeline

    return load_pipeline("phone_to_studio")


def pink_noise(seconds: float, sample_rate: int, level_db: float, seed: int = 0) -> np.ndarray:
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(int(seconds * sample_rate)))
    spectrum /= np.sqrt(np.maximum(np.fft.rfftfreq(int(seconds * sample_rate), 1 / sample_rate), 20.0))
    noise = np.fft.irfft(spectrum, int(seconds * sample_rate))
    return noise * 10 ** (level_db / 20) / np.sqrt(np.mean(noise ** 2))


def frame_levels_db(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    frame = int(FRAME_S * sample_rate)
    frames = audio[: len(audio) // frame * frame].reshape(-1, frame)
    return 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-20)


def run(pipeline, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The pipeline's 48 kHz output of ``audio`` (mono)."""
    signal = Signal(torch.from_numpy(np.atleast_2d(audio).astype(np.float32)), sample_rate)
    out = pipeline.process(signal)
    assert out.sample_rate == OUTPUT_RATE and out.num_channels == signal.num_channels
    assert out.num_samples == round(signal.num_samples * OUTPUT_RATE / sample_rate)
    assert torch.isfinite(out.audio).all() and out.audio.abs().max() <= 1.0
    return out.audio[0].double().numpy()


def steady_spread_db(audio: np.ndarray, sample_rate: int) -> float:
    """Max minus min of the 100 ms levels, the first and last second left out (the limiter and
    loudness settle there)."""
    levels = frame_levels_db(audio, sample_rate)
    skip = int(round(1.0 / FRAME_S))
    return float(np.ptp(levels[skip:-skip]))


@pytest.mark.parametrize("name, make", [
    # Strict xfails until 2026-12-05: mel_unet took each far down with a residual that swung 5-13 dB from
    # one 100 ms to the next (and freq_expansion held the tone's onset band), which mastering lifted to
    # the loudness target. Now mel_unet's no_speech_limit_db (9 dB in phone_to_studio) floors its gains
    # where Silero VAD finds no speech in the input (benchmarks/results/steady_inputs.md).
    ("a pure tone", lambda: 0.1 * np.sin(2 * np.pi * 440.0 * np.arange(6 * 48000) / 48000)),
    ("pink noise only", lambda: pink_noise(6.0, 48000, -35.0)),
    ("a sustained chord", lambda: sum(0.05 * np.sin(2 * np.pi * f * np.arange(6 * 48000) / 48000)
                                      for f in (261.6, 329.6, 392.0, 523.3))),
])
def test_steady_input_comes_out_steady(pipeline, name, make):
    out = run(pipeline, make(), 48000)
    assert steady_spread_db(out, OUTPUT_RATE) < 3.0, (name, steady_spread_db(out, OUTPUT_RATE))


@pytest.mark.parametrize("name, make", [
    ("pink noise only", lambda: pink_noise(6.0, 48000, -35.0)),
    ("a sustained chord", lambda: sum(0.05 * np.sin(2 * np.pi * f * np.arange(6 * 48000) / 48000)
                                      for f in (261.6, 329.6, 392.0, 523.3))),
    ("a pure tone", lambda: 0.1 * np.sin(2 * np.pi * 440.0 * np.arange(6 * 48000) / 48000)),
])
def test_with_the_pause_gate_noise_alone_and_music_come_out_steady(name, make):
    """The remedy the README names for the three known failures above: mel_unet's pause gate."""
    from aural.pipeline import load_pipeline

    gated = load_pipeline("phone_to_studio", ["mel_unet.pause_attenuation_db=30"])
    out = run(gated, make(), 48000)
    assert steady_spread_db(out, OUTPUT_RATE) < 3.0, (name, steady_spread_db(out, OUTPUT_RATE))


def test_silence_stays_silent(pipeline):
    out = run(pipeline, np.zeros(2 * 48000), 48000)
    assert np.max(np.abs(out)) < 1e-4


@pytest.mark.parametrize("name, sample_rate, make", [
    # real speech: DeepFilterNet3 takes speech_like for noise at any level
    ("speech at -60 dBFS", 16000, lambda: phone_speech(-60.0, seconds=3.0).audio[0].numpy()),
    ("clipped speech", 16000, lambda: np.clip(speech_like(3.0, 16000, level_db=-6.0).audio[0].numpy() * 4, -0.5, 0.5)),
    ("8 kHz speech", 8000, lambda: speech_like(3.0, 8000).audio[0].numpy()),
    ("192 kHz speech", 192000, lambda: speech_like(1.5, 192000).audio[0].numpy()),
])
def test_awkward_speech_runs(pipeline, name, sample_rate, make):
    out = run(pipeline, make(), sample_rate)
    assert np.sqrt(np.mean(out ** 2)) > 1e-4, name  # mastering brings it up, not down to nothing


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_speech_never_ends_quieter_relative_to_its_noise(pipeline, snr_db):
    """Speech with pauses plus steady noise: the level of the frames holding speech over that of
    the pauses (noise alone) must not fall through the pipeline."""
    sample_rate = 16000
    speech = speech_like(6.0, sample_rate, seed=3, level_db=-26.0).audio[0].double().numpy()
    noisy = speech + pink_noise(6.0, sample_rate, -26.0 - snr_db, seed=4)
    out = run(pipeline, noisy, sample_rate)
    clean_levels = frame_levels_db(speech, sample_rate)
    speech_frames, pause_frames = clean_levels > clean_levels.max() - 20, clean_levels < -150
    assert speech_frames.sum() > 10 and pause_frames.sum() > 5

    def speech_over_pauses_db(audio: np.ndarray, rate: int) -> float:
        power = 10 ** (frame_levels_db(audio, rate) / 10)
        return float(10 * np.log10(power[speech_frames].mean() / power[pause_frames].mean()))

    before, after = speech_over_pauses_db(noisy, sample_rate), speech_over_pauses_db(out, OUTPUT_RATE)
    assert after >= before - 0.5, (before, after)


def test_mains_hum_20_db_under_the_speech_comes_out_30_db_lower(pipeline):
    """dehum runs first: a 50 Hz hum with 11 harmonics at -20 dB under the speech comes out 33 dB
    lower at its lines through the whole pipeline (mel_unet alone: 2.5 dB). Measured on the
    difference between the outputs with and without the hum (dehum passes hum-free audio bit for
    bit), within 2 Hz of each harmonic: DeepFilterNet3 and mel_unet respond to the hum's small
    remainder across the band too (the whole difference is 24 dB under the hum; without
    DeepFilterNet3, 29 dB), which the second bound watches."""
    from aural.degrade.mains import mains_wave
    from aural.systems.probe import voiced

    rate, seconds = 48000, 6
    voice = voiced(rate, seconds, seed=1).astype(np.float64)
    phases = np.random.default_rng(0).uniform(0, 2 * np.pi, 11)
    hum = mains_wave(0, seconds * rate, rate, 50.0, 0.6 ** np.arange(11), phases)
    hum *= np.sqrt(np.mean(voice ** 2) / np.mean(hum ** 2)) * 10 ** (-20 / 20)
    with_hum, without = run(pipeline, voice + hum, rate), run(pipeline, voice, rate)
    gain = np.sqrt(np.mean(voice ** 2) / np.mean(without ** 2))  # the mastering's gain, undone
    left = (with_hum - without) * gain
    frequencies = np.fft.rfftfreq(len(hum), 1 / rate)
    lines = np.min(np.abs(frequencies[:, None] - 50.0 * np.arange(1, 12)), axis=1) <= 2.0
    hum_power, left_power = (np.abs(np.fft.rfft(x)[lines]) ** 2 for x in (hum, left))
    assert 10 * np.log10(hum_power.sum() / left_power.sum()) >= 30.0
    assert 10 * np.log10(np.mean(hum ** 2) / np.mean(left ** 2)) >= 20.0


@pytest.mark.parametrize("sample_rate", [16000, 48000])
def test_a_noisy_files_first_and_last_20_ms_are_as_quiet_as_its_middle(pipeline, sample_rate):
    """Processed from the first sample to the last, the band above 8 kHz of 48 kHz input
    included (it used to start unprocessed: -15 dB in the first 20 ms against -49 dB later)."""
    from aural.systems.probe import voiced

    noisy = 0.03 * np.random.default_rng(0).standard_normal(4 * sample_rate)
    noisy[int(1.5 * sample_rate):int(2.5 * sample_rate)] += 0.3 * voiced(sample_rate, 1.0, seed=1)
    out = run(pipeline, noisy, sample_rate)
    edge = int(0.02 * OUTPUT_RATE)

    def level_db(part: np.ndarray) -> float:
        return float(10 * np.log10(np.mean(part ** 2) + 1e-20))

    pauses = [level_db(out[i:i + edge]) for start_s, end_s in ((0.3, 1.2), (2.8, 3.7))
              for i in range(int(start_s * OUTPUT_RATE), int(end_s * OUTPUT_RATE), edge)]
    assert level_db(out[:edge]) <= max(pauses) + 1.0, (level_db(out[:edge]), max(pauses))
    assert level_db(out[-edge:]) <= max(pauses) + 1.0, (level_db(out[-edge:]), max(pauses))


def test_a_48_khz_file_holding_a_phones_band_gets_its_top_band_generated_anew(pipeline):
    """freq_expansion's regenerate_above_hz: a 12 kHz band in a 48 kHz file is regenerated above 8 kHz,
    a full-band file keeps its own top band; the history says which."""
    import soxr

    full = speech_like(3.0, OUTPUT_RATE, seed=2).audio[0].double().numpy()
    limited = soxr.resample(soxr.resample(full, OUTPUT_RATE, 24000), 24000, OUTPUT_RATE)[:len(full)]
    for audio, regenerated in ((full, None), (limited, 8000.0)):
        out = pipeline.process(Signal(torch.from_numpy(audio[None].astype(np.float32)), OUTPUT_RATE))
        assert torch.isfinite(out.audio).all()
        expansion = next(step for step in out.history if step.get("step") == "freq_expansion")
        assert expansion["regenerated_above_hz"] == regenerated
