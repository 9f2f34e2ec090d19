"""Matching files by relative path without extension."""

from __future__ import annotations

import pytest

from aural.errors import UsageError
from aural.evaluate.pairs import match_folders, pairs_folders
from helpers import tone, write_audio


def make(folder, names):
    for name in names:
        write_audio(folder / name, tone(duration_s=0.1, sample_rate=8000))


def test_matches_by_stem_and_lists_the_unmatched(tmp_path):
    make(tmp_path / "ref", ["a.wav", "sub/b.flac", "only_ref.wav"])
    make(tmp_path / "deg", ["a.flac", "sub/b.wav", "extra.wav"])
    matching = match_folders(tmp_path / "ref", tmp_path / "deg")
    assert [p.file for p in matching.pairs] == ["a", "sub/b"]
    assert matching.pairs[1].reference.name == "b.flac"
    assert matching.unmatched_message() == \
        "2 files without a partner (only in reference: only_ref; only in degraded: extra)"


def test_no_common_names_is_a_usage_error(tmp_path):
    make(tmp_path / "ref", ["a.wav"])
    make(tmp_path / "deg", ["b.wav"])
    with pytest.raises(UsageError, match="no file names in common.*only in reference: a"):
        match_folders(tmp_path / "ref", tmp_path / "deg")


def test_same_stem_twice_is_a_usage_error(tmp_path):
    make(tmp_path / "ref", ["a.wav", "a.flac"])
    make(tmp_path / "deg", ["a.wav"])
    with pytest.raises(UsageError, match="same name 'a'"):
        match_folders(tmp_path / "ref", tmp_path / "deg")


def test_missing_or_empty_folders(tmp_path):
    with pytest.raises(UsageError, match="reference folder does not exist"):
        match_folders(tmp_path / "nope", tmp_path)
    (tmp_path / "empty").mkdir()
    make(tmp_path / "deg", ["a.wav"])
    with pytest.raises(UsageError, match="no audio files"):
        match_folders(tmp_path / "empty", tmp_path / "deg")


@pytest.mark.parametrize("layout", [("phone", "studio"), ("degraded", "reference")])
def test_pairs_layouts(tmp_path, layout):
    for name in layout:
        (tmp_path / name).mkdir()
    assert pairs_folders(tmp_path) == (tmp_path / layout[0], tmp_path / layout[1])


def test_pairs_layout_missing(tmp_path):
    (tmp_path / "phone").mkdir()
    with pytest.raises(UsageError, match="expected sub-folders phone/ and studio/"):
        pairs_folders(tmp_path)
