"""``aural evaluate`` end to end: files and pipeline modes, bad input, reruns."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from aural.config import PipelineSpec
from aural.evaluate import OUTPUT_FILES
from aural.signal import Signal
from helpers import run_cli, shared_data, speech_like, write_audio

FAST = "snr,si_sdr,pesq_wb,stoi,lsd,lufs"


def degrade(signal: Signal, seed: int, delay_samples: int = 0, noise: float = 0.02) -> Signal:
    rng = np.random.default_rng(seed)
    audio = torch.cat([torch.zeros(signal.num_channels, delay_samples), signal.audio], dim=1)
    audio = audio + noise * torch.from_numpy(rng.standard_normal(tuple(audio.shape)).astype(np.float32))
    return Signal(audio, signal.sample_rate)


@pytest.fixture
def pairs(tmp_path):
    """studio/ at 48 kHz, phone/ at 16 kHz, delayed and noisy; one in a sub-folder."""
    root = tmp_path / "pairs"
    for i, name in enumerate(["a", "b", "sub/c"]):
        clean = speech_like(1.5, 48000, seed=i)
        write_audio(root / "studio" / f"{name}.flac", clean)
        write_audio(root / "phone" / f"{name}.wav", degrade(clean.resample(16000), i, delay_samples=80 * i))
    return root


def read_csv(path):
    return list(csv.reader(open(path)))


def outputs(folder):
    return {name: (folder / name).read_bytes() for name in OUTPUT_FILES}


def evaluate(pairs, out, capsys, *extra):
    return run_cli(["evaluate", "--reference", str(pairs / "studio"), "--degraded", str(pairs / "phone"),
                    "--out", str(out), "--metrics", FAST, "--jobs", "1", *extra], capsys)


def test_scores_folders_writes_all_outputs_and_reruns_identically(pairs, tmp_path, capsys):
    code, out, err = evaluate(pairs, tmp_path / "out1", capsys)
    assert code == 0, err
    assert "scored 3 files (0 failed)" in out
    table = read_csv(tmp_path / "out1" / "scores.csv")
    assert table[0] == ["file", *FAST.split(",")]
    assert [row[0] for row in table[1:]] == ["a", "b", "sub/c"]
    assert all(cell for row in table[1:] for cell in row)
    summary = json.loads((tmp_path / "out1" / "summary.json").read_text())
    assert summary["columns"]["pesq_wb"]["count"] == 3
    assert summary["rates"]["pesq_wb"] == {"resampled to 16000 Hz (reference 48000 Hz, degraded 16000 Hz)": 3}
    assert any("5.0 ms behind reference" in note for note in summary["notes"]["b"])
    assert "pesq" in summary["package_versions"]
    code, _, _ = evaluate(pairs, tmp_path / "out2", capsys)
    assert code == 0
    assert outputs(tmp_path / "out1") == outputs(tmp_path / "out2")


@pytest.mark.slow
def test_process_pool_gives_the_same_numbers(pairs, tmp_path, capsys):
    evaluate(pairs, tmp_path / "serial", capsys)
    code, _, err = evaluate(pairs, tmp_path / "pool", capsys, "--jobs", "2")
    assert code == 0, err
    assert outputs(tmp_path / "serial") == outputs(tmp_path / "pool")


def test_unreadable_file_is_one_line_and_the_rest_completes(pairs, tmp_path, capsys):
    (pairs / "phone" / "b.wav").write_bytes(b"RIFF not really a wave file")
    code, out, err = evaluate(pairs, tmp_path / "out", capsys)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "b.wav" in lines[0] and lines[0].startswith("aural: ")
    assert [row[0] for row in read_csv(tmp_path / "out" / "scores.csv")[1:]] == ["a", "sub/c"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert list(summary["failed"]) == ["b"] and summary["num_files"] == 2
    assert (tmp_path / "out" / "report.html").exists()


def test_unmatched_names_are_listed(pairs, tmp_path, capsys):
    write_audio(pairs / "phone" / "stray.wav", speech_like(1.0, 16000))
    write_audio(pairs / "studio" / "lonely.wav", speech_like(1.0, 16000))
    (pairs / "studio" / "a.flac").unlink()
    code, _, err = evaluate(pairs, tmp_path / "out", capsys)
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert "3 files without a partner (only in reference: lonely; only in degraded: a, stray)" in err
    assert [row[0] for row in read_csv(tmp_path / "out" / "scores.csv")[1:]] == ["b", "sub/c"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["unmatched"] == {"only in reference": ["lonely"], "only in degraded": ["a", "stray"]}


def test_mismatched_channels_lengths_silence_and_short_reference(tmp_path, capsys):
    ref, deg = tmp_path / "ref", tmp_path / "deg"
    clean = speech_like(2.0, 16000, seed=1)
    write_audio(ref / "stereo.wav", speech_like(2.0, 16000, num_channels=2))
    write_audio(deg / "stereo.wav", degrade(speech_like(2.0, 16000).to_mono(), 0))
    write_audio(ref / "long.wav", clean)
    write_audio(deg / "long.wav", degrade(clean, 1).slice(0, 24000))
    write_audio(ref / "silent.wav", Signal(torch.zeros(1, 16000), 16000))
    write_audio(deg / "silent.wav", speech_like(1.0, 16000))
    write_audio(ref / "short.wav", clean.slice(0, 4800))
    write_audio(deg / "short.wav", degrade(clean.slice(0, 4800), 2))
    code, _, err = run_cli(["evaluate", "--reference", str(ref), "--degraded", str(deg), "--out",
                            str(tmp_path / "out"), "--metrics", "pesq_wb,stoi,snr,mse,lufs", "--jobs", "1"], capsys)
    assert code == 0, err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    notes = summary["notes"]
    assert "reference: 2 channels scored as a mono mixdown" in notes["stereo"]
    assert any("trimmed to the 1.50 s overlap" in n for n in notes["long"])
    reasons = {column: cell["reasons"] for column, cell in summary["columns"].items()}
    assert reasons["snr"] == {"undefined: reference is silent (below -90 dBFS RMS)": ["silent"]}
    assert reasons["pesq_wb"]["needs at least 0.4 s of audio overlapping the reference, got 0.30 s"] == ["short"]
    assert reasons["stoi"]["needs at least 0.4 s of audio overlapping the reference, got 0.30 s"] == ["short"]
    short = {row["file"]: row for row in csv.DictReader(open(tmp_path / "out" / "scores.csv"))}["short"]
    assert short["snr"] and short["mse"] and not short["pesq_wb"] and not short["stoi"]


def test_usage_errors(pairs, tmp_path, capsys):
    code, _, err = run_cli(["evaluate", "--reference", str(pairs / "studio"), "--degraded",
                            str(pairs / "phone")], capsys)
    assert code == 2 and "--out is required" in err
    code, _, err = run_cli(["evaluate", "--pairs", str(pairs), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "--pairs needs a PIPELINE" in err
    code, _, err = evaluate(pairs, tmp_path / "o", capsys, "--metrics", "pesq_wbb")
    assert code == 2 and "did you mean 'pesq_wb'" in err
    assert not (tmp_path / "o").exists()
    code, _, err = run_cli(["evaluate", "--reference", str(tmp_path / "nope"), "--degraded",
                            str(pairs / "phone"), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "reference folder does not exist" in err
    assert len(err.strip().splitlines()) == 1


def test_list_metrics(capsys):
    code, out, _ = run_cli(["evaluate", "--list-metrics"], capsys)
    assert code == 0
    assert out.splitlines()[0].startswith("pesq_wb") and "dnsmos_ovrl" in out


class StandIn:
    """A pipeline stand-in: halves the level; fails on one file if asked."""

    name = "stand_in"
    spec = PipelineSpec(name="stand_in", stages=())  # nothing left out

    def __init__(self, fail_on: str | None = None):
        self.fail_on = fail_on

    def process(self, signal: Signal) -> Signal:
        if self.fail_on and self.fail_on in str(signal.meta.get("source")):
            raise RuntimeError("model exploded")
        return signal.replace(signal.audio * 0.5)


def test_pipeline_mode_scores_input_output_and_delta(pairs, tmp_path, capsys, monkeypatch):
    import aural.pipeline

    monkeypatch.setattr(aural.pipeline, "load_pipeline", lambda name, overrides=(): StandIn())
    code, out, err = run_cli(["evaluate", "stand_in", "--pairs", str(pairs), "--out", str(tmp_path / "out"),
                              "--metrics", "snr,lufs", "--jobs", "1", "--save-outputs"], capsys)
    assert code == 0, err
    table = read_csv(tmp_path / "out" / "scores.csv")
    assert table[0] == ["file", "input_snr", "output_snr", "delta_snr", "input_lufs", "output_lufs", "delta_lufs"]
    for row in table[1:]:
        assert float(row[6]) == pytest.approx(20 * np.log10(0.5), abs=1e-3)
        assert float(row[3]) == pytest.approx(float(row[2]) - float(row[1]))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["pipeline"] == "stand_in" and summary["mode"] == "pipeline"
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.count("<audio controls") == 9
    assert (tmp_path / "out" / "outputs" / "sub" / "c.wav").exists()


def test_pipeline_failure_on_one_file(pairs, tmp_path, capsys, monkeypatch):
    import aural.pipeline

    monkeypatch.setattr(aural.pipeline, "load_pipeline", lambda name, overrides=(): StandIn(fail_on="b.wav"))
    code, _, err = run_cli(["evaluate", "x", "--pairs", str(pairs), "--out", str(tmp_path / "out"),
                            "--metrics", "snr", "--jobs", "1"], capsys)
    assert code == 1
    assert err.strip().splitlines() == [f"aural: {pairs / 'phone' / 'b.wav'}: pipeline stand_in failed: "
                                        "RuntimeError: model exploded"]
    assert [row[0] for row in read_csv(tmp_path / "out" / "scores.csv")[1:]] == ["a", "sub/c"]


def test_pipeline_mode_on_one_folder_per_pair(tmp_path, capsys, monkeypatch):
    import aural.pipeline

    root = tmp_path / "pairs"
    for i, folder in enumerate(["utt1", "utt2"]):
        clean = speech_like(1.0, 16000, seed=i)
        write_audio(root / folder / "clean.flac", clean)
        write_audio(root / folder / "noisy.wav", degrade(clean, i))
    write_audio(root / "utt2" / "noisy_car_4dB.wav", degrade(speech_like(1.0, 16000, seed=1), 5))
    write_audio(root / "bad" / "clean.wav", speech_like(1.0, 16000))
    write_audio(root / "bad" / "studio.wav", speech_like(1.0, 16000))
    write_audio(root / "bad" / "noisy.wav", speech_like(1.0, 16000))
    monkeypatch.setattr(aural.pipeline, "load_pipeline", lambda name, overrides=(): StandIn())
    code, _, err = run_cli(["evaluate", "stand_in", "--pairs", str(root), "--out", str(tmp_path / "out"),
                            "--metrics", "snr,lufs", "--jobs", "1"], capsys)
    assert code == 1  # a skipped folder counts as unmatched
    assert err.strip().splitlines() == [f"aural: {root}: 1 folder skipped (bad: 2 reference files "
                                        "(clean.wav, studio.wav))"]
    table = read_csv(tmp_path / "out" / "scores.csv")
    assert [row[0] for row in table[1:]] == ["utt1/noisy", "utt2/noisy", "utt2/noisy_car_4dB"]
    for row in table[1:]:
        assert float(row[6]) == pytest.approx(20 * np.log10(0.5), abs=1e-3)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["unmatched"]["skipped folders"] == ["bad: 2 reference files (clean.wav, studio.wav)"]


def test_real_pipeline_file(pairs, tmp_path, capsys):
    from aural.stages import STAGES

    if "dynamics" not in STAGES:
        pytest.skip("the dynamics stage is not available yet")
    yaml_path = tmp_path / "gentle.yaml"
    yaml_path.write_text("aural: 1\nname: gentle\nstages:\n  - stage: dynamics\n"
                         "    params: {threshold_db: -30.0, ratio: 2.0}\n")
    code, _, err = run_cli(["evaluate", str(yaml_path), "--pairs", str(pairs), "--out", str(tmp_path / "out"),
                            "--metrics", "snr,lufs", "--jobs", "1"], capsys)
    assert code == 0, err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["pipeline"] == "gentle" and summary["columns"]["delta_lufs"]["count"] == 3
    gentle = summary["columns"]["delta_lufs"]["mean"]
    code, _, err = run_cli(["evaluate", str(yaml_path), "--pairs", str(pairs), "--out", str(tmp_path / "set"),
                            "--metrics", "lufs", "--jobs", "1", "--set", "dynamics.makeup_db=6"], capsys)
    assert code == 0, err
    raised = json.loads((tmp_path / "set" / "summary.json").read_text())["columns"]["delta_lufs"]["mean"]
    assert raised == pytest.approx(gentle + 6.0, abs=0.5)
    code, _, err = run_cli(["evaluate", str(yaml_path), "--pairs", str(pairs), "--out", str(tmp_path / "bad"),
                            "--set", "dynamics.makeup_db=99"], capsys)
    assert code == 2 and err.startswith("aural: --set dynamics.makeup_db=99: stages[0].params.makeup_db: expected")
    code, _, err = evaluate(pairs, tmp_path / "bad", capsys, "--set", "dynamics.ratio=2")
    assert code == 2 and "--set changes a PIPELINE's params" in err


def test_rows_are_written_as_they_complete(pairs, tmp_path, capsys, monkeypatch):
    """While the pipeline works on the second file, scores.csv already holds the first."""
    import aural.pipeline

    seen = []

    class Watching(StandIn):
        def process(self, signal):
            seen.append(read_csv(tmp_path / "out" / "scores.csv"))
            return super().process(signal)

    monkeypatch.setattr(aural.pipeline, "load_pipeline", lambda name, overrides=(): Watching())
    code, _, err = run_cli(["evaluate", "w", "--pairs", str(pairs), "--out", str(tmp_path / "out"),
                            "--metrics", "snr", "--jobs", "1"], capsys)
    assert code == 0, err
    assert [[row[0] for row in table[1:]] for table in seen] == [[], ["a"], ["a", "b"]]
    assert seen[0][0] == ["file", "input_snr", "output_snr", "delta_snr"]


def test_progress_in_a_log_is_plain_lines(pairs, tmp_path, capsys, monkeypatch):
    import aural.progress

    code, _, err = evaluate(pairs, tmp_path / "quick", capsys)
    assert code == 0 and err == ""  # a run of a few seconds prints no progress in a log
    monkeypatch.setattr(aural.progress, "PLAIN_INTERVAL_S", 0.0)
    code, _, err = evaluate(pairs, tmp_path / "out", capsys)
    assert code == 0
    assert err.splitlines()[-1].startswith("aural evaluate: 3 of 3 files (100%), ")
    assert "\r" not in err and "\x1b" not in err


def recordings(folder):
    """A clean wideband clip, a clipped one and one limited to the 4 kHz phone band."""
    clean = speech_like(2.0, 16000, seed=3, level_db=-20.0)
    write_audio(folder / "clean.wav", clean)
    write_audio(folder / "loud" / "clipped.wav", clean.replace((clean.audio * 30).clamp(-1, 1)))
    write_audio(folder / "phone.flac", clean.resample(8000).resample(16000))
    return folder


def test_recordings_without_references_are_scored_reference_free(tmp_path, capsys):
    folder = recordings(tmp_path / "rec")
    code, out, err = run_cli(["evaluate", "--degraded", str(folder), "--out", str(tmp_path / "out"), "--jobs", "1",
                              "--metrics", "bandwidth_hz,clipping_percent,lufs,true_peak_db"], capsys)
    assert code == 0, err
    rows = {row[0]: row for row in read_csv(tmp_path / "out" / "scores.csv")}
    assert rows["file"] == ["file", "bandwidth_hz", "clipping_percent", "lufs", "true_peak_db"]
    bandwidth = {name: float(rows[name][1]) for name in ("clean", "loud/clipped", "phone")}
    assert bandwidth["phone"] < 4200 < 7000 < bandwidth["clean"]
    assert float(rows["loud/clipped"][2]) > 5.0 and float(rows["clean"][2]) == 0.0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["mode"] == "recordings" and summary["num_files"] == 3
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.count("<audio controls") == 3 and "worst first by <code>bandwidth_hz</code>" in page
    assert page.index('id="phone"') < page.index('id="clean"')  # the narrowest band first


def test_recordings_mode_refuses_metrics_that_need_a_reference(tmp_path, capsys):
    folder = recordings(tmp_path / "rec")
    code, _, err = run_cli(["evaluate", "--degraded", str(folder), "--out", str(tmp_path / "out"),
                            "--metrics", "snr,lufs"], capsys)
    assert code == 2 and "snr: needs a reference" in err and err.count("\n") == 1


@pytest.mark.slow
def test_real_recordings_without_references(tmp_path, capsys):
    from aural.metrics import get_metric, reference_free_metric_names

    folder = shared_data("degraded")
    if get_metric("dnsmos_ovrl_norm").unavailable_reason():
        pytest.skip(get_metric("dnsmos_ovrl_norm").unavailable_reason())
    code, _, err = run_cli(["evaluate", "--degraded", str(folder), "--out", str(tmp_path / "out"), "--jobs", "1"],
                           capsys)
    assert code == 0, err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert list(summary["metrics"]) == reference_free_metric_names()
    assert {"dnsmos_ovrl_norm", "bandwidth_hz", "lufs", "clipping_percent"} <= set(summary["metrics"])
    assert "dnsmos_ovrl" not in summary["metrics"]  # the level-matched one stands in for it
    for name in ("dnsmos_ovrl_norm", "srmrnorm", "bandwidth_hz", "lufs", "clipping_percent"):
        assert summary["columns"][name]["count"] == summary["num_files"] == 6, name
    # the input row of benchmarks/results/bench_real_recordings_no_reference.md (aural bench --inputs)
    assert summary["columns"]["dnsmos_ovrl_norm"]["mean"] == pytest.approx(2.886, abs=0.01)


class Spoiler(StandIn):
    """Leaves every file alone but one, which it buries in noise."""

    def process(self, signal: Signal) -> Signal:
        if "sub" in str(signal.meta.get("source")):
            noise = torch.from_numpy(np.random.default_rng(0).standard_normal(tuple(signal.audio.shape)))
            return signal.replace(signal.audio + 0.3 * noise.float())
        return signal


def test_report_shows_the_worst_files_first(pairs, tmp_path, capsys, monkeypatch):
    import aural.pipeline

    monkeypatch.setattr(aural.pipeline, "load_pipeline", lambda name, overrides=(): Spoiler())
    code, _, err = run_cli(["evaluate", "spoiler", "--pairs", str(pairs), "--out", str(tmp_path / "out"),
                            "--metrics", "snr", "--jobs", "1", "--report-files", "1"], capsys)
    assert code == 0, err
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.count('<section class="file"') == 1 and 'id="sub/c"' in page  # processed last, shown
    assert "worst first by <code>delta_snr</code>" in page
