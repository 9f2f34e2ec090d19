"""Make data/examples/phone_memo.flac: a short voice memo as a phone would record it.

The speech is synthesised by espeak-ng (so nothing is copied from anyone's recording),
then degraded the way a phone at arm's length in a small untreated room degrades it:
room reverberation, a small-microphone response, hum and broadband noise, band-limiting
to 16 kHz sampling, and a low, uneven level. Run from the repository root:

    python scripts/make_example.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal as sps

TEXT = ("Hi, this is a quick voice memo recorded on my phone in the kitchen. "
        "The room echoes a little, the fridge hums, and I am holding the phone at arm's length. "
        "Let's hear what aural can do with it.")
OUT = Path("data/examples/phone_memo.flac")
SAMPLE_RATE = 16000


def synthesise(text: str) -> tuple[np.ndarray, int]:
    if shutil.which("espeak-ng") is None:
        sys.exit("make_example: espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-p", "45", "-w", str(wav), text],
                       check=True, timeout=60)
        audio, sample_rate = sf.read(str(wav), dtype="float64")
    return audio, sample_rate


def room_response(sample_rate: int, rt60_s: float, rng: np.random.Generator) -> np.ndarray:
    n = int(rt60_s * sample_rate)
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60_s)
    tail[: int(0.004 * sample_rate)] = 0.0  # first reflections arrive after the direct sound
    response = 0.25 * tail / np.sqrt(np.sum(tail ** 2))
    response[0] = 1.0
    return response


def main() -> None:
    rng = np.random.default_rng(2026)
    speech, rate = synthesise(TEXT)
    speech = sps.resample_poly(speech, SAMPLE_RATE, rate)
    speech = np.concatenate([np.zeros(SAMPLE_RATE // 2), speech, np.zeros(SAMPLE_RATE // 2)])
    wet = sps.fftconvolve(speech, room_response(SAMPLE_RATE, 0.45, rng))[: len(speech)]
    mic = sps.butter(2, [180, 6500], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    wet = sps.sosfilt(mic, wet)
    t = np.arange(len(wet)) / SAMPLE_RATE
    hum = 0.004 * (np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 150 * t))
    hiss = sps.sosfilt(sps.butter(1, 2000, fs=SAMPLE_RATE, output="sos"), rng.standard_normal(len(wet)))
    wet = wet / np.max(np.abs(wet)) * 0.25
    memo = wet * (1 + 0.3 * np.sin(2 * np.pi * 0.15 * t)) + hum + 0.006 * hiss
    OUT.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(OUT), memo.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
    print(f"wrote {OUT} ({len(memo) / SAMPLE_RATE:.1f} s at {SAMPLE_RATE} Hz)")


if __name__ == "__main__":
    main()
