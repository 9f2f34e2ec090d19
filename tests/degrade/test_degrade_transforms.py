"""Degradation transforms: draw/apply contract, alignment, and closed-form checks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from aural.degrade.banks import AudioBank
from aural.degrade.base import TRANSFORMS, Chain, DrawContext, Resources, Step, transform_for
from aural.degrade.level import active_level_db, rms_db
from aural.degrade.noise import AddNoise, synthetic_noise
from aural.degrade.reverb import Reverb, synthetic_rir
from aural.degrade.transforms import (AutomaticGainControl, BandLimit, Clipping, LevelChange, MicResponse,
                                      PacketLoss, gilbert_losses)
from helpers import speech_like

RATE = 16000


def xcorr_lag(output: torch.Tensor, reference: torch.Tensor, max_lag: int = 400) -> int:
    y = output.double().mean(0).numpy()
    x = reference.double().mean(0).numpy()
    size = 1 << int(math.ceil(math.log2(2 * len(x))))
    corr = np.fft.irfft(np.fft.rfft(y, size) * np.conj(np.fft.rfft(x, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    return int(lags[np.argmax(corr[lags % size])])


def tone_level_db(audio: torch.Tensor, freq_hz: float, sample_rate: int) -> float:
    x = audio.double().mean(0).numpy()
    t = np.arange(len(x)) / sample_rate
    amplitude = 2 * abs(np.mean(x * np.exp(-2j * np.pi * freq_hz * t)))
    return 20 * math.log10(amplitude + 1e-12)


@pytest.fixture(scope="module")
def clean() -> torch.Tensor:
    return speech_like(2.0, RATE, seed=3, level_db=-26.0).audio


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("banks")
    rng = np.random.default_rng(0)
    (root / "noise" / "sub").mkdir(parents=True)
    sf.write(root / "noise" / "white.wav", (0.1 * rng.standard_normal(RATE)).astype(np.float32), RATE)
    sf.write(root / "noise" / "sub" / "hum.flac",
             (0.05 * np.sin(2 * np.pi * 50 * np.arange(22050 * 3) / 22050)).astype(np.float32), 22050)
    (root / "rir").mkdir()
    h = rng.standard_normal(8000) * np.exp(-np.arange(8000) / 800.0) * 0.05
    h[:200] = 0.0
    h[200] = 1.0  # direct path 200 samples into the file
    sf.write(root / "rir" / "room.wav", np.stack([h, np.roll(h, 3)], 1).astype(np.float32), RATE)
    return root


def all_transforms():
    return [BandLimit((8000,)), MicResponse(lowpass_probability=1.0), AddNoise(snr_db=(10, 10)),
            Reverb(), Clipping(), PacketLoss(loss_rate=(0.2, 0.2)), AutomaticGainControl(), LevelChange()]


def context(resources=None) -> DrawContext:
    return DrawContext(RATE, 2 * RATE, 1, speech_level_db=-26.0, resources=resources or Resources())


def test_registry_lists_every_transform():
    assert set(TRANSFORMS.names()) >= {"band_limit", "mic_response", "noise", "reverb", "clipping",
                                       "packet_loss", "agc", "level", "codec"}


@pytest.mark.parametrize("transform", all_transforms(), ids=lambda t: t.name)
def test_draw_is_plain_data_and_apply_is_deterministic(transform, clean):
    params = transform.draw(np.random.default_rng(1), context())
    assert params == transform.draw(np.random.default_rng(1), context())
    restored = json.loads(json.dumps(params))
    assert restored == params
    first = transform.apply(clean, RATE, params)
    again = transform_for(transform.name).apply(clean.clone(), RATE, restored)
    assert torch.equal(first, again)
    assert first.shape == clean.shape and first.dtype == torch.float32
    assert torch.isfinite(first).all()


@pytest.mark.parametrize("transform", [BandLimit((8000,)), MicResponse(lowpass_probability=1.0), Reverb(),
                                       AddNoise(snr_db=(20, 20))], ids=lambda t: t.name)
def test_filters_keep_alignment(transform, clean):
    params = transform.draw(np.random.default_rng(2), context())
    assert xcorr_lag(transform.apply(clean, RATE, params), clean) == 0


def test_band_limit_removes_the_upper_band():
    t = np.arange(RATE) / RATE
    audio = torch.from_numpy((0.3 * np.sin(2 * np.pi * 1000 * t) + 0.3 * np.sin(2 * np.pi * 6000 * t))
                             .astype(np.float32))[None]
    out = BandLimit().apply(audio, RATE, {"band_rate": 8000})
    core = out[:, 1000:-1000]
    assert tone_level_db(core, 1000, RATE) == pytest.approx(20 * math.log10(0.3), abs=0.1)
    assert tone_level_db(core, 6000, RATE) < -80
    assert BandLimit().apply(audio, RATE, {"band_rate": 22050}) is audio  # above the input's band: no-op


def test_mic_response_meets_its_parametric_curve():
    params = {"kind": "parametric", "highpass_hz": 300.0, "highpass_order": 4,
              "peaks": [{"freq_hz": 3000.0, "gain_db": 6.0, "q": 1.0}], "lowpass_hz": None, "lowpass_order": 2}
    t = np.arange(2 * RATE) / RATE
    for freq, expected, tolerance in [(3000.0, 6.0, 0.3), (1000.0, 0.8, 1.0), (60.0, -50.0, 15.0)]:
        audio = torch.from_numpy((0.1 * np.sin(2 * np.pi * freq * t)).astype(np.float32))[None]
        out = MicResponse().apply(audio, RATE, params)[:, 4000:-4000]
        gain = tone_level_db(out, freq, RATE) - 20 * math.log10(0.1)
        assert gain == pytest.approx(expected, abs=tolerance), freq


def test_synthetic_noise_hits_the_snr_and_is_chunk_invariant(clean):
    transform = AddNoise(snr_db=(12.0, 12.0), source="synthetic", colours=("pink",))
    speech_db = active_level_db(clean, RATE)
    params = transform.draw(np.random.default_rng(4), DrawContext(RATE, clean.shape[1], 1, speech_db))
    noise = transform.apply(clean, RATE, params) - clean
    assert speech_db - rms_db(noise) == pytest.approx(12.0, abs=0.3)
    whole = synthetic_noise("pink", 7, 0, 200000)
    pieces = np.concatenate([synthetic_noise("pink", 7, 0, 70000), synthetic_noise("pink", 7, 70000, 130000)])
    np.testing.assert_array_equal(whole, pieces)
    assert 10 * math.log10(np.mean(whole ** 2)) == pytest.approx(0.0, abs=0.5)


def test_noise_from_a_folder_records_file_offset_gain_and_loops(folders, clean):
    resources = Resources(noise=AudioBank(folders / "noise"))
    transform = AddNoise(snr_db=(5.0, 5.0))
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(12):
        params = transform.draw(rng, context(resources))
        assert params["source"] == "file" and params["file"] in resources.noise.files
        assert 0 <= params["offset_frames"] < resources.noise.info(params["file"]).num_frames
        expected_gain = -26.0 - 5.0 - resources.noise.rms_db(params["file"])
        assert params["gain_db"] == pytest.approx(expected_gain, abs=1e-3)
        seen.add(params["file"])
    assert seen == {"white.wav", "sub/hum.flac"}
    # the 1 s white-noise file loops under 2 s of audio, starting at its offset
    params = {"source": "file", "file": "white.wav", "offset_frames": 1000, "snr_db": 5.0, "gain_db": 0.0}
    silent = torch.zeros(1, 2 * RATE)
    out = transform.apply(silent, RATE, params, resources=resources)[0].numpy()
    noise = sf.read(folders / "noise" / "white.wav", dtype="float32")[0]
    expected = np.concatenate([noise[1000:], noise, noise])[:2 * RATE]
    np.testing.assert_allclose(out, expected, atol=1e-6)
    # a chunk at an offset continues the same noise
    part = transform.apply(torch.zeros(1, 5000), RATE, params, offset_samples=20000, resources=resources)
    np.testing.assert_allclose(part[0].numpy(), expected[20000:25000], atol=1e-6)


def test_measured_rir_is_aligned_on_its_direct_path(folders, clean):
    resources = Resources(rir=AudioBank(folders / "rir"))
    transform = Reverb(drr_db=(0.0, 0.0))
    rng = np.random.default_rng(3)
    for _ in range(4):
        params = transform.draw(rng, context(resources))
        assert params["source"] == "file" and params["file"] == "room.wav" and params["channel"] in (0, 1)
        out = transform.apply(clean, RATE, params, resources=resources)
        assert xcorr_lag(out, clean) == 0
        h = Reverb.kernel(params, RATE, resources)
        assert np.sum(h ** 2) == pytest.approx(1.0)
        assert np.argmax(np.abs(h)) == 0
        # the measured reverberation follows the direct path as in the file (channel 1 is 3 samples later)
        measured = sf.read(folders / "rir" / "room.wav")[0][:, params["channel"]]
        start = 200 + params["channel"] * 3 + 100
        ratio = h[100:1000] / measured[start:start + 900]
        assert np.allclose(ratio, ratio[0], rtol=1e-3)
    with pytest.raises(Exception, match="rir folder"):
        transform.apply(clean, RATE, params)  # needs the folder it was drawn from


def test_synthetic_rir_has_its_rt60_and_drr():
    params = {"source": "synthetic", "rt60_s": 0.5, "drr_db": 3.0, "predelay_ms": 5.0, "seed": 1, "max_length_s": 1.5}
    h = synthetic_rir(params, RATE)
    assert np.argmax(np.abs(h)) == 0
    assert 10 * np.log10(h[0] ** 2 / np.sum(h[1:] ** 2)) == pytest.approx(3.0, abs=0.01)
    # Schroeder decay between -5 and -25 dB, extrapolated to -60 dB
    energy = np.cumsum(h[1:][::-1] ** 2)[::-1]
    decay_db = 10 * np.log10(energy / energy[0])
    t5, t25 = np.argmax(decay_db <= -5) / RATE, np.argmax(decay_db <= -25) / RATE
    assert 3 * (t25 - t5) == pytest.approx(0.5, rel=0.15)


def test_clipping_hard_and_soft():
    audio = torch.linspace(-0.5, 0.5, 1001)[None]
    hard = Clipping().apply(audio, RATE, {"mode": "hard", "headroom_db": 0.0, "drive_db": 20 * math.log10(4.0)})
    assert float(hard.abs().max()) == pytest.approx(0.25)
    assert torch.equal(hard[:, 450:551], audio[:, 450:551])
    soft = Clipping().apply(audio, RATE, {"mode": "soft", "headroom_db": 0.0, "drive_db": 0.0})
    assert torch.allclose(soft, torch.tanh(audio))
    params = Clipping(headroom_db=(6.0, 6.0)).draw(np.random.default_rng(0), context())
    assert params["drive_db"] == pytest.approx(26.0 - 6.0)


def test_gilbert_losses_match_the_rate():
    lost = gilbert_losses(np.random.default_rng(0), 50000, 0.1, 2.0)
    assert len(lost) / 50000 == pytest.approx(0.1, abs=0.01)
    bursts = np.count_nonzero(np.diff(lost) != 1) + 1
    assert len(lost) / bursts == pytest.approx(2.0, rel=0.15)


def test_packet_loss_conceals_by_zero_and_repeat():
    packet = RATE // 50
    audio = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 10 * packet)).astype(np.float32))
    base = {"packet_ms": 20.0, "loss_rate": 0.2, "mean_burst_packets": 1.0, "fade_ms": 2.0, "lost_packets": [3, 4, 7]}
    zero = PacketLoss().apply(audio, RATE, {**base, "concealment": "zero"})
    assert torch.all(zero[:, 3 * packet:5 * packet] == 0) and torch.all(zero[:, 7 * packet:8 * packet] == 0)
    assert torch.equal(zero[:, :2 * packet], audio[:, :2 * packet])
    assert torch.equal(zero[:, 5 * packet + 64:7 * packet - 64], audio[:, 5 * packet + 64:7 * packet - 64])
    repeat = PacketLoss().apply(audio, RATE, {**base, "concealment": "repeat"})
    middle = slice(3 * packet + 64, 4 * packet - 64)
    assert torch.allclose(repeat[:, middle], audio[:, 2 * packet + 64:3 * packet - 64])
    second = slice(4 * packet + 64, 5 * packet - 64)
    assert torch.allclose(repeat[:, second], 0.5 * audio[:, 2 * packet + 64:3 * packet - 64])
    # chunked rendering with enough context gives the same samples
    before, _ = PacketLoss().context_samples(base, RATE)
    part = PacketLoss().apply(audio[:, 2 * packet:], RATE, {**base, "concealment": "repeat"}, offset_samples=2 * packet)
    assert torch.equal(part, repeat[:, 2 * packet:])
    assert before >= 2 * packet


def test_agc_rides_the_gain_and_pumps_in_pauses():
    rate = RATE
    quiet = 0.01 * torch.sin(2 * math.pi * 300 * torch.arange(2 * rate) / rate)[None]
    params = {"target_db": -20.0, "max_gain_db": 20.0, "max_cut_db": 30.0, "attack_ms": 5.0,
              "release_ms": 200.0, "window_ms": 10.0}
    out = AutomaticGainControl().apply(quiet, rate, params)
    # the sine (-43 dB mean power) is raised by the maximum 20 dB once the gain has settled
    assert rms_db(out[:, rate:]) == pytest.approx(rms_db(quiet) + 20.0, abs=0.5)
    loud = torch.cat([0.5 * torch.sin(2 * math.pi * 300 * torch.arange(rate) / rate), torch.zeros(rate)])[None]
    loud = loud + 0.001 * torch.randn(1, 2 * rate, generator=torch.Generator().manual_seed(0))
    gain = AutomaticGainControl().gain_db(loud, rate, params, 0)
    assert gain[rate - 100] == pytest.approx(-20.0 - (20 * math.log10(0.5) - 3.0), abs=1.0)  # cut to target
    assert gain[-1] > 15.0  # the pause pumps the noise floor up


def test_level_changes_ramp_between_steps():
    audio = torch.ones(1, RATE)
    params = {"gain_db": -6.0, "changes": [[0.5, 0.0]], "ramp_ms": 100.0}
    out = LevelChange().apply(audio, RATE, params)[0]
    assert float(out[100]) == pytest.approx(10 ** (-6 / 20), rel=1e-5)
    assert float(out[-1]) == pytest.approx(1.0, rel=1e-5)
    assert 10 ** (-6 / 20) < float(out[int(0.55 * RATE)]) < 1.0
    part = LevelChange().apply(audio[:, :4000], RATE, params, offset_samples=8000)
    assert torch.allclose(part, out[None, 8000:12000])


def test_chain_records_reproduce_and_skip_by_probability(clean):
    chain = Chain([Step(BandLimit((8000,)), 1.0), Step(AddNoise(snr_db=(10, 20)), 0.0), LevelChange()])
    records = chain.draw(np.random.default_rng(5), context())
    assert [r["transform"] for r in records] == ["band_limit", "level"]
    restored = json.loads(json.dumps(records))
    assert torch.equal(Chain.apply(clean, RATE, records), Chain.apply(clean, RATE, restored))
    # a step's draws do not depend on whether an earlier step applied
    other = Chain([Step(BandLimit((8000,)), 0.0), Step(AddNoise(snr_db=(10, 20)), 0.0), LevelChange()])
    assert other.draw(np.random.default_rng(5), context())[-1] == records[-1]


def test_measured_mic_response_is_aligned_and_unity_at_1khz(tmp_path, clean):
    (tmp_path / "mic").mkdir()
    taps = np.zeros(400)
    taps[30:37] = np.hanning(9)[1:-1]  # a low-pass wavelet 33 samples into the file, inverted by the rig
    sf.write(tmp_path / "mic" / "phone.wav", (-0.5 * taps).astype(np.float32), RATE)
    resources = Resources(mic_ir=AudioBank(tmp_path / "mic"))
    transform = MicResponse(measured_probability=1.0)
    params = transform.draw(np.random.default_rng(0), context(resources))
    assert params == {"kind": "measured", "file": "phone.wav", "channel": 0}
    out = transform.apply(clean, RATE, params, resources=resources)
    assert xcorr_lag(out, clean) == 0
    t = np.arange(RATE) / RATE
    tone = torch.from_numpy((0.1 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))[None]
    gain = tone_level_db(transform.apply(tone, RATE, params, resources=resources)[:, 1000:-1000], 1000, RATE)
    assert gain == pytest.approx(-20.0, abs=0.1)
