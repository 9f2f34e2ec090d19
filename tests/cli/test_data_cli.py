"""``aural data simulate`` end to end: layout, manifest, reproduction, and bad input."""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from aural import io
from aural import errors
from aural.degrade import codecs, reproduce
from helpers import DATA_ROOT, requires_shared_data, run_cli, speech_like, write_audio

PROFILES = ["additive_noise", "archival", "cellular", "laptop_mic", "voice_memo", "voip"]


def xcorr_lag(output: np.ndarray, reference: np.ndarray, max_lag: int = 800) -> int:
    y, x = output.mean(1).astype(np.float64), reference.mean(1).astype(np.float64)
    size = 1 << int(math.ceil(math.log2(2 * len(x))))
    corr = np.fft.irfft(np.fft.rfft(y, size) * np.conj(np.fft.rfft(x, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    return int(lags[np.argmax(corr[lags % size])])


@pytest.fixture
def folders(tmp_path):
    clean = tmp_path / "clean"
    write_audio(clean / "a.wav", speech_like(1.0, 16000, seed=1))
    write_audio(clean / "talks" / "b.flac", speech_like(1.2, 22050, seed=2, num_channels=2))
    rng = np.random.default_rng(0)
    (tmp_path / "noise").mkdir()
    sf.write(tmp_path / "noise" / "fan.wav", (0.05 * rng.standard_normal(8000)).astype(np.float32), 8000)
    (tmp_path / "rir").mkdir()
    h = rng.standard_normal(3000) * np.exp(-np.arange(3000) / 400.0) * 0.1
    h[:30] = 0.0
    h[30] = 1.0
    sf.write(tmp_path / "rir" / "room.flac", h.astype(np.float32), 16000)
    return tmp_path


def simulate(folders, capsys, *extra):
    args = ["data", "simulate", "--clean", str(folders / "clean"), "--noise", str(folders / "noise"),
            "--rir", str(folders / "rir"), "--out", str(folders / "out"), "--seed", "7", *extra]
    return run_cli(args, capsys)


def manifest(folders) -> list[dict]:
    return [json.loads(line) for line in (folders / "out" / "manifest.jsonl").read_text().splitlines()]


def test_writes_matching_pairs_and_a_manifest(folders, capsys):
    code, _, err = simulate(folders, capsys, "--profile", "cellular", "--subtype", "FLOAT")
    assert code == 0, err
    entries = manifest(folders)
    assert [e["studio"] for e in entries] == ["studio/a.wav", "studio/talks/b.wav"]
    assert [e["phone"] for e in entries] == ["phone/a.wav", "phone/talks/b.wav"]
    for entry, (rate, channels, seconds) in zip(entries, [(16000, 1, 1.0), (22050, 2, 1.2)]):
        studio, phone = io.read(folders / "out" / entry["studio"]), io.read(folders / "out" / entry["phone"])
        for signal in (studio, phone):
            assert (signal.sample_rate, signal.num_channels, signal.num_samples) == (rate, channels, round(seconds * rate))
        assert float(phone.audio.abs().max()) <= 1.0
        assert abs(xcorr_lag(phone.audio.numpy().T, studio.audio.numpy().T)) <= 1
        assert entry["profile"] == "cellular" and entry["seed"] == 7
        assert entry["source"] == str((folders / "clean" / entry["source_rel"]).resolve())
        steps = {s["transform"]: s["params"] for s in entry["steps"]}
        assert steps["codec"]["codec"] in ("gsm", "amr_nb", "mulaw", "alaw", "spectral")
        assert steps["band_limit"]["band_rate"] == 8000
        if "noise" in steps:
            assert steps["noise"]["file"] == "fan.wav" and "offset_frames" in steps["noise"]
            assert entry["summary"]["noise"] == "fan.wav"
        if "reverb" in steps:
            assert steps["reverb"]["file"] == "room.flac"
        studio_again, phone_again = reproduce(entry)
        assert torch.equal(studio_again.audio, studio.audio) and torch.equal(phone_again.audio, phone.audio)
    # the same seed writes the same files
    first = io.read(folders / "out" / "phone" / "a.wav").audio
    assert simulate(folders, capsys, "--profile", "cellular", "--subtype", "FLOAT")[0] == 0
    assert torch.equal(io.read(folders / "out" / "phone" / "a.wav").audio, first)


def test_every_profile_with_variants_and_a_rate(folders, capsys):
    code, _, err = simulate(folders, capsys, "--profile", "all", "--per-file", "2", "--sample-rate", "16000",
                            "--max-seconds", "0.5")
    assert code == 0, err
    entries = manifest(folders)
    assert len(entries) == 2 * len(PROFILES) * 2
    assert sorted({e["profile"] for e in entries}) == PROFILES
    assert {e["phone"] for e in entries if e["source_rel"] == "a.wav" and e["profile"] == "voip"} == \
        {"phone/voip/a-v0.wav", "phone/voip/a-v1.wav"}
    for entry in entries:
        assert (entry["sample_rate"], entry["num_samples"]) == (16000, 8000)
        assert (folders / "out" / entry["studio"]).exists() and (folders / "out" / entry["phone"]).exists()
        assert io.info(folders / "out" / entry["phone"]).num_frames == 8000
    variants = [e for e in entries if e["source_rel"] == "a.wav" and e["profile"] == "archival"]
    assert variants[0]["steps"] != variants[1]["steps"]


def test_unknown_profile_lists_the_profiles(folders, capsys):
    code, _, err = simulate(folders, capsys, "--profile", "phone")
    assert code == 2
    assert "unknown degradation profile 'phone'" in err and all(name in err for name in PROFILES)
    assert "Traceback" not in err


@pytest.mark.parametrize("broken", ["missing_clean", "empty_clean", "empty_noise", "missing_rir"])
def test_bad_folders_are_usage_errors(folders, capsys, broken):
    args = {"clean": folders / "clean", "noise": folders / "noise", "rir": folders / "rir"}
    if broken == "missing_clean":
        args["clean"] = folders / "nope"
    elif broken == "empty_clean":
        args["clean"] = folders / "empty"
        args["clean"].mkdir()
    elif broken == "empty_noise":
        args["noise"] = folders / "empty"
        args["noise"].mkdir()
        (args["noise"] / "notes.txt").write_text("no audio here")
    else:
        args["rir"] = folders / "nope"
    code, _, err = run_cli(["data", "simulate", "--clean", str(args["clean"]), "--noise", str(args["noise"]),
                            "--rir", str(args["rir"]), "--out", str(folders / "out")], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "does not exist" in err or "no audio files" in err


def test_an_unreadable_file_is_reported_and_the_run_continues(folders, capsys):
    (folders / "clean" / "b_broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    write_audio(folders / "clean" / "c.wav", speech_like(0.5, 16000, seed=3))
    code, _, err = simulate(folders, capsys, "--profile", "voip,archival")
    assert code == 1
    problems = [line for line in err.splitlines() if "b_broken.wav" in line]
    assert len(problems) == 1 and problems[0].startswith(f"aural: {folders / 'clean' / 'b_broken.wav'}: ")
    assert "2 of 8 pairs failed" in err
    assert [e["source_rel"] for e in manifest(folders)] == ["a.wav", "a.wav", "c.wav", "c.wav",
                                                             "talks/b.flac", "talks/b.flac"]
    assert (folders / "out" / "phone" / "voip" / "c.wav").exists()


def test_without_ffmpeg_one_warning_and_recorded_replacements(folders, capsys, monkeypatch, caplog):
    monkeypatch.setattr(codecs.shutil, "which", lambda name: None)
    monkeypatch.setattr(errors, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="aural.degrade"):
        code, _, err = simulate(folders, capsys, "--profile", "voip,voice_memo")
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "ffmpeg not found" in line] + \
        [r for r in caplog.records if "ffmpeg not found" in r.getMessage()]
    assert len(warnings) == 1
    for entry in manifest(folders):
        assert entry["ffmpeg"] is None
        codec = next(s["params"] for s in entry["steps"] if s["transform"] == "codec")
        assert codec["codec"] == "spectral" and codec["replaces"] in ("opus", "aac", "mp3")
        assert codec["reason"] == "ffmpeg not found"
        assert entry["summary"]["codec_replaces"] == codec["replaces"]


def test_long_files_are_chunked_and_reproduced(folders, capsys):
    write_audio(folders / "clean" / "a.wav", speech_like(3.0, 16000, seed=4))
    code, _, err = simulate(folders, capsys, "--profile", "archival", "--chunk-seconds", "1", "--subtype", "FLOAT")
    assert code == 0, err
    entry = manifest(folders)[0]
    assert entry["chunk_samples"] == 16000 and entry["num_samples"] == 48000
    studio, phone = reproduce(entry)
    assert torch.equal(phone.audio, io.read(folders / "out" / entry["phone"]).audio)
    assert torch.equal(studio.audio, io.read(folders / "out" / entry["studio"]).audio)


def test_reference_choice_is_recorded_and_reproduced(folders, capsys):
    code, _, err = simulate(folders, capsys, "--profile", "voice_memo", "--subtype", "FLOAT", "--reference", "early",
                            "--early-reflections-ms", "30")
    assert code == 0, err
    for entry in manifest(folders):
        assert (entry["reference"], entry["early_reflections_ms"]) == ("early", 30.0)
        studio, _ = reproduce(entry)
        assert torch.equal(studio.audio, io.read(folders / "out" / entry["studio"]).audio)
    code, _, err = simulate(folders, capsys, "--profile", "voice_memo", "--subtype", "FLOAT", "--reference", "dry")
    assert code == 0, err
    entry = manifest(folders)[0]
    assert entry["reference"] == "dry"
    gain = 10 ** ((entry["reference_gain_db"] + entry["pair_gain_db"]) / 20)
    source = io.read(folders / "clean" / entry["source_rel"]).audio
    assert torch.allclose(io.read(folders / "out" / entry["studio"]).audio, source * gain, atol=1e-6)
    code, _, err = simulate(folders, capsys, "--reference", "wet")
    assert code == 2 and "'wet' is not one of 'early', 'dry'" in err


@pytest.mark.slow
@requires_shared_data("speech")
def test_real_recordings_through_every_profile(tmp_path, capsys):
    root = DATA_ROOT
    clean = tmp_path / "clean"
    clean.mkdir()
    names = ["librispeech_198-209-0000.flac", "librivox_flatland_excerpt.flac", "freesound_davidbain_xmas.flac"]
    for name in names:  # links, not copies
        (clean / name).symlink_to(root / "speech" / name)
    out = tmp_path / "out"
    code, _, err = run_cli(["data", "simulate", "--clean", str(clean), "--noise", str(root / "noise"),
                            "--rir", str(root / "rir"), "--profile", "all", "--out", str(out), "--seed", "1",
                            "--sample-rate", "16000", "--max-seconds", "4"], capsys)
    assert code == 0, err
    entries = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(entries) == 3 * len(PROFILES)
    for entry in entries:
        studio, phone = io.read(out / entry["studio"]), io.read(out / entry["phone"])
        assert studio.audio.shape == phone.audio.shape and float(phone.audio.abs().max()) <= 1.0
        lag = xcorr_lag(phone.audio.numpy().T, studio.audio.numpy().T)
        assert abs(lag) <= 1, (entry["profile"], entry["source_rel"], entry["summary"], lag)
        again_studio, again_phone = reproduce(entry)
        assert np.abs(again_phone.audio.numpy() - phone.audio.numpy()).max() <= 2.0 ** -23
        assert np.abs(again_studio.audio.numpy() - studio.audio.numpy()).max() <= 2.0 ** -23
