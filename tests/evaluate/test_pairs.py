"""Matching files by relative path without extension."""

from __future__ import annotations

import pytest

from aural.errors import UsageError
from aural.evaluate.pairs import match_folders, match_pairs, pairs_folders
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


@pytest.mark.parametrize("layout", [("phone", "studio"), ("degraded", "reference")])
def test_match_pairs_keeps_the_sub_folder_layouts(tmp_path, layout):
    make(tmp_path / layout[0], ["a.wav", "sub/b.wav"])
    make(tmp_path / layout[1], ["a.flac", "sub/b.flac", "clean.wav"])
    matching, label = match_pairs(tmp_path)
    assert label == layout[0]
    assert [(p.file, p.degraded.parent.name, p.reference.suffix) for p in matching.pairs] == \
        [("a", layout[0], ".flac"), ("sub/b", "sub", ".flac")]
    assert matching.reference_only == ["clean"] and matching.skipped == []


def test_one_folder_per_pair(tmp_path):
    make(tmp_path, ["vbd_p232_005/clean.flac", "vbd_p232_005/noisy.flac",
                    "emgse_utt21/clean.wav", "emgse_utt21/noisy_car_4dB.wav",
                    "emgse_utt21/noisy_street_-11dB.flac",
                    "seflow_reverb/Studio_mic1.wav", "seflow_reverb/degraded_reverb.wav",
                    "x/reference.wav", "x/device_pixel.wav", "x/phone.wav"])
    (tmp_path / "x" / "notes.txt").write_text("not audio")
    (tmp_path / ".cache").mkdir()
    matching, label = match_pairs(tmp_path)
    assert label == "degraded" and matching.skipped == [] and matching.unmatched_message() is None
    assert [(p.file, p.reference.name, p.degraded.name) for p in matching.pairs] == [
        ("emgse_utt21/noisy_car_4dB", "clean.wav", "noisy_car_4dB.wav"),
        ("emgse_utt21/noisy_street_-11dB", "clean.wav", "noisy_street_-11dB.flac"),
        ("seflow_reverb/degraded_reverb", "Studio_mic1.wav", "degraded_reverb.wav"),
        ("vbd_p232_005/noisy", "clean.flac", "noisy.flac"),
        ("x/device_pixel", "reference.wav", "device_pixel.wav"),
        ("x/phone", "reference.wav", "phone.wav")]
    assert matching.pairs[0].reference == tmp_path / "emgse_utt21" / "clean.wav"


def test_broken_pair_folders_are_listed_and_the_rest_kept(tmp_path):
    make(tmp_path, ["good/clean.wav", "good/noisy.wav",
                    "no_ref/noisy.wav",
                    "two_refs/clean.wav", "two_refs/studio.wav", "two_refs/noisy.wav",
                    "no_deg/clean.wav",
                    "stray/clean.wav", "stray/noisy.wav", "stray/music.wav",
                    "same/clean.wav", "same/noisy.wav", "same/noisy.flac"])
    (tmp_path / "empty").mkdir()
    matching, _ = match_pairs(tmp_path)
    assert [p.file for p in matching.pairs] == ["good/noisy"]
    assert matching.skipped == [
        "empty: no reference file (clean, reference or studio)",
        "no_deg: no degraded file (noisy*, degraded*, device*, phone*)",
        "no_ref: no reference file (clean, reference or studio)",
        "same: noisy.flac and noisy.wav have the same name",
        "stray: music.wav: neither a reference (clean*, reference*, studio*) "
        "nor a degraded file (noisy*, degraded*, device*, phone*)",
        "two_refs: 2 reference files (clean.wav, studio.wav)"]
    assert matching.num_unmatched == 6
    message = matching.unmatched_message()
    assert message.startswith("6 folders skipped (empty: no reference file") and "\n" not in message


@pytest.mark.parametrize("content", [[], ["a.wav", "b.wav"], ["phone/a.wav"], ["song/track.wav"]])
def test_folder_without_pairs_in_either_layout_is_a_usage_error(tmp_path, content):
    make(tmp_path, content)
    with pytest.raises(UsageError) as error:
        match_pairs(tmp_path)
    message = str(error.value)
    assert message.startswith(f"{tmp_path}: no pairs found; expected phone/ and studio/ "
                              "(or degraded/ and reference/)")
    assert "one folder per pair" in message and "\n" not in message
    if content and "/" in content[0]:
        assert "1 folder skipped" in message


def test_match_pairs_missing_folder(tmp_path):
    with pytest.raises(UsageError, match="pairs folder does not exist"):
        match_pairs(tmp_path / "nope")
