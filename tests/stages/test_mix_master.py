"""The mix_master stage: loudness and true peak on target, EQ and de-esser, streaming, edges."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest
import scipy.signal
import torch

from aural.dsp.filters import highpass, peaking, response
from aural.errors import StageError
from aural.params import ParamError, build_params
from aural.signal import Signal
from aural.stages import get_stage
from aural.stages.base import iter_blocks
from aural.stages.mix_master import PRESETS, MixMasterParams, MixMasterStage
from helpers import speech_like, tone


def loudness(signal: Signal) -> float:
    return pyloudnorm.Meter(signal.sample_rate).integrated_loudness(signal.audio.double().numpy().T)


def oversampled_peak_db(signal: Signal, factor: int) -> float:
    """Independent true-peak reading: scipy's polyphase resampler."""
    up = scipy.signal.resample_poly(signal.audio.double().numpy(), factor, 1, axis=-1)
    return 20 * math.log10(np.abs(up).max())


def test_registered_with_presets_that_set_the_targets():
    assert get_stage("mix_master") is MixMasterStage and MixMasterStage.needs_analysis
    assert PRESETS == {"podcast": (-16.0, -1.0), "streaming": (-14.0, -1.0), "broadcast": (-23.0, -1.0)}
    assert build_params(MixMasterParams, {}).target(2) == (-16.0, -1.0)
    assert build_params(MixMasterParams, {}).target(1) == (-19.0, -1.0)  # mono plays on both earpieces
    assert build_params(MixMasterParams, {"preset": "broadcast"}).target(1) == (-23.0, -1.0)
    assert build_params(MixMasterParams, {"preset": "streaming", "true_peak_db": -2.0}).target(2) == (-14.0, -2.0)
    assert build_params(MixMasterParams, {"target_lufs": -18.0}).target(1) == (-18.0, -1.0)
    with pytest.raises(ParamError) as error:
        build_params(MixMasterParams, {"preset": "cinema"})
    assert error.value.key == "preset"


@pytest.mark.parametrize("preset", ["podcast", "streaming", "broadcast"])
@pytest.mark.parametrize("level_db, sample_rate", [(-38.0, 48000), (-18.0, 44100), (-6.0, 48000)])
def test_speech_comes_out_on_loudness_target_under_the_true_peak_ceiling(preset, level_db, sample_rate):
    signal = speech_like(4.0, sample_rate, num_channels=2, seed=21, level_db=level_db)
    stage = MixMasterStage(preset=preset)
    out = stage.process(signal)
    target_lufs, ceiling_db = PRESETS[preset]
    assert loudness(out) == pytest.approx(target_lufs, abs=0.5)
    for factor in (4, 8):
        assert oversampled_peak_db(out, factor) <= ceiling_db
    record = out.history[-1]
    assert record["step"] == "mix_master" and record["target_lufs"] == target_lufs
    assert record["measured_lufs"] == pytest.approx(loudness(signal), abs=0.5)  # the 80 Hz high-pass


@pytest.mark.parametrize("preset, mono_lufs", [("podcast", -19.0), ("broadcast", -23.0)])
def test_the_podcast_preset_masters_mono_3_lu_under_stereo(preset, mono_lufs):
    """A mono file plays on both earpieces, so podcasts master it at -19 LUFS where stereo gets
    -16; EBU R128 keeps one target."""
    mono = speech_like(4.0, 48000, num_channels=1, seed=21, level_db=-30.0)
    out = MixMasterStage(preset=preset).process(mono)
    assert loudness(out) == pytest.approx(mono_lufs, abs=0.2)
    assert out.history[-1]["target_lufs"] == mono_lufs
    stereo = MixMasterStage(preset=preset).process(Signal(mono.audio.repeat(2, 1), 48000))
    assert loudness(stereo) == pytest.approx(PRESETS[preset][0], abs=0.2)


def test_custom_targets_and_a_loud_music_like_signal():
    rng = np.random.default_rng(3)
    n = 5 * 48000
    dense = scipy.signal.lfilter(scipy.signal.firwin(255, 12000, fs=48000), 1, rng.standard_normal((2, n)))
    signal = Signal(torch.from_numpy((0.3 * dense).astype(np.float32)), 48000)
    out = MixMasterStage(target_lufs=-11.0, true_peak_db=-0.5).process(signal)
    assert loudness(out) == pytest.approx(-11.0, abs=0.5)
    assert oversampled_peak_db(out, 8) <= -0.5


