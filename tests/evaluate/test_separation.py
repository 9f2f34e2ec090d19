"""Separation folders: the layout, the stems adapter and per-stem rows."""

from __future__ import annotations

import pytest
import torch

from aural.errors import UsageError
from aural.evaluate.separation import find_items, is_separation_folder, score_item, to_stems
from aural.signal import Signal
from aural.stems import Stems
from helpers import speech_like, write_audio


def test_a_single_signal_is_the_voice_and_the_background_is_the_residual():
    mixture = speech_like(1.0, 16000, seed=1)
    voice = mixture.replace(mixture.audio * 0.7)
    stems = to_stems(voice, mixture)
    assert stems.names == ("voice", "background")
    assert torch.allclose(stems["background"].audio, mixture.audio * 0.3, atol=1e-7)
    assert torch.allclose(stems.mixture().audio, mixture.audio, atol=1e-7)


def test_stems_at_another_rate_and_length_are_fitted_to_the_mixture():
    mixture = speech_like(1.0, 16000, seed=1)
    at_48k = mixture.resample(48000)
    longer = Signal(torch.nn.functional.pad(at_48k.audio, (0, 100)), 48000)
    stems = to_stems(Stems({"vocals": longer, "accompaniment": longer}), mixture)
    assert stems.sample_rate == 16000 and stems.num_samples == mixture.num_samples
    with pytest.raises(Exception, match="neither Stems nor a Signal"):
        to_stems("nothing", mixture)


def test_folder_layout_detection_skips_broken_items_and_rows_use_aliases(tmp_path):
    voice, noise = speech_like(1.0, 16000, seed=2), speech_like(1.0, 16000, seed=3, level_db=-30)
    mixture = voice.replace(voice.audio + noise.audio)
    for name, signal in (("mixture", mixture), ("voice", voice), ("background", noise)):
        write_audio(tmp_path / "a" / f"{name}.wav", signal, subtype="FLOAT")
    write_audio(tmp_path / "b" / "voice.wav", voice)                  # no mixture
    write_audio(tmp_path / "c" / "mixture.wav", mixture)              # no stems
    assert is_separation_folder(tmp_path)
    assert not is_separation_folder(tmp_path / "a")
    items, skipped = find_items(tmp_path)
    assert [item.name for item in items] == ["a"] and set(items[0].stems) == {"voice", "background"}
    assert skipped == ["b: no mixture files", "c: no reference stem beside mixture.wav"]
    estimate = Stems({"vocals": voice, "accompaniment": noise})       # music names stand in
    row = score_item("a", mixture, {"voice": voice, "background": noise}, estimate, ["si_sdr", "si_sdri"])
    assert row.values["voice_si_sdr"] == 40.0 and row.values["background_si_sdr"] == 40.0
    assert row.values["voice_si_sdri"] > 0 and not row.reasons
    with pytest.raises(UsageError, match="no separation items"):
        find_items(tmp_path / "b")
