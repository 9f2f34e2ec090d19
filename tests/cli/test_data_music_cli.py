"""``aural data music``: reproducible rendered music with stems that add up to the mix."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
import soundfile as sf

from helpers import run_cli


def render(capsys, out, *extra):
    return run_cli(["data", "music", "--out", str(out), "--count", "2", "--seconds", "3", "--sample-rate",
                    "16000", "--seed", "2", *extra], capsys)


@pytest.fixture
def tools():
    pytest.importorskip("music21")
    if shutil.which("fluidsynth") is None:
        pytest.skip("FluidSynth is not installed (apt-get install fluidsynth fluid-soundfont-gm)")
    from aural.degrade.music import find_soundfont
    from aural.errors import UsageError

    try:
        find_soundfont()
    except UsageError:
        pytest.skip("no General MIDI soundfont installed")


def test_same_seed_same_pieces_stems_add_up_and_a_manifest(tmp_path, capsys, tools):
    code, _, err = render(capsys, tmp_path / "a")
    assert code == 0, err
    code, _, err = render(capsys, tmp_path / "b")
    assert code == 0, err
    entries = [json.loads(line) for line in (tmp_path / "a" / "music.jsonl").read_text().splitlines()]
    assert [e["item"] for e in entries] == ["piece-00000", "piece-00001"]
    for entry in entries:
        folder = tmp_path / "a" / entry["item"]
        mix, rate = sf.read(folder / "mix.flac", dtype="float32", always_2d=True)
        assert rate == 16000 and mix.shape == (3 * 16000, 2)
        stems = [sf.read(folder / f"{stem}.flac", dtype="float32", always_2d=True)[0] for stem in entry["stems"]]
        np.testing.assert_allclose(sum(stems), mix, atol=len(stems) * 2.0 ** -23 * 2)
        assert np.array_equal(mix, sf.read(tmp_path / "b" / entry["item"] / "mix.flac", dtype="float32",
                                           always_2d=True)[0])
        for key in ("score", "first_bar", "bars", "tempo_bpm", "transpose", "voices", "licences", "soundfont"):
            assert key in entry
    assert (tmp_path / "a" / "music.jsonl").read_bytes() == (tmp_path / "b" / "music.jsonl").read_bytes()


def test_an_existing_set_is_kept_unless_overwrite(tmp_path, capsys, tools):
    assert render(capsys, tmp_path / "a", "--count", "1")[0] == 0
    code, _, err = render(capsys, tmp_path / "a", "--count", "1")
    assert code == 2 and "--overwrite" in err
    assert render(capsys, tmp_path / "a", "--count", "1", "--overwrite")[0] == 0


def test_missing_music21_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "music21", None)
    code, _, err = render(capsys, tmp_path / "out")
    assert code == 2 and "pip install 'aural[music]'" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_missing_fluidsynth_or_soundfont_is_one_line(tmp_path, capsys, monkeypatch):
    pytest.importorskip("music21")
    from aural.degrade import music

    monkeypatch.setattr(music.shutil, "which", lambda name: None)
    code, _, err = render(capsys, tmp_path / "out")
    assert code == 2 and "apt-get install fluidsynth" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setattr(music.shutil, "which", lambda name: "/usr/bin/fluidsynth")
    code, _, err = render(capsys, tmp_path / "out", "--soundfont", str(tmp_path / "none.sf2"))
    assert code == 2 and "none.sf2: no such soundfont" in err