def stream(stage, signal, block):
    stage.configure(signal.sample_rate, signal.num_channels)
    analysing = True
    while analysing:
        for part in iter_blocks(signal.audio, block):
            stage.analyze_block(part)
        analysing = stage.finish_analysis()
    parts = [stage.process_block(part) for part in iter_blocks(signal.audio, block)]
    parts.append(stage.flush())
    return torch.cat(parts, dim=1)[:, stage.latency_samples:stage.latency_samples + signal.num_samples]


@pytest.mark.parametrize("settings", [{}, {"preset": "streaming", "presence_db": 4.0, "high_shelf_db": 3.0,
                                           "low_shelf_db": -2.0, "deess_db": 6.0},
                                      {"highpass_hz": 90.0, "highpass_when": "rumble"},
                                      {"highpass_hz": 90.0, "highpass_phase": "linear"}])
@pytest.mark.parametrize("block", [61, 4093])
def test_block_wise_output_equals_whole_signal(settings, block):
    signal = speech_like(0.6 if block == 61 else 3.0, 48000, num_channels=2, seed=block, level_db=-14)
    stage = MixMasterStage(**settings)
    whole = stage.process(signal).audio
    assert torch.allclose(stream(stage, signal, block), whole, rtol=0, atol=1e-6)


@pytest.mark.parametrize("highpass_phase", ["minimum", "linear"])
def test_stereo_impulse_stays_aligned(highpass_phase):
    audio = torch.zeros(2, 48000)
    audio[:, 24000] = torch.tensor([0.5, -0.25])
    out = MixMasterStage(highpass_phase=highpass_phase).process(Signal(audio, 48000)).audio
    assert int(out[0].abs().argmax()) == 24000 == int(out[1].abs().argmax())
    np.testing.assert_allclose(out[1].numpy(), -0.5 * out[0].numpy(), atol=1e-7)


def test_a_linear_phase_high_pass_cuts_as_the_biquad_does_without_moving_what_it_keeps():
    """The 90 Hz high-pass as an FIR: the same levels as the biquad (tones at 55, 170 and
    1000 Hz), output in line with the input (its delay compensated), and a 170 Hz partial keeps
    its phase where the biquad turns it by 45 degrees (170 Hz: the FIR's 44 ms delay is not a
    whole number of its periods, so an uncompensated delay would show too)."""
    freqs = [55.0, 170.0, 1000.0]
    signal = two_tone(freqs, amplitudes=(0.05, 0.05, 0.05), seconds=3.0)
    settings = {"preset": "broadcast", "highpass_hz": 90.0, "max_limiting_db": 0.0}
    biquad = MixMasterStage(**settings).process(signal)
    linear_stage = MixMasterStage(**settings, highpass_phase="linear")
    linear = linear_stage.process(signal)
    assert linear_stage.latency_samples > MixMasterStage(**settings).latency_samples
    assert linear.audio.shape == signal.audio.shape
    np.testing.assert_allclose(tone_levels_db(linear, freqs), tone_levels_db(biquad, freqs), atol=0.15)

    def phase_deg(audio, freq_hz):
        tail = audio[0, -48000:].double().numpy()
        return math.degrees(np.angle(np.fft.rfft(tail)[int(freq_hz)]))

    shift_linear = phase_deg(linear.audio, 170.0) - phase_deg(signal.audio, 170.0)
    shift_biquad = phase_deg(biquad.audio, 170.0) - phase_deg(signal.audio, 170.0)
    assert abs(shift_linear) < 1.0 and abs(shift_biquad) > 30.0


@pytest.mark.parametrize("highpass_phase", ["minimum", "linear"])
@pytest.mark.parametrize("q, corner_db", [(1 / math.sqrt(2), -3.01), (0.5, -6.02)])
def test_highpass_q_sets_the_level_at_the_corner(highpass_phase, q, corner_db):
    freqs = [90.0, 1000.0]
    signal = two_tone(freqs, seconds=3.0)
    out = MixMasterStage(preset="broadcast", highpass_hz=90.0, highpass_q=q, highpass_phase=highpass_phase,
                         max_limiting_db=0.0).process(signal)
    levels = tone_levels_db(out, freqs)
    inputs = tone_levels_db(signal, freqs)
    assert (levels[0] - inputs[0]) - (levels[1] - inputs[1]) == pytest.approx(corner_db, abs=0.15)


