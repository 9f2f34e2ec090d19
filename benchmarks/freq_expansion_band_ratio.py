"""How loud the band above a cutoff really gets, against the band below it: the data behind
``freq_expansion``'s band limit (``band_limit_db_at_4khz``, ``band_limit_db_per_octave``).

    python benchmarks/freq_expansion_band_ratio.py [--lists runs/freq_expansion/eval_speech.txt ...]

Per 48 kHz frame (1024-point Hann, hop 256) of the held-out clean speech and music: the power
above the cutoff over the power between 200 Hz and the cutoff outside its 9 strongest bins (the
stage's ``STRONGEST_BINS``), as percentiles in dB, for frames within 50 dB of the clip's loudest.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parents[1]
N_FFT, HOP, RATE, STRONGEST_BINS = 1024, 256, 48000, 9
CUTOFFS_HZ = (4000.0, 5500.0, 8000.0, 11025.0, 16000.0)
PERCENTILES = (50, 99, 99.9, 99.99, 100)


def frame_power(path: str) -> np.ndarray:
    audio, rate = sf.read(path, always_2d=True)
    mono = audio.mean(axis=1)
    if rate != RATE:
        mono = soxr.resample(mono, rate, RATE)
    frames = np.lib.stride_tricks.sliding_window_view(mono, N_FFT)[::HOP] * np.hanning(N_FFT)
    return np.abs(np.fft.rfft(frames, axis=1)) ** 2


def band_ratios_db(power: np.ndarray, cutoff_hz: float) -> np.ndarray:
    hz = np.arange(power.shape[1]) * RATE / N_FFT
    band = power[:, (hz >= 200.0) & (hz < cutoff_hz)]
    total = band.sum(axis=1)
    broad = total - np.sort(band, axis=1)[:, -STRONGEST_BINS:].sum(axis=1)
    above = power[:, hz >= cutoff_hz].sum(axis=1)
    keep = total > total.max() * 1e-5
    return 10 * np.log10(above[keep] / (broad[keep] + 1e-20) + 1e-20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    held_out = ROOT / "runs" / "freq_expansion"
    parser.add_argument("--lists", nargs="+", type=Path,
                        default=[held_out / "eval_speech.txt", held_out / "eval_music.txt"])
    args = parser.parse_args()
    print("| material | cutoff | frames | " + " | ".join(f"p{q:g}" for q in PERCENTILES) + " |")
    print("|---|---:|---:|" + "---:|" * len(PERCENTILES))
    for listed in args.lists:
        powers = [frame_power(path) for path in listed.read_text().split()]
        for cutoff_hz in CUTOFFS_HZ:
            ratios = np.concatenate([band_ratios_db(power, cutoff_hz) for power in powers])
            values = " | ".join(f"{np.percentile(ratios, q):.1f}" for q in PERCENTILES)
            print(f"| {listed.stem} | {cutoff_hz:g} | {ratios.size} | {values} |")


if __name__ == "__main__":
    main()
