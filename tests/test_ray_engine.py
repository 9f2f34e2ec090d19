"""``aural run --engine ray``: the same outputs (stems included), reports and exit status as a local run."""

import sys

import pytest
import soundfile as sf

from helpers import run_cli, speech_like, write_audio


def test_ray_options_without_the_ray_engine_are_a_usage_error(tmp_path, quick_pipeline, capsys):
    src = write_audio(tmp_path / "in.wav", speech_like(0.5, 16000))
    code, _, err = run_cli(["run", quick_pipeline, str(src), "-o", str(tmp_path / "o"), "--num-workers", "2"], capsys)
    assert (code, err) == (2, "aural: --num-workers: only with --engine ray\n")
    assert not (tmp_path / "o").exists()


def test_without_ray_installed_the_message_says_how_to_install_it(tmp_path, quick_pipeline, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    src = write_audio(tmp_path / "in.wav", speech_like(0.5, 16000))
    code, _, err = run_cli(["run", quick_pipeline, str(src), "-o", str(tmp_path / "o"), "--engine", "ray"], capsys)
    assert code == 2
    assert err == "aural: --engine ray needs Ray, which is not installed: pip install 'aural[ray]' (or pip install ray)\n"
    assert not (tmp_path / "o").exists()


def _corpus(src):
    """20 files in two sub-folders, 2 of them broken; returns the broken ones."""
    for index in range(18):
        folder = src / ("speech" if index % 2 else "music") / f"part{index % 3}"
        num_channels = 2 if index % 5 == 0 else 1
        write_audio(folder / f"take{index:02d}.wav", speech_like(1.0, 16000, num_channels=num_channels, seed=index))
    broken = [src / "speech" / "broken.wav", src / "music" / "part1" / "empty.flac"]
    broken[0].write_text("not audio")
    sf.write(str(broken[1]), [], 16000, format="FLAC")
    return broken


@pytest.mark.slow
def test_a_local_ray_writes_what_a_local_run_writes(tmp_path, quick_pipeline, capsys):
    pytest.importorskip("ray")
    src = tmp_path / "in"
    broken = _corpus(src)
    before = {p: p.read_bytes() for p in src.rglob("*") if p.is_file()}

    code, _, local_err = run_cli(["run", quick_pipeline, str(src), "-o", str(tmp_path / "local"), "-q"], capsys)
    assert code == 1, local_err
    # one Ray start: a local Ray of 2 CPUs, one worker each
    code, _, ray_err = run_cli(["run", quick_pipeline, str(src), "-o", str(tmp_path / "ray"), "-q",
                                "--engine", "ray", "--num-workers", "2"], capsys)
    assert code == 1, ray_err

    local = {p.relative_to(tmp_path / "local"): p.read_bytes() for p in (tmp_path / "local").rglob("*") if p.is_file()}
    on_ray = {p.relative_to(tmp_path / "ray"): p.read_bytes() for p in (tmp_path / "ray").rglob("*") if p.is_file()}
    assert len(local) == 18
    assert sorted(on_ray) == sorted(local)  # the layout kept, nothing else written (no temporaries)
    assert {p.relative_to(src) for p in before if p not in broken} == set(local)
    for path in local:
        assert on_ray[path] == local[path], path
    lines = [line for line in ray_err.splitlines() if line.strip()]
    for path in broken:
        assert sum(line.startswith(f"aural: {path}: ") for line in lines) == 1, ray_err
    assert lines[-1] == f"aural: 18 of 20 files written to {tmp_path / 'ray'}, 2 failed"
    assert len(lines) == 3 and "Traceback" not in ray_err, ray_err
    assert {p: p.read_bytes() for p in src.rglob("*") if p.is_file()} == before  # inputs untouched


@pytest.mark.slow
def test_a_local_ray_writes_the_stems_a_local_run_writes(tmp_path, capsys):
    pytest.importorskip("ray")
    from helpers import separation_weights

    pipeline = tmp_path / "split.yaml"
    pipeline.write_text(f"aural: 1\nstages:\n  - stage: separation\n    weights: {separation_weights(tmp_path)}\n"
                        "  - stage: dynamics\n    apply_to: voice\n    params: {makeup_db: -6, ratio: 1}\n")
    src = tmp_path / "in"
    for index in range(3):
        write_audio(src / f"talk{index}.wav", speech_like(1.0, 22050, num_channels=1 + index % 2, seed=index))
    (src / "broken.wav").write_text("not audio")
    code, _, err = run_cli(["run", str(pipeline), str(src), "-o", str(tmp_path / "x"), "--engine", "ray"], capsys)
    assert code == 2 and "ends with stems (voice, background): add --stems" in err  # said before Ray starts

    code, _, local_err = run_cli(["run", str(pipeline), str(src), "-o", str(tmp_path / "local"), "--stems", "-q"],
                                 capsys)
    assert code == 1, local_err
    code, _, ray_err = run_cli(["run", str(pipeline), str(src), "-o", str(tmp_path / "ray"), "--stems", "-q",
                                "--engine", "ray", "--num-workers", "2"], capsys)
    assert code == 1, ray_err

    local = {p.relative_to(tmp_path / "local"): p.read_bytes() for p in (tmp_path / "local").rglob("*") if p.is_file()}
    on_ray = {p.relative_to(tmp_path / "ray"): p.read_bytes() for p in (tmp_path / "ray").rglob("*") if p.is_file()}
    assert sorted(p.as_posix() for p in local) == [f"talk{i}/{stem}.wav" for i in range(3)
                                                  for stem in ("background", "voice")]
    assert sorted(on_ray) == sorted(local) and not (tmp_path / "ray" / "broken").exists()
    for path in local:
        assert on_ray[path] == local[path], path
    lines = [line for line in ray_err.splitlines() if line.strip()]
    assert lines[0].startswith(f"aural: {src / 'broken.wav'}: ") and "Traceback" not in ray_err, ray_err
    assert lines[-1] == f"aural: 3 of 4 files written to {tmp_path / 'ray'}, 1 failed"
