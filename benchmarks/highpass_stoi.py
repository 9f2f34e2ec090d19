"""What a rumble high-pass alone does to STOI: the clean references of the recorded pairs
(``$AURAL_DATA/pairs/*/clean.*``, default ``../shared/data/pairs``) scored against themselves
high-passed, for each design: biquads (minimum phase) of several corners and orders, and the
same magnitudes as linear-phase FIRs (``aural.dsp.filters.linear_phase_taps``, delay removed).

A filter that only took away what lies under 100 Hz would leave STOI at 1: its lowest band starts
at 150 Hz. What it loses comes from the phase a minimum-phase high-pass turns in the band above
its corner. ``python benchmarks/highpass_stoi.py`` (16 kHz, one process).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile
import soxr

from aural.dsp.filters import FirFilter, highpass, linear_phase_taps
from aural.metrics.perceptual import stoi
from aural.stages.mix_master import LINEAR_HIGHPASS_PERIODS  # the FIR's length, in periods of the corner

REPO = Path(__file__).resolve().parents[1]
SAMPLE_RATE = 16000
STOI_RATE = 10000  # STOI's own rate (aural resamples with soxr, as its bench does)


def designs() -> dict[str, tuple[float, np.ndarray]]:
    """Name -> (corner in Hz, SOS cascade): RBJ 12 dB/octave at 60 and 90 Hz (mix_master's),
    Butterworth 24 dB/octave at 70 and 90 Hz."""
    return {
        "12 dB/oct, 60 Hz": (60.0, highpass(60.0, SAMPLE_RATE)),
        "12 dB/oct, 90 Hz": (90.0, highpass(90.0, SAMPLE_RATE)),
        "24 dB/oct, 70 Hz": (70.0, scipy.signal.butter(4, 70.0, "highpass", fs=SAMPLE_RATE, output="sos")),
        "24 dB/oct, 90 Hz": (90.0, scipy.signal.butter(4, 90.0, "highpass", fs=SAMPLE_RATE, output="sos")),
    }


def linear_phase(sos: np.ndarray, corner: float, audio: np.ndarray) -> np.ndarray:
    half = round(LINEAR_HIGHPASS_PERIODS * SAMPLE_RATE / corner / 2)
    taps = linear_phase_taps(sos, SAMPLE_RATE, 2 * half + 1)
    out = FirFilter(taps, 1).process(np.concatenate([audio, np.zeros(half)])[None])[0]
    return out[half:]


def score(voice: np.ndarray, filtered: np.ndarray) -> float:
    return stoi(soxr.resample(voice, SAMPLE_RATE, STOI_RATE), soxr.resample(filtered, SAMPLE_RATE, STOI_RATE), STOI_RATE)


def main() -> None:
    pairs = Path(os.environ.get("AURAL_DATA", REPO.parent / "shared" / "data")) / "pairs"
    cleans = sorted(pairs.glob("*/clean.*"))
    if not cleans:
        sys.exit(f"{Path(sys.argv[0]).name}: {pairs}: no clean references (set AURAL_DATA)")
    voices = []
    for path in cleans:
        audio, rate = soundfile.read(path, dtype="float64", always_2d=True)
        voices.append(soxr.resample(audio.mean(axis=1), rate, SAMPLE_RATE))
    print(f"{len(voices)} clean references from {pairs}, STOI of each against itself high-passed (mean)\n")
    print("| high-pass | minimum phase (biquads) | linear phase (FIR) |\n|---|---:|---:|")
    for name, (corner, sos) in designs().items():
        minimum = np.mean([score(v, scipy.signal.sosfilt(sos, v)) for v in voices])
        linear = np.mean([score(v, linear_phase(sos, corner, v)) for v in voices])
        print(f"| {name} | {minimum:.5f} | {linear:.5f} |")


if __name__ == "__main__":
    main()
