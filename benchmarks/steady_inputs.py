"""Steady input through a pipeline: how far its 100 ms output levels swing (pumping).

    python benchmarks/steady_inputs.py                                    # phone_to_studio as shipped
    python benchmarks/steady_inputs.py --set mel_unet.pause_attenuation_db=30   # with the pause gate

Three 6 s inputs at 48 kHz that hold still: pink noise at -35 dBFS RMS (noise alone, no speech),
a sustained C major chord (four sines at 0.05 each) and a 440 Hz tone at 0.1. For each, the
spread (max minus min) of the output's 100 ms levels in dB, the first and last second left out
(the limiter and loudness settle there), as ``tests/pipelines/test_phone_to_studio_inputs.py``
measures it (the test asks < 3 dB). One thread.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from aural.pipeline import load_pipeline
from aural.signal import Signal

SAMPLE_RATE = 48000
SECONDS = 6.0
FRAME_S = 0.1


def pink_noise(level_db: float, seed: int = 0) -> np.ndarray:
    num_samples = int(SECONDS * SAMPLE_RATE)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(num_samples))
    spectrum /= np.sqrt(np.maximum(np.fft.rfftfreq(num_samples, 1 / SAMPLE_RATE), 20.0))
    noise = np.fft.irfft(spectrum, num_samples)
    return noise * 10 ** (level_db / 20) / np.sqrt(np.mean(noise ** 2))


def sines(amplitude: float, *freqs_hz: float) -> np.ndarray:
    time_s = np.arange(int(SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    return sum(amplitude * np.sin(2 * np.pi * f * time_s) for f in freqs_hz)


INPUTS = {
    "pink noise only": lambda: pink_noise(-35.0),
    "a sustained chord": lambda: sines(0.05, 261.6, 329.6, 392.0, 523.3),
    "a pure tone": lambda: sines(0.1, 440.0),
}


def spread_db(audio: np.ndarray, sample_rate: int) -> float:
    frame = int(FRAME_S * sample_rate)
    frames = audio[: len(audio) // frame * frame].reshape(-1, frame)
    levels = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-20)
    skip = int(round(1.0 / FRAME_S))
    return float(np.ptp(levels[skip:-skip]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default="phone_to_studio")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="STAGE.PARAM=VALUE")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pipeline = load_pipeline(args.pipeline, args.overrides)
    print(f"`{args.pipeline}` {' '.join('--set ' + o for o in args.overrides)}\n")
    print("| input | output level spread dB |\n|---|---:|")
    for name, make in INPUTS.items():
        out = pipeline.process(Signal(torch.from_numpy(make()[None].astype(np.float32)), SAMPLE_RATE))
        print(f"| {name} | {spread_db(out.audio[0].double().numpy(), out.sample_rate):.2f} |")


if __name__ == "__main__":
    main()
