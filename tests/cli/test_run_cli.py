"""``aural run`` end to end, and every kind of bad input the CLI must survive."""


import numpy as np
import pytest
import soundfile as sf
import torch

from aural import io
from helpers import QUICK_PIPELINE, run_cli, speech_like, tone, write_audio


def snapshot(folder):
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_runs_a_folder_keeping_its_layout(tmp_path, quick_pipeline, capsys):
    src = tmp_path / "in"
    write_audio(src / "a.wav", speech_like(2.0, 16000))
    write_audio(src / "sub" / "b.flac", speech_like(2.0, 44100, num_channels=2, seed=1))
    before = snapshot(src)
    code, _, err = run_cli(["run", quick_pipeline, str(src), "-o", str(tmp_path / "out"), "-q"], capsys)
    assert code == 0, err
    a = io.read(tmp_path / "out" / "a.wav")
    b = io.read(tmp_path / "out" / "sub" / "b.flac")
    assert (a.sample_rate, a.num_samples) == (16000, 32000)
    assert (b.sample_rate, b.num_channels) == (44100, 2)
    assert snapshot(src) == before


def test_single_file_to_file_with_options(tmp_path, quick_pipeline, capsys):
    src = write_audio(tmp_path / "in.wav", speech_like(1.0, 16000))
    out = tmp_path / "out.flac"
    code, _, err = run_cli(["run", quick_pipeline, str(src), "-o", str(out), "--sample-rate", "48000",
                            "--subtype", "PCM_16", "-q"], capsys)
    assert code == 0, err
    info = io.info(out)
    assert (info.sample_rate, info.subtype, info.num_frames) == (48000, "PCM_16", 48000)


def test_builtin_pipeline_by_name(tmp_path, capsys):
    src = write_audio(tmp_path / "in.wav", speech_like(1.0, 16000))
    code, _, err = run_cli(["run", "podcast_master", str(src), "-o", str(tmp_path / "o"), "-q"], capsys)
    assert code == 0, err
    assert (tmp_path / "o" / "in.wav").exists()


def test_a_broken_file_is_reported_and_the_batch_goes_on(tmp_path, quick_pipeline, capsys):
    src = tmp_path / "in"
    write_audio(src / "good1.wav", speech_like(1.0, 16000))
    (src / "broken.wav").write_text("not audio")
    write_audio(src / "good2.wav", speech_like(1.0, 16000, seed=2))
    code, _, err = run_cli(["run", quick_pipeline, str(src), "-o", str(tmp_path / "out"), "-q"], capsys)
    assert code == 1
    assert "broken.wav: not a readable audio file" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good1.wav", "good2.wav"]


