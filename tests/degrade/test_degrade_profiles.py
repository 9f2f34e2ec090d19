"""Named profiles: registry, and every profile's pairs keep shape, level bounds and alignment."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from aural.degrade import PROFILES, codecs, get_profile, resolve_profiles, simulate_pair
from aural.degrade.base import Resources
from aural.degrade.level import active_level_db, rms_db
from aural.degrade.noise import synthetic_noise
from aural.errors import UsageError
from aural.signal import Signal
from helpers import speech_like

NAMES = ["additive_noise", "archival", "cellular", "laptop_mic", "voice_memo", "voip"]


def test_the_six_profiles_are_registered():
    assert PROFILES.names() == NAMES
    for name in NAMES:
        assert get_profile(name).description


def test_unknown_profile_lists_the_profiles():
    with pytest.raises(UsageError) as error:
        get_profile("celular")
    message = str(error.value)
    assert "did you mean 'cellular'" in message
    assert all(name in message for name in NAMES)


def test_resolve_profiles_all_and_lists():
    assert [p.name for p in resolve_profiles(["all"])] == NAMES
    assert [p.name for p in resolve_profiles(["voip,cellular", "voip"])] == ["voip", "cellular"]
    with pytest.raises(UsageError):
        resolve_profiles([""])


def xcorr_lag(output: torch.Tensor, reference: torch.Tensor, max_lag: int = 800) -> int:
    y, x = output.double().mean(0).numpy(), reference.double().mean(0).numpy()
    size = 1 << int(math.ceil(math.log2(2 * len(x))))
    corr = np.fft.irfft(np.fft.rfft(y, size) * np.conj(np.fft.rfft(x, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    return int(lags[np.argmax(corr[lags % size])])


@pytest.mark.parametrize("name", NAMES)
def test_profile_pairs_keep_shape_reference_and_alignment(name):
    clean = speech_like(1.5, 16000, num_channels=2, seed=11, level_db=-35.0)
    resources = Resources(ffmpeg=codecs.find_ffmpeg())
    studio, phone, record = simulate_pair(clean, name, np.random.default_rng(1), resources)
    for signal in (studio, phone):
        assert signal.audio.shape == clean.audio.shape and signal.sample_rate == 16000
        assert signal.audio.dtype == torch.float32 and torch.isfinite(signal.audio).all()
        assert float(signal.audio.abs().max()) <= 1.0
    # the dry studio side is the clean source times one gain, nothing else; the same draw
    dry_studio, dry_phone, dry_record = simulate_pair(clean, name, np.random.default_rng(1), resources,
                                                      reference="dry")
    assert torch.equal(dry_phone.audio, phone.audio) and dry_record["steps"] == record["steps"]
    gain = float((dry_studio.audio * clean.audio).sum() / (clean.audio ** 2).sum())
    assert torch.allclose(dry_studio.audio, clean.audio * gain, atol=1e-6)
    assert gain == pytest.approx(10 ** ((record["reference_gain_db"] + record["pair_gain_db"]) / 20), rel=1e-4)
    # the default (early) reference differs from the dry one exactly when the chain has a room
    has_room = any(step["transform"] == "reverb" for step in record["steps"])
    assert torch.equal(studio.audio, dry_studio.audio) != has_room
    assert record["reference"] == "early" and record["early_reflections_ms"] == 50.0
    assert json.loads(json.dumps(record)) == record
    assert record["profile"] == name and record["steps"]
    assert abs(xcorr_lag(phone.audio, studio.audio)) <= 1
    # the same generator state gives the same pair; another one another pair
    again = simulate_pair(clean, name, np.random.default_rng(1), resources)
    assert torch.equal(again[1].audio, phone.audio) and again[2] == record
    other = simulate_pair(clean, name, np.random.default_rng(2), resources)
    assert other[2]["steps"] != record["steps"]


def test_additive_noise_profile_only_adds_noise():
    clean = speech_like(2.0, 16000, seed=4, level_db=-30.0)
    for seed in range(4):
        studio, phone, record = simulate_pair(clean, "additive_noise", np.random.default_rng(seed), Resources())
        assert [s["transform"] for s in record["steps"]] == ["noise"]
        params = record["steps"][0]["params"]
        assert -5.0 <= params["snr_db"] <= 25.0
        noise = synthetic_noise(params["colour"], params["seed"], 0, clean.num_samples) \
            * 10 ** ((params["gain_db"] + record["pair_gain_db"]) / 20)
        # phone - studio is exactly the recorded noise: no filter, band limit, codec or level change
        np.testing.assert_allclose((phone.audio - studio.audio)[0].numpy(), noise, atol=2e-6)
        assert active_level_db(studio.audio, 16000) - rms_db(phone.audio - studio.audio) == \
            pytest.approx(params["snr_db"], abs=1.0)  # unit-power noise, measured over 2 s


def test_profiles_model_their_devices():
    records = {name: [simulate_pair(speech_like(0.5, 16000, seed=1), name, np.random.default_rng(seed),
                                    Resources(ffmpeg=None))[2] for seed in range(6)] for name in NAMES}
    steps = {name: [{s["transform"]: s["params"] for s in r["steps"]} for r in rs] for name, rs in records.items()}
    assert all(s["band_limit"]["band_rate"] == 8000 for s in steps["cellular"])
    assert all(s["codec"].get("replaces", s["codec"]["codec"]) in ("amr_nb", "gsm", "mulaw", "alaw")
               for s in steps["cellular"])
    assert all(s["codec"].get("replaces") == "opus" for s in steps["voip"])
    assert all(s["codec"].get("replaces") in ("aac", "mp3") for s in steps["voice_memo"])
    assert all("reverb" in s for s in steps["voice_memo"])
    assert all(s["band_limit"]["band_rate"] == 11025 and s["noise"]["source"] == "synthetic"
               for s in steps["archival"])
    assert all(s["codec"]["codec"] in ("mulaw", "bit_depth") for s in steps["archival"])
    assert all(200 <= s["mic_response"]["highpass_hz"] <= 400 for s in steps["cellular"])


def test_silent_input_stays_finite():
    silent = Signal(torch.zeros(1, 8000), 16000)
    for name in NAMES:
        studio, phone, _ = simulate_pair(silent, name, np.random.default_rng(0), Resources(ffmpeg=None))
        assert torch.equal(studio.audio, silent.audio)
        assert torch.isfinite(phone.audio).all() and float(phone.audio.abs().max()) <= 1.0