def test_the_linear_phase_high_pass_left_out_by_the_rumble_check_keeps_the_same_latency():
    voice = speech_like(4.0, 48000, seed=3)
    stage = MixMasterStage(highpass_hz=90.0, highpass_when="rumble", highpass_phase="linear", max_limiting_db=0.0)
    out = stage.process(voice)
    assert stage.describe()["highpass_applied"] is False
    plain = MixMasterStage(highpass_hz=0.0, max_limiting_db=0.0).process(voice)
    torch.testing.assert_close(out.audio, plain.audio, rtol=0, atol=1e-6)


def test_input_is_not_modified_and_process_block_needs_the_analysis():
    signal = speech_like(1.0, 48000, num_channels=2)
    before = signal.audio.clone()
    stage = MixMasterStage()
    stage.process(signal)
    assert torch.equal(signal.audio, before)
    stage.configure(48000, 2)
    with pytest.raises(StageError, match="finish_analysis"):
        stage.process_block(signal.audio[:, :100])


def test_silence_gets_no_gain_and_no_nan():
    stage = MixMasterStage()
    out = stage.process(Signal(torch.zeros(2, 48000), 48000))
    assert torch.equal(out.audio, torch.zeros(2, 48000))
    assert stage.gain_db == 0.0 and out.history[-1]["measured_lufs"] is None


@pytest.mark.parametrize("sample_rate, num_channels", [(8000, 1), (192000, 2), (48000, 6)])
@pytest.mark.parametrize("num_samples", [0, 1, 0.1])
@pytest.mark.parametrize("highpass_phase", ["minimum", "linear"])
def test_rates_channels_and_tiny_inputs(sample_rate, num_channels, num_samples, highpass_phase):
    n = int(num_samples * sample_rate) if isinstance(num_samples, float) else num_samples
    settings = {"presence_db": 3.0, "high_shelf_db": 2.0, "deess_db": 6.0,  # bands above 4 kHz drop out at 8 kHz
                "highpass_phase": highpass_phase}  # linear: an 80 Hz FIR whose delay outlasts a one-sample input
    rng = np.random.default_rng(n)
    signal = Signal(torch.from_numpy((0.03 * rng.standard_normal((num_channels, n))).astype(np.float32)), sample_rate)
    out = MixMasterStage(**settings).process(signal)
    assert out.audio.shape == (num_channels, n) and out.audio.dtype == torch.float32
    assert torch.isfinite(out.audio).all()
    if n:
        peak = float(out.audio.abs().max())
        assert 0 < peak <= 10 ** (-1.0 / 20)


def test_short_clip_is_normalised_by_its_ungated_loudness():
    signal = speech_like(0.3, 48000, num_channels=2, seed=5, level_db=-30)
    stage = MixMasterStage(preset="broadcast", highpass_hz=0.0)
    out = stage.process(signal)
    from aural.dsp.loudness import integrated_loudness  # the documented fallback below 0.4 s
    assert integrated_loudness(out.audio, 48000) == pytest.approx(-23.0, abs=0.05)


def two_tone(freqs_hz, sample_rate=48000, seconds=2.0, amplitudes=(0.05, 0.05)):
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    fade_in = np.minimum(1.0, t / 0.05)  # no onset click
    wave = sum(a * fade_in * np.sin(2 * np.pi * f * t) for f, a in zip(freqs_hz, amplitudes))
    return Signal(torch.from_numpy(np.stack([wave, wave]).astype(np.float32)), sample_rate)


def tone_levels_db(signal, freqs_hz, seconds=1.0):
    tail = signal.audio[0, -int(signal.sample_rate * seconds):].double().numpy()
    spectrum = np.abs(np.fft.rfft(tail)) / (len(tail) / 2)
    return [20 * math.log10(spectrum[int(round(f * seconds))]) for f in freqs_hz]


