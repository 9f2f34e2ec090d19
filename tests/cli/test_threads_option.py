"""``--threads N`` and ``$AURAL_THREADS`` on run, evaluate, bench and train."""

from __future__ import annotations

import json
import os

import pytest
import torch

from aural import threads
from helpers import run_cli, speech_like, write_audio
from test_bench import make_pairs


@pytest.fixture(autouse=True)
def restore_threads(monkeypatch):
    for name in threads.POOL_ENV:
        monkeypatch.setenv(name, os.environ.get(name, ""))
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    monkeypatch.setattr(threads, "_configured", None)
    saved = torch.get_num_threads()
    yield
    torch.set_num_threads(saved)


@pytest.fixture
def memo(tmp_path):
    return str(write_audio(tmp_path / "memo.wav", speech_like(1.0, 16000)))


def run_podcast_master(tmp_path, memo, capsys, *options):
    return run_cli(["run", "podcast_master", memo, "-o", str(tmp_path / "out"), "-q", "--overwrite", *options],
                   capsys)


@pytest.mark.parametrize("command", ["run", "evaluate", "bench", "train"])
def test_every_computing_command_takes_threads(command, capsys):
    code, out, _ = run_cli([command, "--help"], capsys)
    assert code == 0 and "--threads N" in out and "AURAL_THREADS" in out


def test_default_is_one_thread(tmp_path, memo, capsys):
    torch.set_num_threads(2)
    code, _, err = run_podcast_master(tmp_path, memo, capsys)
    assert code == 0, err
    assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"


def test_option_and_environment(tmp_path, memo, capsys, monkeypatch):
    code, _, err = run_podcast_master(tmp_path, memo, capsys, "--threads", "2")
    assert code == 0, err
    assert torch.get_num_threads() == 2 and os.environ["OMP_NUM_THREADS"] == "2"
    monkeypatch.setenv("AURAL_THREADS", "3")
    assert run_podcast_master(tmp_path, memo, capsys)[0] == 0
    assert torch.get_num_threads() == 3
    assert run_podcast_master(tmp_path, memo, capsys, "--threads", "2")[0] == 0  # the option wins
    assert torch.get_num_threads() == 2


def test_bad_values_are_one_line_usage_errors(tmp_path, memo, capsys, monkeypatch):
    code, _, err = run_podcast_master(tmp_path, memo, capsys, "--threads", "0")
    assert code == 2 and "--threads" in err and "Traceback" not in err
    monkeypatch.setenv("AURAL_THREADS", "many")
    code, _, err = run_podcast_master(tmp_path, memo, capsys)
    assert code == 2
    assert err.strip() == "aural: $AURAL_THREADS='many': expected a whole number of threads >= 1"
    assert not (tmp_path / "out").exists()


def test_bench_times_with_the_threads_asked_for(tmp_path, capsys):
    pairs = make_pairs(tmp_path / "pairs")
    code, _, err = run_cli(["bench", "--pairs", str(pairs), "--systems", "identity", "--metrics", "snr",
                             "--threads", "2", "--out", str(tmp_path / "out")], capsys)
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert report["threads"]["torch_threads"] == 2
    assert "2 threads (torch.set_num_threads(2)" in (tmp_path / "out" / "bench.md").read_text()