def one_line_error(args, capsys, expected_code):
    code, _, err = run_cli(args, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == expected_code, err
    assert "Traceback" not in err
    return lines


def test_missing_input(tmp_path, quick_pipeline, capsys):
    lines = one_line_error(["run", quick_pipeline, str(tmp_path / "nope.wav"), "-o", str(tmp_path / "o")], capsys, 2)
    assert lines == [f"aural: {tmp_path / 'nope.wav'}: no such file or folder"]


def test_folder_without_audio(tmp_path, quick_pipeline, capsys):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.txt").write_text("hi")
    lines = one_line_error(["run", quick_pipeline, str(tmp_path / "docs"), "-o", str(tmp_path / "o")], capsys, 2)
    assert len(lines) == 1 and "folder contains no audio files" in lines[0]


@pytest.mark.parametrize("make, problem", [
    (lambda p: p.write_text("hello"), "not a readable audio file"),
    (lambda p: sf.write(str(p), np.zeros((0, 1)), 16000), "no audio (0 samples)"),
    (lambda p: sf.write(str(p), np.full((100, 1), np.inf, dtype=np.float32), 16000, subtype="FLOAT"),
     "NaN or infinite"),
])
def test_unusable_files(tmp_path, quick_pipeline, capsys, make, problem):
    path = tmp_path / "bad.wav"
    make(path)
    before = path.read_bytes()
    lines = one_line_error(["run", quick_pipeline, str(path), "-o", str(tmp_path / "o"), "-q"], capsys, 1)
    assert lines[0].startswith(f"aural: {path}: ") and problem in lines[0]
    assert path.read_bytes() == before
    assert not (tmp_path / "o" / "bad.wav").exists()


def test_output_equal_to_input_is_refused(tmp_path, quick_pipeline, capsys):
    src = write_audio(tmp_path / "in.wav", speech_like(1.0, 16000))
    before = src.read_bytes()
    lines = one_line_error(["run", quick_pipeline, str(src), "-o", str(src)], capsys, 2)
    assert "output path equals an input file" in lines[0]
    assert src.read_bytes() == before


def test_existing_output_needs_overwrite(tmp_path, quick_pipeline, capsys):
    src = write_audio(tmp_path / "in.wav", speech_like(1.0, 16000))
    out = tmp_path / "out.wav"
    out.write_bytes(b"keep me")
    lines = one_line_error(["run", quick_pipeline, str(src), "-o", str(out)], capsys, 2)
    assert "exists; use --overwrite" in lines[0] and out.read_bytes() == b"keep me"
    code, _, err = run_cli(["run", quick_pipeline, str(src), "-o", str(out), "--overwrite", "-q"], capsys)
    assert code == 0, err and io.info(out).num_frames == 16000


def test_unwritable_output_folder(tmp_path, quick_pipeline, capsys):
    src = write_audio(tmp_path / "in.wav", speech_like(1.0, 16000))
    blocker = tmp_path / "file_not_folder"
    blocker.write_text("x")
    lines = one_line_error(["run", quick_pipeline, str(src), "-o", str(blocker / "out"), "-q"], capsys, 1)
    assert "cannot create the output folder" in lines[0] or "cannot write" in lines[0]


def test_bad_pipeline_is_exit_2_before_reading_inputs(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(QUICK_PIPELINE.replace("ratio: 2.0", "ratio: loud"))
    lines = one_line_error(["run", str(bad), str(tmp_path / "nothing.wav"), "-o", str(tmp_path / "o")], capsys, 2)
    assert lines == [f"aural: {bad}:5 stages[0].params.ratio: expected a number in 1..1000, got 'loud'"]


@pytest.mark.parametrize("name, signal", [
    ("silent.wav", lambda: tone(amplitude=0.0, sample_rate=16000)),
    ("dc.wav", lambda: speech_like(2.0, 16000).replace(speech_like(2.0, 16000).audio * 0.3 + 0.6)),
    ("short.wav", lambda: speech_like(0.1, 16000)),
    ("rate8k.wav", lambda: speech_like(1.0, 8000)),
    ("rate192k.wav", lambda: speech_like(0.5, 192000)),
    ("six.wav", lambda: speech_like(1.0, 48000, num_channels=6)),
])
def test_awkward_but_valid_audio_runs(tmp_path, quick_pipeline, capsys, name, signal):
    sig = signal()
    src = write_audio(tmp_path / name, sig, subtype="FLOAT")
    code, _, err = run_cli(["run", quick_pipeline, str(src), "-o", str(tmp_path / "out"), "-q"], capsys)
    assert code == 0, err
    out = io.read(tmp_path / "out" / name)
    assert (out.sample_rate, out.num_channels, out.num_samples) == (sig.sample_rate, sig.num_channels, sig.num_samples)
    assert torch.isfinite(out.audio).all() and out.audio.abs().max() <= 1.0


def test_validate_and_stages_commands(tmp_path, quick_pipeline, capsys):
    code, out, _ = run_cli(["validate", quick_pipeline, "phone_to_studio"], capsys)
    assert code == 0 and out.count("ok:") == 2
    code, _, err = run_cli(["validate", str(tmp_path / "missing.yaml")], capsys)
    assert code == 2 and "no such pipeline file" in err
    code, out, _ = run_cli(["stages"], capsys)
    assert code == 0 and "dynamics (DSP)" in out and "threshold_db" in out
    code, out, _ = run_cli(["stages", "show", "mix_master"], capsys)
    assert code == 0 and "target_lufs" in out
    code, _, err = run_cli(["stages", "show", "dynamic"], capsys)
    assert code == 2 and "did you mean 'dynamics'" in err


def test_set_changes_a_param_and_bad_values_are_exit_2(tmp_path, quick_pipeline, capsys):
    from aural.metrics.loudness import lufs

    source = write_audio(tmp_path / "in.wav", speech_like(4.0, 16000))
    code, _, err = run_cli(["run", quick_pipeline, str(source), "-o", str(tmp_path / "loud.wav"), "-q",
                            "--set", "mix_master.target_lufs=-20"], capsys)
    assert code == 0, err
    quiet = io.read(tmp_path / "loud.wav")
    assert abs(lufs(None, quiet.audio.double().numpy(), quiet.sample_rate) + 20.0) < 0.5  # the preset gives -16
    code, _, err = run_cli(["run", quick_pipeline, str(source), "-o", str(tmp_path / "x.wav"), "-q",
                            "--set", "dynamics.ratio=loud"], capsys)
    assert code == 2 and not (tmp_path / "x.wav").exists()
    assert err == "aural: --set dynamics.ratio=loud: stages[0].params.ratio: expected a number in 1..1000, got 'loud'\n"
    code, _, err = run_cli(["run", quick_pipeline, str(source), "-o", str(tmp_path / "x.wav"), "--set", "ratio=2"],
                           capsys)
    assert code == 2 and "expected STAGE.PARAM=VALUE" in err and err.count("\n") == 1


def test_progress_in_a_log_is_plain_lines_per_pass(tmp_path, quick_pipeline, capsys, monkeypatch):
    import aural.progress

    monkeypatch.setattr(aural.progress, "PLAIN_INTERVAL_S", 0.0)  # a line at every update
    for name in ("a", "b"):
        write_audio(tmp_path / "in" / f"{name}.wav", speech_like(1.0, 16000))
    code, _, err = run_cli(["run", quick_pipeline, str(tmp_path / "in"), "-o", str(tmp_path / "out")], capsys)
    assert code == 0, err
    assert "\r" not in err and "\x1b" not in err
    lines = err.splitlines()
    # dynamics streams into a spool, mix_master measures loudness, then normalises: three passes
    for step in ("pass 1 of 3 (dynamics)", "pass 2 of 3 (analysis for mix_master)", "pass 3 of 3 (mix_master)"):
        assert any(line.startswith(f"aural run: a.wav: {step}: ") for line in lines), step
    assert any(line.startswith("aural run: files: 2 of 2 files (100%)") for line in lines)
    code, _, err = run_cli(["run", quick_pipeline, str(tmp_path / "in"), "-o", str(tmp_path / "q"), "-q"], capsys)
    assert code == 0 and "%" not in err
