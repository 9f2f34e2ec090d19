"""Rendered music (music21's corpus through FluidSynth): drawn as plain data, stems that add up."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from aural.degrade import music
from aural.degrade.music import (KICK, SNARE, MusicRanges, _draw_groove, _placed, corpus_pool, draw_piece,
                                 find_soundfont, make_piece)
from aural.errors import UsageError


def _needs_music21():
    pytest.importorskip("music21")


def _needs_fluidsynth():
    _needs_music21()
    if shutil.which("fluidsynth") is None:
        pytest.skip("FluidSynth is not installed (apt-get install fluidsynth fluid-soundfont-gm)")
    try:
        return find_soundfont()
    except UsageError:
        pytest.skip("no General MIDI soundfont installed (apt-get install fluid-soundfont-gm)")


def test_the_pool_holds_scores_of_redistributable_folders_only():
    _needs_music21()
    pool = corpus_pool()
    assert {"bach", "palestrina", "mozart"} <= set(pool)
    assert "essenFolksong" not in pool and "theoryExercises" not in pool
    paths = [path for paths in pool.values() for path in paths]
    assert paths and all(path.endswith(music.SCORE_SUFFIXES) for path in paths)


def test_a_draw_is_plain_data_and_depends_only_on_the_seed():
    _needs_music21()
    pool = corpus_pool()
    ranges = MusicRanges(seconds=8.0, drum_probability=1.0)
    first = draw_piece(np.random.default_rng(3), ranges, pool)
    again = draw_piece(np.random.default_rng(3), ranges, pool)
    assert json.dumps(first) == json.dumps(again)
    assert json.dumps(first) != json.dumps(draw_piece(np.random.default_rng(4), ranges, pool))
    assert first["voices"] and first["drums"] is not None
    assert ranges.tempo_bpm[0] <= first["tempo_bpm"] <= ranges.tempo_bpm[1]
    assert abs(first["transpose"]) <= ranges.transpose_semitones
    for voice in first["voices"]:
        table = music.ENSEMBLES[first["ensemble"]] if first["ensemble"] else music.PROGRAMS_BY_REGISTER
        allowed = table[voice["register"]]
        assert voice["program"] in allowed
        assert ranges.stem_gain_db[0] <= voice["gain_db"] <= ranges.stem_gain_db[1]


@pytest.mark.parametrize("quarters_per_bar", [4.0, 3.0])
def test_a_groove_keeps_to_its_bar_with_kick_and_snare(quarters_per_bar):
    groove = _draw_groove(np.random.default_rng(0), quarters_per_bar)
    offsets = [hit[0] for hit in groove["hits"]]
    notes = {hit[1] for hit in groove["hits"]}
    assert all(0.0 <= offset < quarters_per_bar for offset in offsets)
    assert {KICK, SNARE} <= notes
    assert all(1 <= hit[2] <= 127 for hit in groove["hits"])


def test_pan_is_constant_power_and_gain_in_db():
    mono = np.ones((2, 4), dtype=np.float32)
    centre = _placed(mono, {"pan": 0.0, "gain_db": 0.0})
    np.testing.assert_allclose(centre, mono, rtol=1e-6)
    left = _placed(mono, {"pan": -1.0, "gain_db": -6.0})
    assert abs(left[1, 0]) < 1e-6
    np.testing.assert_allclose((left ** 2).sum(axis=0), 2 * 10 ** (-6 / 10), rtol=1e-5)


def test_rendered_stems_add_up_to_a_mix_at_the_asked_peak():
    soundfont = _needs_fluidsynth()
    ranges = MusicRanges(seconds=4.0, drum_probability=1.0)
    piece, stems = make_piece(np.random.default_rng(7), ranges, corpus_pool(), 16000, soundfont,
                              fluidsynth=shutil.which("fluidsynth"))
    assert "drums" in stems and len(stems) >= 2
    lengths = {stem.shape for stem in stems.values()}
    assert len(lengths) == 1 and lengths.pop() == (2, 4 * 16000)
    mix = sum(stems.values())
    assert abs(20 * np.log10(np.abs(mix).max()) - -1.0) < 0.01
    assert all(np.isfinite(stem).all() and np.abs(stem).max() > 1e-3 for stem in stems.values())
    again = make_piece(np.random.default_rng(7), ranges, corpus_pool(), 16000, soundfont,
                       fluidsynth=shutil.which("fluidsynth"))[1]
    assert all(np.array_equal(stems[name], again[name]) for name in stems)


def test_the_drum_groove_plays_on_the_beat():
    soundfont = _needs_fluidsynth()
    groove = {"hits": [[0.0, KICK, 120], [1.0, SNARE, 120], [2.0, KICK, 120], [3.0, SNARE, 120]],
              "crash_on_first_beat": False}
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "drums.mid"
        music._write_drum_midi(groove, 8.0, 4.0, 120.0, path)
        audio = music._render(shutil.which("fluidsynth"), soundfont, path, 16000, 10.0).mean(axis=0)
    def energy(start_s: float, end_s: float) -> float:
        return float(np.square(audio[int(start_s * 16000):int(end_s * 16000)]).sum())

    # at 120 bpm a beat is 0.5 s: each of the eight beats starts a hit, nothing between them does
    for beat_s in np.arange(8) * 0.5:
        attack = energy(beat_s, beat_s + 0.05)
        assert attack > 4 * energy(beat_s - 0.06, beat_s - 0.01) + 1e-9
        assert attack > 4 * energy(beat_s + 0.25, beat_s + 0.30)


def test_a_render_that_would_run_for_hours_stops_at_its_length(tmp_path):
    soundfont = _needs_fluidsynth()
    path = tmp_path / "long.mid"
    # one bar of drums, but the track ends ten hours later: FluidSynth would render all of it
    music._write_drum_midi({"hits": [[0.0, KICK, 100]], "crash_on_first_beat": False}, 4.0, 4.0, 120.0, path)
    from music21 import midi

    midi_file = midi.MidiFile()
    midi_file.open(str(path))
    midi_file.read()
    midi_file.close()
    track = midi_file.tracks[0]
    track.events[-2].time = 10 * 3600 * 2 * music.TICKS_PER_QUARTER  # the delta before END_OF_TRACK
    midi_file.open(str(path), "wb")
    midi_file.write()
    midi_file.close()
    audio = music._render(shutil.which("fluidsynth"), soundfont, path, 16000, 3.0)
    assert audio.shape == (2, 3 * 16000) and np.abs(audio[:, :8000]).max() > 1e-3
