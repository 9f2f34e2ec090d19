"""Simulated rooms: impulse responses from pyroomacoustics, for a ``--rir`` folder.

A room is drawn (:func:`draw_room`) as plain data and rendered (:func:`render_room`)
deterministically from it:

- **Geometry**: a shoebox, or a convex extruded polygon (5-8 walls on an ellipse, rotated)
  for the angled walls real rooms have. The RT60 target is drawn log-uniformly; the wall
  absorption follows from Sabine's formula (``0.161 V / (S RT60)``); a room that cannot
  reach the target (absorption above ``MAX_ABSORPTION``) is redrawn.
- **Positions**: the talker's mouth 1.1-1.8 m high, the phone 0.2-3 m from it and
  0.7-1.6 m high, both at least ``WALL_MARGIN_M`` from every wall (a convex room keeps
  the line of sight).
- **Microphone**: omnidirectional, sub-cardioid or cardioid (pyroomacoustics'
  ``CardioidFamily``), pointing roughly at the talker, as a phone's body makes its mic.
- **Rendering**: the image-source method up to a small order gives the direct path and the
  early reflections; after the time up to which that order is complete (``t_tail``) a
  diffuse tail takes over: Gaussian noise whose energy per second is the statistical
  model's ``D 4 pi c / V exp(-13.8 t / RT60)`` (``D`` the microphone's diffuse-field
  energy factor), cross-faded in over ``CROSSFADE_S``. Full-order image sources take
  seconds per room and overshoot long RT60s; ray tracing is slower still.

The RIR starts at the talker's emission (plus pyroomacoustics' fractional-delay filter
half-length); its RT60 (T30, Schroeder) and DRR (direct sound within 2.5 ms of the direct
path vs the rest) are measured for the manifest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from aural.errors import UsageError

SPEED_OF_SOUND_M_S = 343.0
SABINE_M_S = 24.0 * math.log(10.0) / SPEED_OF_SOUND_M_S  # RT60 = SABINE * V / (S alpha), 0.161
MAX_ABSORPTION = 0.95
WALL_MARGIN_M = 0.3
CROSSFADE_S = 0.01
DIRECT_WINDOW_S = 0.0025
TAIL_DECAY_DB = 70.0  # the rendered tail runs until the model has decayed this far
MAX_TRIES = 200
# pattern name -> (CardioidFamily p, weight): p=1 omni, 0.75 sub-cardioid, 0.5 cardioid
MIC_PATTERNS = {"omni": (1.0, 0.5), "subcardioid": (0.75, 0.3), "cardioid": (0.5, 0.2)}


def require_pyroomacoustics():
    """The pyroomacoustics module, or a one-line :class:`UsageError` saying how to install it."""
    try:
        import pyroomacoustics
    except ImportError:
        raise UsageError("simulated rooms need pyroomacoustics: pip install 'aural[rooms]' "
                         "(or pip install 'pyroomacoustics>=0.7')") from None
    return pyroomacoustics


@dataclass(frozen=True)
class RoomRanges:
    """What :func:`draw_room` draws from."""

    rt60_s: tuple[float, float] = (0.1, 1.5)
    polygon_probability: float = 0.4
    height_m: tuple[float, float] = (2.4, 4.0)
    shoebox_length_m: tuple[float, float] = (2.5, 10.0)
    shoebox_width_m: tuple[float, float] = (2.2, 8.0)
    polygon_semi_axes_m: tuple[float, float] = (1.4, 5.0)
    talker_height_m: tuple[float, float] = (1.1, 1.8)
    mic_height_m: tuple[float, float] = (0.7, 1.6)
    distance_m: tuple[float, float] = (0.2, 3.0)
    mic_aim_spread_deg: float = 40.0
    shoebox_order: int = 10
    polygon_order: int = 4


def _log_uniform(rng: np.random.Generator, bounds) -> float:
    low, high = bounds
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _floor_plan(rng: np.random.Generator, ranges: RoomRanges, kind: str) -> np.ndarray:
    """Corners ``(2, n)`` counter-clockwise, the lowest at the origin's corner (all >= 0)."""
    if kind == "shoebox":
        length, width = rng.uniform(*ranges.shoebox_length_m), rng.uniform(*ranges.shoebox_width_m)
        corners = np.array([[0.0, length, length, 0.0], [0.0, 0.0, width, width]])
    else:
        count = int(rng.integers(5, 9))
        a, b = rng.uniform(*ranges.polygon_semi_axes_m), rng.uniform(*ranges.polygon_semi_axes_m)
        step = 2 * math.pi / count
        angles = np.arange(count) * step + rng.uniform(-0.3, 0.3, count) * step
        rotation = rng.uniform(0, math.pi)
        x, y = a * np.cos(angles), b * np.sin(angles)
        corners = np.array([x * math.cos(rotation) - y * math.sin(rotation),
                            x * math.sin(rotation) + y * math.cos(rotation)])
    corners = corners - corners.min(axis=1, keepdims=True)
    return np.round(corners, 3)