def test_eq_shapes_the_spectrum_by_its_closed_form():
    freqs = [40.0, 1000.0, 3000.0]
    signal = two_tone(freqs, amplitudes=(0.05, 0.05, 0.05))
    flat = MixMasterStage(preset="broadcast", highpass_hz=0.0).process(signal)
    shaped = MixMasterStage(preset="broadcast", highpass_hz=80.0, presence_db=6.0,
                            presence_hz=3000.0).process(signal)
    flat_levels, shaped_levels = tone_levels_db(flat, freqs), tone_levels_db(shaped, freqs)
    sos = np.concatenate([highpass(80.0, 48000), peaking(3000.0, 6.0, 48000, q=1.0)])
    expected = 20 * np.log10(np.abs(response(sos, freqs, 48000)))
    relative = [s - f - (shaped_levels[1] - flat_levels[1]) for s, f in zip(shaped_levels, flat_levels)]
    np.testing.assert_allclose(relative, expected - expected[1], atol=0.05)
    assert relative[2] - relative[1] == pytest.approx(6.0 - expected[1], abs=0.05)


def with_rumble(signal: Signal, level_db: float, hz: float = 45.0) -> Signal:
    """``signal`` with a steady low hum-like rumble ``level_db`` under its RMS throughout."""
    t = np.arange(signal.num_samples) / signal.sample_rate
    rms = float(signal.audio.double().pow(2).mean().sqrt())
    rumble = rms * 10 ** (level_db / 20) * math.sqrt(2) * np.sin(2 * np.pi * hz * t)
    return signal.replace(signal.audio + torch.from_numpy(rumble.astype(np.float32)))


def test_rumble_mode_high_passes_only_an_input_with_noise_under_the_corner():
    voice = speech_like(6.0, 48000, seed=3)
    rumbly = with_rumble(voice, -20.0)
    settings = {"preset": "broadcast", "highpass_hz": 90.0, "highpass_when": "rumble"}
    always = {**settings, "highpass_when": "always"}
    never = {**settings, "highpass_hz": 0.0}
    for signal, expected, reference in ((voice, False, never), (rumbly, True, always)):
        stage = MixMasterStage(**settings)
        out = stage.process(signal)
        described = stage.describe()
        assert described["highpass_applied"] is expected
        assert (described["rumble_margin_db"] >= -40.0) is expected
        torch.testing.assert_close(out.audio, MixMasterStage(**reference).process(signal).audio, rtol=0, atol=1e-6)


def test_rumble_mode_leaves_silence_and_follows_its_threshold():
    silent = Signal(torch.zeros(1, 48000), 48000)
    stage = MixMasterStage(highpass_hz=90.0, highpass_when="rumble")
    assert torch.count_nonzero(stage.process(silent).audio) == 0
    assert stage.describe()["rumble_margin_db"] is None and stage.describe()["highpass_applied"] is False
    faint = with_rumble(speech_like(6.0, 48000, seed=4), -50.0)
    applied = []
    for threshold_db in (-60.0, -20.0):
        stage = MixMasterStage(highpass_hz=90.0, highpass_when="rumble", rumble_threshold_db=threshold_db)
        stage.process(faint)
        applied.append(stage.describe()["highpass_applied"])
    assert applied == [True, False]


def test_deesser_is_transparent_when_inactive_and_cuts_sibilance():
    voiced = two_tone([150.0, 450.0])
    plain = MixMasterStage(preset="broadcast").process(voiced)
    with_deesser = MixMasterStage(preset="broadcast", deess_db=8.0).process(voiced)
    assert torch.equal(with_deesser.audio, plain.audio)
    sibilant = two_tone([150.0, 6500.0], amplitudes=(0.01, 0.05))  # the band holds 96 %
    # one stage (same loudness gain for both runs) to compare the band with and without cut
    off = MixMasterStage(preset="broadcast", deess_hz=6500.0).process(sibilant)
    on = MixMasterStage(preset="broadcast", deess_db=8.0, deess_hz=6500.0).process(sibilant)
    off_levels, on_levels = tone_levels_db(off, [150.0, 6500.0]), tone_levels_db(on, [150.0, 6500.0])
    cut = (on_levels[1] - on_levels[0]) - (off_levels[1] - off_levels[0])
    assert cut == pytest.approx(-8.0, abs=0.1)


