"""``aural data rooms``: a reproducible bank of simulated room impulse responses."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import soundfile as sf

from helpers import run_cli


def rooms(capsys, out, *extra):
    return run_cli(["data", "rooms", "--out", str(out), "--count", "6", "--seed", "4", *extra], capsys)


def test_same_seed_same_files_and_a_manifest(tmp_path, capsys):
    pytest.importorskip("pyroomacoustics")
    code, _, err = rooms(capsys, tmp_path / "a")
    assert code == 0, err
    code, _, err = rooms(capsys, tmp_path / "b")
    assert code == 0, err
    entries = [json.loads(line) for line in (tmp_path / "a" / "rooms.jsonl").read_text().splitlines()]
    assert [e["file"] for e in entries] == [f"room-{i:05d}.wav" for i in range(6)]
    for entry in entries:
        a, rate = sf.read(tmp_path / "a" / entry["file"], dtype="float32")
        b, _ = sf.read(tmp_path / "b" / entry["file"], dtype="float32")
        assert rate == 16000 and np.array_equal(a, b) and len(a) == entry["num_samples"]
        for key in ("seed", "room_seed", "kind", "corners_m", "height_m", "talker_m", "mic_m", "mic_pattern",
                    "rt60_target_s", "rt60_measured_s", "drr_db"):
            assert key in entry
    assert (tmp_path / "a" / "rooms.jsonl").read_bytes() == (tmp_path / "b" / "rooms.jsonl").read_bytes()
    code, _, err = rooms(capsys, tmp_path / "c", "--seed", "5")
    first = sf.read(tmp_path / "c" / "room-00000.wav")[0]
    assert code == 0 and not np.array_equal(first, sf.read(tmp_path / "a" / "room-00000.wav")[0])


def test_missing_pyroomacoustics_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyroomacoustics", None)
    code, _, err = rooms(capsys, tmp_path / "out")
    assert code == 2
    assert "pip install 'aural[rooms]'" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_bad_rt60_range_is_a_usage_error(tmp_path, capsys):
    pytest.importorskip("pyroomacoustics")
    code, _, err = rooms(capsys, tmp_path / "out", "--rt60-s", "1.0", "0.5")
    assert code == 2 and "--rt60-s" in err