def _walls(corners: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(point, inward unit normal) of each wall of a counter-clockwise convex floor plan."""
    out = []
    for i in range(corners.shape[1]):
        p, q = corners[:, i], corners[:, (i + 1) % corners.shape[1]]
        d = q - p
        out.append((p, np.array([-d[1], d[0]]) / math.hypot(*d)))
    return out


def _inside(point_xy: np.ndarray, walls, margin_m: float) -> bool:
    return all(float(np.dot(point_xy - p, n)) >= margin_m for p, n in walls)


def _area_perimeter(corners: np.ndarray) -> tuple[float, float]:
    x, y = corners
    area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    perimeter = float(np.sum(np.hypot(np.diff(x, append=x[0]), np.diff(y, append=y[0]))))
    return area, perimeter


def draw_room(rng: np.random.Generator, ranges: RoomRanges = RoomRanges()) -> dict[str, Any]:
    """A room, talker and phone as plain JSON-able data (what :func:`render_room` needs)."""
    rt60 = round(_log_uniform(rng, ranges.rt60_s), 3)
    kind = "polygon" if rng.random() < ranges.polygon_probability else "shoebox"
    for _ in range(MAX_TRIES):
        corners = _floor_plan(rng, ranges, kind)
        height = round(float(rng.uniform(*ranges.height_m)), 3)
        area, perimeter = _area_perimeter(corners)
        volume, surface = area * height, 2 * area + perimeter * height
        absorption = SABINE_M_S * volume / (surface * rt60)
        if absorption <= MAX_ABSORPTION:
            break
    else:
        raise UsageError(f"no room in the drawn size ranges reaches RT60 {rt60} s")
    walls = _walls(corners)
    low, high = corners.min(axis=1), corners.max(axis=1)
    for _ in range(MAX_TRIES):
        talker_xy = rng.uniform(low, high)
        distance = _log_uniform(rng, ranges.distance_m)
        mic_z = float(rng.uniform(*ranges.mic_height_m))
        talker_z = float(rng.uniform(*ranges.talker_height_m))
        if abs(talker_z - mic_z) > 0.9 * distance:  # not straight below or above the mouth
            continue
        horizontal = math.sqrt(distance ** 2 - (talker_z - mic_z) ** 2)
        bearing = rng.uniform(0, 2 * math.pi)
        mic_xy = talker_xy + horizontal * np.array([math.cos(bearing), math.sin(bearing)])
        if _inside(talker_xy, walls, WALL_MARGIN_M) and _inside(mic_xy, walls, WALL_MARGIN_M) \
                and WALL_MARGIN_M <= min(mic_z, talker_z) and max(mic_z, talker_z) <= height - WALL_MARGIN_M:
            break
    else:
        raise UsageError("could not place a talker and a phone in the drawn room")
    names = list(MIC_PATTERNS)
    weights = np.array([MIC_PATTERNS[n][1] for n in names])
    pattern = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    to_talker = np.array([*(talker_xy - mic_xy), talker_z - mic_z])
    azimuth = math.degrees(math.atan2(to_talker[1], to_talker[0])) + rng.normal(0, ranges.mic_aim_spread_deg)
    colatitude = math.degrees(math.acos(to_talker[2] / max(1e-9, float(np.linalg.norm(to_talker)))))
    colatitude = float(np.clip(colatitude + rng.normal(0, ranges.mic_aim_spread_deg / 2), 0.0, 180.0))
    return {
        "kind": kind, "corners_m": corners.T.tolist(), "height_m": height,
        "volume_m3": round(volume, 3), "surface_m2": round(surface, 3),
        "rt60_target_s": rt60, "absorption": round(absorption, 5),
        "max_order": ranges.shoebox_order if kind == "shoebox" else ranges.polygon_order,
        "talker_m": [round(float(v), 3) for v in (*talker_xy, talker_z)],
        "mic_m": [round(float(v), 3) for v in (*mic_xy, mic_z)],
        "distance_m": round(float(np.linalg.norm(to_talker)), 3),
        "mic_pattern": pattern, "mic_p": MIC_PATTERNS[pattern][0],
        "mic_azimuth_deg": round(azimuth % 360.0, 2), "mic_colatitude_deg": round(colatitude, 2),
        "tail_seed": int(rng.integers(2**31)),
    }


def tail_start_s(room: dict[str, Any]) -> float:
    """Time after emission up to which the image sources of ``max_order`` are complete."""
    corners = np.asarray(room["corners_m"]).T
    walls = _walls(corners)
    # the narrowest extent of the floor plan: the smallest width across any wall's normal
    width = min(max(float(np.dot(c - p, n)) for c in corners.T) for p, n in walls)
    return room["max_order"] * min(width, room["height_m"]) / SPEED_OF_SOUND_M_S


def render_room(room: dict[str, Any], sample_rate: int) -> tuple[np.ndarray, dict[str, Any]]:
    """``(rir, facts)``: the impulse response (float64) and its measured RT60, DRR, timing."""
    pra = require_pyroomacoustics()
    from pyroomacoustics.directivities import CardioidFamily, DirectionVector

    material = pra.Material(float(room["absorption"]))
    corners = np.asarray(room["corners_m"]).T
    if room["kind"] == "shoebox":
        dims = [float(corners[0].max()), float(corners[1].max()), float(room["height_m"])]
        simulated = pra.ShoeBox(dims, fs=sample_rate, materials=material, max_order=int(room["max_order"]))
    else:
        simulated = pra.Room.from_corners(corners, fs=sample_rate, materials=material,
                                          max_order=int(room["max_order"]))
        simulated.extrude(float(room["height_m"]), materials=material)
    simulated.add_source(room["talker_m"])
    directivity = CardioidFamily(orientation=DirectionVector(azimuth=room["mic_azimuth_deg"],
                                                             colatitude=room["mic_colatitude_deg"], degrees=True),
                                 p=float(room["mic_p"]))
    simulated.add_microphone(room["mic_m"], directivity=directivity)
    simulated.compute_rir()
    early = np.asarray(simulated.rir[0][0], dtype=np.float64)
    filter_delay = pra.constants.get("frac_delay_length") // 2
    rir = _with_tail(early, room, sample_rate, filter_delay)
    return rir, _facts(rir, room, sample_rate, filter_delay, pra)


def _with_tail(early: np.ndarray, room: dict[str, Any], sample_rate: int, filter_delay: int) -> np.ndarray:
    """The image-source response cross-faded into a diffuse tail at :func:`tail_start_s`."""
    rt60 = float(room["rt60_target_s"])
    direct_s = room["distance_m"] / SPEED_OF_SOUND_M_S
    start_s = max(tail_start_s(room), direct_s + 2 * CROSSFADE_S)
    length = int(math.ceil((start_s + rt60 * TAIL_DECAY_DB / 60.0) * sample_rate)) + filter_delay
    t = (np.arange(length) - filter_delay) / sample_rate
    p = float(room["mic_p"])
    diffuse = (4 * p * p - 2 * p + 1) / 3.0  # the pattern's mean energy over all directions
    # image sources of amplitude 1/distance (pyroomacoustics' convention), 4 pi c^3 t^2 / V of them per second
    variance = diffuse * 4 * math.pi * SPEED_OF_SOUND_M_S / (room["volume_m3"] * sample_rate) \
        * np.exp(-6.0 * math.log(10.0) * np.maximum(t, 0.0) / rt60)
    noise = np.random.default_rng(int(room["tail_seed"])).standard_normal(length)
    fade = np.clip((t - (start_s - CROSSFADE_S / 2)) / CROSSFADE_S, 0.0, 1.0)
    fade = 0.5 - 0.5 * np.cos(np.pi * fade)  # 0 before the tail, 1 after
    head = np.zeros(length)
    head[:min(length, len(early))] = early[:length]
    return head * np.sqrt(1.0 - fade) + noise * np.sqrt(variance * fade)


def _facts(rir: np.ndarray, room: dict[str, Any], sample_rate: int, filter_delay: int, pra) -> dict[str, Any]:
    direct = int(round(room["distance_m"] / SPEED_OF_SOUND_M_S * sample_rate)) + filter_delay
    window = int(round(DIRECT_WINDOW_S * sample_rate))
    energy = rir ** 2
    direct_energy = float(energy[max(0, direct - window):direct + window + 1].sum())
    rest = float(energy.sum()) - direct_energy
    rt60 = float(pra.experimental.measure_rt60(rir, sample_rate, decay_db=30))
    return {"rt60_measured_s": round(rt60, 3),
            "drr_db": round(10 * math.log10(direct_energy / rest), 2) if rest > 0 else None,
            "direct_s": round(direct / sample_rate, 5), "tail_start_s": round(max(
                tail_start_s(room), room["distance_m"] / SPEED_OF_SOUND_M_S + 2 * CROSSFADE_S), 4),
            "num_samples": int(len(rir)), "sample_rate": int(sample_rate)}