def test_stems_are_mixed_with_their_gains_and_ducked_under_the_voice():
    """Voice bursts over a steady bed: with duck_db the bed drops by about duck_db while the voice
    speaks and comes back in the pause; stem gains scale the stems before mastering."""
    from aural.stems import Stems

    rate = 16000
    t = torch.arange(4 * rate) / rate
    talking = (t >= 1.0) & (t < 2.5)
    voice = 0.3 * torch.sin(2 * torch.pi * 200 * t) * talking
    bed = 0.05 * torch.sin(2 * torch.pi * 1000 * t)
    stems = Stems({"voice": Signal(voice[None], rate), "background": Signal(bed[None], rate)})
    common = {"highpass_hz": 0.0, "target_lufs": -30.0, "max_limiting_db": 0.0}
    plain = MixMasterStage(stems={"background": -6.0}, **common).process(stems)
    ducked = MixMasterStage(stems={"background": -6.0}, duck_db=12.0, duck_attack_ms=5.0,
                            duck_release_ms=50.0, **common).process(stems)

    def level_db(sig, start_s, end_s):  # the bed's level at 1 kHz
        part = sig.audio[0, int(start_s * rate):int(end_s * rate)].double()
        probe = torch.exp(-2j * torch.pi * 1000 * torch.arange(part.numel()) / rate)
        return 20 * math.log10(abs(complex((part * probe).sum())) / part.numel())

    # while the voice speaks the bed is duck_db lower than without ducking (same overall gain
    # compensated by comparing against the pause, where neither ducks)
    during = level_db(ducked, 1.5, 2.4) - level_db(plain, 1.5, 2.4)
    pause = level_db(ducked, 3.2, 3.9) - level_db(plain, 3.2, 3.9)
    assert during - pause == pytest.approx(-12.0, abs=0.5)
    louder = MixMasterStage(stems={"background": 0.0}, **common).process(stems)
    assert level_db(louder, 3.2, 3.9) - level_db(louder, 1.5, 2.4) == pytest.approx(
        level_db(plain, 3.2, 3.9) - level_db(plain, 1.5, 2.4), abs=0.1)  # gain alone changes no shape
    assert plain.num_samples == stems.num_samples and ducked.history[-1]["step"] == "mix_master"


def test_stem_params_are_checked():
    from aural.params import ParamError

    with pytest.raises(ParamError, match="background: expected a number in -120..24, got 'loud'"):
        MixMasterStage(stems={"background": "loud"})
    with pytest.raises(ParamError, match="expected a mapping of names to numbers"):
        MixMasterStage(stems=[0, -10])


@pytest.mark.parametrize("bed_amplitude", [0.2, 0.02])
def test_relative_stem_gains_put_the_bed_under_the_voice_wherever_it_sat(bed_amplitude):
    """stems_relative_to: voice with background -18: the bed comes out 18 LU under the voice
    whether it was recorded 3 dB or 23 dB under it; the mix is then mastered as always."""
    from aural.stems import Stems

    rate = 48000
    voice = speech_like(4.0, rate, seed=3).audio * 2.0
    t = torch.arange(voice.shape[1]) / rate
    bed = bed_amplitude * torch.sin(2 * torch.pi * 330 * t)[None] * (0.6 + 0.4 * torch.sin(2 * torch.pi * 0.5 * t))
    stems = Stems({"voice": Signal(voice, rate), "background": Signal(bed, rate)})
    stage = MixMasterStage(stems={"background": -18.0}, stems_relative_to="voice", highpass_hz=0.0,
                           preset="podcast")
    out = stage.process(stems)
    facts = out.history[-1]
    voice_lufs, bed_lufs = (loudness(Signal(x, rate)) for x in (voice, bed))
    assert facts["stem_lufs"]["voice"] == pytest.approx(voice_lufs, abs=0.1)
    assert facts["stem_lufs"]["background"] == pytest.approx(bed_lufs, abs=0.1)
    assert facts["stem_gains_db"]["background"] == pytest.approx(voice_lufs - 18.0 - bed_lufs, abs=0.1)
    assert loudness(out) == pytest.approx(PRESETS["podcast"][0] - 3.0, abs=0.1)  # mono: -19 LUFS


def test_relative_stem_gains_need_that_stem():
    from aural.stems import Stems

    rate = 16000
    stems = Stems({"voice": Signal(torch.zeros(1, rate), rate), "background": Signal(torch.zeros(1, rate), rate)})
    with pytest.raises(StageError, match="stems_relative_to: no stem 'vocals'"):
        MixMasterStage(stems_relative_to="vocals").process(stems)
    with pytest.raises(StageError, match="stems_relative_to: relative stem gains need stems in"):
        MixMasterStage(stems_relative_to="voice").process(Signal(torch.zeros(1, rate), rate))
    silent = MixMasterStage(stems={"background": -18.0}, stems_relative_to="voice").process(stems)
    assert torch.isfinite(silent.audio).all() and silent.history[-1]["stem_gains_db"]["background"] == -18.0
