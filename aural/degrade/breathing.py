"""AGC breathing: a noise floor that swells in the pauses and ducks under speech.

A phone's gain control (or its noise suppressor) raises the gain when the talker stops, so the
background noise "breathes" with the speech: here a coloured noise floor at ``floor_db``
(relative to the speech's active level, as heard during speech) is raised by the gain an AGC
would apply to the audio (:meth:`aural.degrade.transforms.AutomaticGainControl.gain_db`,
relative to its gain on speech), up to ``max_rise_db`` in the pauses. Only the added floor
pumps; the speech keeps its level (the ``agc`` transform pumps everything).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from aural.degrade.base import TRANSFORMS, Transform, choice, db_to_gain, log_uniform, uniform
from aural.degrade.impulse import to_tensor
from aural.degrade.noise import synthetic_noise
from aural.degrade.transforms import AutomaticGainControl


@TRANSFORMS.register("breathing")
class Breathing(Transform):
    """A noise floor pumped by an AGC's gain curve: up by to ``max_rise_db`` in the pauses."""

    name = "breathing"

    def __init__(self, floor_db: Sequence[float] = (-50.0, -30.0), max_rise_db: Sequence[float] = (6.0, 20.0),
                 attack_ms: Sequence[float] = (2.0, 20.0), release_ms: Sequence[float] = (100.0, 600.0),
                 colours: Sequence[str] | dict[str, float] = ("white", "pink", "brown")):
        self.floor_db = floor_db
        self.max_rise_db = max_rise_db
        self.attack_ms = attack_ms
        self.release_ms = release_ms
        self.colours = colours

    def draw(self, rng, context):
        floor = uniform(rng, self.floor_db, 2)
        rise = uniform(rng, self.max_rise_db, 2)
        # the AGC aims at the speech's own level: on speech its gain is about 0 dB, in pauses +rise
        return {"floor_db": floor, "gain_db": round(context.speech_level_db + floor, 3),
                "agc": {"target_db": round(context.speech_level_db, 3), "max_gain_db": rise, "max_cut_db": 0.0,
                        "attack_ms": log_uniform(rng, self.attack_ms, 2),
                        "release_ms": log_uniform(rng, self.release_ms, 1), "window_ms": 20.0},
                "colour": str(choice(rng, self.colours)), "seed": int(rng.integers(2**31))}

    def apply(self, audio, sample_rate, params, *, offset_samples=0, resources=None):
        n = audio.shape[-1]
        rise_db = AutomaticGainControl().gain_db(audio, sample_rate, params["agc"], offset_samples)
        floor = synthetic_noise(params["colour"], int(params["seed"]), offset_samples, n)
        floor *= db_to_gain(params["gain_db"]) * 10 ** (np.asarray(rise_db) / 20)
        return audio + to_tensor(floor[None, :])

    def context_samples(self, params, sample_rate):
        before, _ = AutomaticGainControl().context_samples(params["agc"], sample_rate)
        # the gain of the last samples is interpolated towards the next 1 ms frame's
        return before, int(math.ceil((params["agc"]["window_ms"] / 2 + 2.0) * sample_rate / 1000.0))
