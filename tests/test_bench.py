"""``aural bench`` on a tiny generated pairs folder: the table, the files, the failure paths."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from aural.systems import SYSTEMS
from aural.systems.base import System
from helpers import run_cli, speech_like, write_audio

SNR_DB = {"a": 10.0, "sub/b": 0.0}


def make_pairs(root, layout=("phone", "studio"), manifest=True, sample_rate=16000):
    """Two pairs; the phone file is the studio file plus white noise at an exact SNR."""
    entries = []
    for index, (name, snr) in enumerate(SNR_DB.items()):
        clean = speech_like(1.0, sample_rate, seed=index)
        noise = np.random.default_rng(index).standard_normal(clean.num_samples)
        noise *= math.sqrt(float(clean.audio.double().pow(2).mean()) / np.mean(noise ** 2)) * 10 ** (-snr / 20)
        noisy = clean.replace(clean.audio + torch.from_numpy(noise.astype(np.float32))[None])
        write_audio(root / layout[1] / f"{name}.wav", clean, subtype="FLOAT")
        write_audio(root / layout[0] / f"{name}.wav", noisy, subtype="FLOAT")
        entries.append({"profile": "clean_ish" if snr > 5 else "loud_noise",
                        "phone": f"phone/{name}.wav", "studio": f"studio/{name}.wav"})
    if manifest:
        (root / "manifest.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    return root


class _Broken(System):
    name = "test_broken"
    summary = "fails on loud-noise files"

    def process_channel(self, audio, sample_rate):
        if np.sqrt(np.mean(audio ** 2)) > 0.12:  # the 0 dB file: RMS 0.14; the 10 dB one: 0.105
            raise RuntimeError("too loud for me")
        return audio


class _Missing(System):
    name = "test_missing"
    summary = "never available"

    @classmethod
    def available(cls):
        return False, "needs the imaginary package (pip install imaginary)"

    def process_channel(self, audio, sample_rate):
        return audio


class _Noisier(System):
    name = "test_noisier"
    summary = "adds white noise 10 dB under the input"

    def process_channel(self, audio, sample_rate):
        noise = np.random.default_rng(7).standard_normal(audio.shape[-1])
        return audio + noise * np.sqrt(np.mean(audio ** 2)) * 10 ** (-10 / 20)


@pytest.fixture
def test_systems():
    SYSTEMS.names()  # load the built-ins first
    for cls in (_Broken, _Missing, _Noisier):
        SYSTEMS.add(cls.name, cls)
    yield
    for cls in (_Broken, _Missing, _Noisier):
        SYSTEMS.remove(cls.name)


def test_bench_prints_one_table_and_writes_files(tmp_path, capsys):
    pairs = make_pairs(tmp_path / "pairs")
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(["bench", "--pairs", str(pairs), "--systems", "identity,noisereduce",
                                    "--metrics", "snr,si_sdr", "--out", str(out)], capsys)
    assert code == 0, stderr
    assert "| system | snr ↑ | si_sdr ↑ | rtf ↓ | cpu rtf ↓ | files |" in stdout
    assert "`identity`" in stdout and ("`noisereduce`" in stdout or "noisereduce: unavailable" in stderr)
    assert "profile `clean_ish` (1 file)" in stdout and "profile `loud_noise` (1 file)" in stdout
    for name in ("bench.md", "bench.csv", "bench.json"):
        assert (out / name).is_file()
    assert (out / "systems" / "identity" / "scores.csv").is_file()

    report = json.loads((out / "bench.json").read_text())
    identity = next(row for row in report["table"] if row["system"] == "identity")
    assert identity["snr"] == pytest.approx(np.mean(list(SNR_DB.values())), abs=0.05)
    assert identity["files"] == 2 and identity["rtf"] > 0
    assert report["threads"]["torch_threads"] == 1
    assert report["profiles"]["loud_noise"][0]["snr"] == pytest.approx(0.0, abs=0.05)
    assert report["files"] == {"a": "clean_ish", "sub/b": "loud_noise"}

    rows = list(csv.DictReader((out / "bench.csv").open()))
    assert {row["profile"] for row in rows} == {"all", "clean_ish", "loud_noise"}
    assert float(next(r for r in rows if r["profile"] == "clean_ish" and r["system"] == "identity")["snr"]) \
        == pytest.approx(10.0, abs=0.05)
    markdown = (out / "bench.md").read_text()
    assert "## Profile `loud_noise`" in markdown and "RTF = processing seconds / audio seconds" in markdown


def test_baseline_compares_every_other_system_file_by_file(tmp_path, capsys, test_systems):
    pairs = make_pairs(tmp_path / "pairs")
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(["bench", "--pairs", str(pairs), "--systems", "identity,test_noisier",
                                    "--metrics", "snr,lsd", "--baseline", "identity", "--out", str(out)], capsys)
    assert code == 0, stderr
    assert stdout.count("against `identity`, file by file") == 3  # overall and both profiles
    row = next(line for line in stdout.splitlines() if line.startswith("| `test_noisier` | -"))
    assert row.count("▼") == 2 and "0/2" in row  # both metrics worse on both files
    report = json.loads((out / "bench.json").read_text())
    assert report["baseline"] == "identity"
    snr = report["differences"]["all"]["test_noisier"]["snr"]
    assert snr["verdict"] == "worse" and snr["files"] == 2 and snr["high"] < 0
    assert report["differences"]["loud_noise"]["test_noisier"]["lsd"]["worse"] == 1
    assert "against `identity`" in (out / "bench.md").read_text()

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "paired.py"  # the saved run, the other way round
    reverse = subprocess.run([sys.executable, str(script), str(out / "bench.json"), "--baseline", "test_noisier"],
                             capture_output=True, text=True, check=True).stdout
    identity_row = next(line for line in reverse.splitlines() if line.startswith("| `identity` |"))
    assert identity_row.count("▲") == 2 and f"{-snr['mean']:+.4f}" in identity_row
    assert "profile `loud_noise` (1)" in reverse

    code, _, stderr = run_cli(["bench", "--pairs", str(pairs), "--systems", "identity", "--metrics", "snr",
                               "--baseline", "rnnoise"], capsys)
    assert code == 2 and "--baseline rnnoise: not one of --systems (identity)" in stderr


def test_bench_runs_every_baseline_and_denoisers_beat_identity_on_loud_noise(tmp_path, capsys):
    pairs = make_pairs(tmp_path / "pairs")
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(["bench", "--pairs", str(pairs), "--metrics", "snr", "--out", str(out)],
                                   capsys)
    assert code == 0, stderr
    report = json.loads((out / "bench.json").read_text())
    loud = {row["system"]: row for row in report["profiles"]["loud_noise"]}  # the 0 dB file
    for name in ("noisereduce", "rnnoise", "deepfilternet3"):
        if report["systems"][name]["ran"]:
            assert f"| `{name}` |" in stdout
            assert loud[name]["snr"] > loud["identity"]["snr"] + 2.0, name
            assert report["systems"][name]["rtf"] > 0
        else:
            assert f"{name}: unavailable" in stderr


def test_failing_and_unavailable_systems_are_one_line_and_the_run_goes_on(tmp_path, capsys, test_systems):
    pairs = make_pairs(tmp_path / "pairs", manifest=False)
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(["bench", "--pairs", str(pairs), "--systems",
                                    "identity,test_broken,test_missing", "--metrics", "snr",
                                    "--out", str(out)], capsys)
    assert code == 1, stdout + stderr
    problems = [line for line in stderr.splitlines() if line.strip()]
    assert any("test_missing: unavailable: needs the imaginary package" in line for line in problems)
    assert any("test_broken on" in line and "too loud for me" in line for line in problems)
    assert not any("Traceback" in line for line in problems)
    assert "`test_broken` |" in stdout and "1 (1 failed)" in stdout
    assert "`test_missing`" not in stdout
    report = json.loads((out / "bench.json").read_text())
    assert report["systems"]["test_missing"]["reason"].startswith("needs the imaginary")
    assert list(report["systems"]["test_broken"]["failed"]) == ["sub/b"]


def test_unknown_system_lists_the_available_ones(tmp_path, capsys):
    pairs = make_pairs(tmp_path / "pairs", manifest=False)
    code, _, stderr = run_cli(["bench", "--pairs", str(pairs), "--systems", "identity,rnnose"], capsys)
    assert code == 2
    assert "unknown system 'rnnose'" in stderr and "did you mean 'rnnoise'" in stderr
    assert "deepfilternet3" in stderr and "pipeline:<name or path>" in stderr


def test_unknown_stage_system_is_a_usage_error_naming_the_stages(tmp_path, capsys):
    pairs = make_pairs(tmp_path / "pairs", manifest=False)
    code, _, stderr = run_cli(["bench", "--pairs", str(pairs), "--systems", "identity,stage:mel_unt"], capsys)
    assert code == 2
    assert "unknown stage 'mel_unt'" in stderr and "did you mean 'mel_unet'" in stderr
    code, _, stderr = run_cli(["bench", "--pairs", str(pairs), "--systems", "stage:mel_unt@default"], capsys)
    assert code == 2 and "unknown stage 'mel_unt'" in stderr
    code, _, stderr = run_cli(["bench", "--pairs", str(pairs), "--systems", "stage:mel_unet@"], capsys)
    assert code == 2 and "names no weights" in stderr


def test_stage_system_with_a_weights_file(tmp_path, capsys):
    from aural import weights

    pairs = make_pairs(tmp_path / "pairs", manifest=False)
    shipped = weights.load("noise_reduction", "default")
    path = tmp_path / "nr.safetensors"
    weights.save(path, shipped.tensors, shipped.config)
    code, stdout, _ = run_cli(["bench", "--pairs", str(pairs), "--systems", f"stage:noise_reduction@{path}",
                               "--metrics", "snr", "--out", str(tmp_path / "out")], capsys)
    assert code == 0 and f"stage:noise_reduction@{path}" in stdout


def test_degraded_reference_layout_and_max_files(tmp_path, capsys):
    pairs = make_pairs(tmp_path / "pairs", layout=("degraded", "reference"), manifest=False)
    code, stdout, stderr = run_cli(["bench", "--pairs", str(pairs), "--systems", "identity",
                                    "--metrics", "snr", "--max-files", "1"], capsys)
    assert code == 0, stderr
    row = next(line for line in stdout.splitlines() if line.startswith("| `identity`"))
    # one of two files: the middle of the sorted names (sub/b, at 0 dB), not the first
    assert abs(float(row.split("|")[1:-1][1])) < 0.01 and row.rstrip(" |").endswith("1")


def noisy_copy(clean, snr_db, seed):
    noise = np.random.default_rng(seed).standard_normal(clean.num_samples)
    noise *= math.sqrt(float(clean.audio.double().pow(2).mean()) / np.mean(noise ** 2)) * 10 ** (-snr_db / 20)
    return clean.replace(clean.audio + torch.from_numpy(noise.astype(np.float32))[None])


def test_one_folder_per_pair_layout(tmp_path, capsys):
    pairs = tmp_path / "pairs"
    snr = {"utt1/noisy_10dB": 10.0, "utt1/noisy_0dB": 0.0, "vbd_2/degraded_clip": 5.0}
    for index, folder in enumerate(["utt1", "vbd_2"]):
        clean = speech_like(1.0, 16000, seed=index)
        write_audio(pairs / folder / "clean.flac", clean, subtype="PCM_24")
        for name, value in snr.items():
            if name.startswith(folder + "/"):
                write_audio(pairs / f"{name}.wav", noisy_copy(clean, value, len(name)), subtype="FLOAT")
    write_audio(pairs / "lonely" / "noisy.wav", speech_like(1.0, 16000))
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(["bench", "--pairs", str(pairs), "--systems", "identity",
                                    "--metrics", "snr,si_sdr", "--out", str(out)], capsys)
    assert code == 0, stderr
    assert stderr.strip().splitlines() == [
        f"aural: {pairs}: 1 folder skipped (lonely: no reference file (clean, reference or studio))"]
    report = json.loads((out / "bench.json").read_text())
    assert report["files"] == {name: None for name in sorted(snr)} and report["profiles"] == {}
    rows = {row["file"]: row for row in csv.DictReader((out / "systems" / "identity" / "scores.csv").open())}
    assert sorted(rows) == sorted(snr)
    for name, value in snr.items():
        assert float(rows[name]["snr"]) == pytest.approx(value, abs=0.05), name
    assert "| `identity` |" in stdout and "| 3 |" in stdout


def test_folder_without_pairs_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "nothing").mkdir()
    code, _, stderr = run_cli(["bench", "--pairs", str(tmp_path / "nothing"), "--systems", "identity"], capsys)
    assert code == 2 and "phone/ and studio/" in stderr
    assert "one folder per pair" in stderr and len(stderr.strip().splitlines()) == 1


def test_unreadable_input_is_reported_and_skipped(tmp_path, capsys):
    pairs = make_pairs(tmp_path / "pairs", manifest=False)
    (pairs / "phone" / "a.wav").write_bytes(b"not audio")
    code, stdout, stderr = run_cli(["bench", "--pairs", str(pairs), "--systems", "identity",
                                    "--metrics", "snr"], capsys)
    assert code == 1
    assert "a.wav" in stderr and "not a readable audio file" in stderr
    assert "| `identity` |" in stdout


def test_latency_option_reports_measured_delays(capsys):
    code, stdout, stderr = run_cli(["bench", "--latency", "--systems", "identity"], capsys)
    assert code == 0, stderr
    assert "identity: measured raw delay in samples at 48000 Hz: voiced 0 (output +0 dB), chirp 0" in stdout
    assert "0 at 16000 Hz" in stdout


def test_progress_in_a_log_is_plain_lines(tmp_path, capsys, monkeypatch):
    import aural.progress

    monkeypatch.setattr(aural.progress, "PLAIN_INTERVAL_S", 0.0)
    pairs = make_pairs(tmp_path / "pairs", layout=("degraded", "reference"), manifest=False)
    code, _, stderr = run_cli(["bench", "--pairs", str(pairs), "--systems", "identity", "--metrics", "snr"], capsys)
    assert code == 0, stderr
    lines = stderr.splitlines()
    assert lines[0].startswith("aural bench: 1 of ") and lines[-1].startswith("aural bench: ")
    assert "(100%)" in lines[-1] and "\r" not in stderr and "\x1b" not in stderr


def test_max_files_samples_across_profiles_and_names():
    from aural.bench import BenchPair, sample_pairs

    def pairs(names, profile=None):
        return [BenchPair(name, None, None, profile) for name in names]

    simulated = pairs(["a1", "a2", "a3", "a4"], "cellular") + pairs(["b1", "b2"], "voip") + \
        pairs(["c1", "c2", "c3", "c4", "c5", "c6"], "archival")
    picked = sample_pairs(simulated, 3)
    assert sorted(p.profile for p in picked) == ["archival", "cellular", "voip"]
    assert [p.file for p in sample_pairs(simulated, 6)] == ["a2", "a4", "b2", "c2", "c4", "c6"]
    plain = pairs([f"{prefix}_{i}" for prefix in ("emgse", "nhans", "vbd") for i in range(5)])
    assert [p.file for p in sample_pairs(plain, 3)] == ["emgse_2", "nhans_2", "vbd_2"]  # not emgse_0..2
    assert sample_pairs(plain, 99) == plain


def test_bench_on_recordings_without_references(tmp_path, capsys):
    folder = tmp_path / "recordings"
    for index in range(3):
        write_audio(folder / f"r{index}.wav", speech_like(1.2, 16000, seed=index))
    write_audio(folder / "narrow" / "phone.wav", speech_like(1.2, 16000, seed=7).resample(8000).resample(16000))
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(["bench", "--inputs", str(folder), "--systems", "identity",
                                    "--metrics", "bandwidth_hz,lufs,clipping_percent", "--out", str(out),
                                    "--max-files", "3"], capsys)
    assert code == 0, stderr
    row = next(line for line in stdout.splitlines() if line.startswith("| `identity`"))
    assert row.rstrip(" |").endswith("3")
    report = json.loads((out / "bench.json").read_text())
    assert report["reference_free"] is True and report["num_files"] == 3
    assert "recordings (no references)" in (out / "bench.md").read_text()
    code, _, stderr = run_cli(["bench", "--inputs", str(folder), "--systems", "identity", "--metrics", "snr"], capsys)
    assert code == 2 and "need a reference" in stderr
    code, _, stderr = run_cli(["bench", "--inputs", str(folder), "--pairs", str(folder)], capsys)
    assert code == 2 and "not both" in stderr


@pytest.mark.slow
def test_bench_on_real_recordings_without_references(tmp_path, capsys):
    from helpers import shared_data

    folder = shared_data("degraded")
    code, stdout, stderr = run_cli(["bench", "--inputs", str(folder), "--systems", "identity,stage:noise_reduction",
                                    "--metrics", "bandwidth_hz,lufs,clipping_percent"], capsys)
    assert code == 0, stderr
    rows = [line for line in stdout.splitlines() if line.startswith("| `")]
    assert len(rows) == 2 and all(row.rstrip(" |").endswith("| 6") for row in rows)
