"""Simulated rooms (pyroomacoustics): drawn as data, rendered to their RT60, usable by ``reverb``."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from aural.degrade.banks import AudioBank
from aural.degrade.base import Resources
from aural.degrade.reverb import Reverb
from aural.degrade.rooms import RoomRanges, draw_room, render_room, require_pyroomacoustics
from aural.errors import UsageError
from aural.signal import Signal
from aural import io

pytest.importorskip("pyroomacoustics")
RATE = 16000


@pytest.mark.parametrize("kind_probability", [0.0, 1.0], ids=["shoebox", "polygon"])
def test_rooms_reach_their_rt60_and_keep_the_direct_path_first(kind_probability):
    ratios = []
    for seed in range(8):
        room = draw_room(np.random.default_rng(seed), RoomRanges(polygon_probability=kind_probability))
        assert room == json.loads(json.dumps(room))
        assert room["kind"] == ("polygon" if kind_probability else "shoebox")
        assert 0.1 <= room["rt60_target_s"] <= 1.5 and 0 < room["absorption"] <= 0.95
        rir, facts = render_room(room, RATE)
        assert np.isfinite(rir).all() and facts["num_samples"] == len(rir)
        direct = int(round(facts["direct_s"] * RATE))
        assert abs(int(np.argmax(np.abs(rir[:direct + 40]))) - direct) <= 2  # nothing arrives before it
        ratios.append(facts["rt60_measured_s"] / room["rt60_target_s"])
        again, _ = render_room(room, RATE)
        assert np.array_equal(again, rir)
    assert 0.8 <= float(np.median(ratios)) <= 1.25


def test_a_simulated_room_plugs_into_the_reverb_transform(tmp_path):
    room = draw_room(np.random.default_rng(3))
    rir, _ = render_room(room, RATE)
    io.write(Signal(torch.from_numpy(rir.astype(np.float32))[None], RATE), tmp_path / "room.wav", subtype="FLOAT")
    resources = Resources(rir=AudioBank(tmp_path, what="room impulse response"))
    params = {"source": "file", "file": "room.wav", "channel": 0, "drr_db": 5.0, "max_length_s": 1.5}
    kernel = Reverb.kernel(params, RATE, resources)
    assert int(np.argmax(np.abs(kernel))) == 0  # the direct path found and put on sample 0
    assert len(kernel) > 0.5 * room["rt60_target_s"] * RATE


def test_missing_pyroomacoustics_is_a_one_line_usage_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyroomacoustics", None)
    with pytest.raises(UsageError) as error:
        require_pyroomacoustics()
    assert "pip install 'aural[rooms]'" in str(error.value) and "\n" not in str(error.value)
