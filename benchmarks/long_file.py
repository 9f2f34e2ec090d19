"""Peak memory and time of a long file through a pipeline (default: one hour, 48 kHz stereo).

    python benchmarks/long_file.py --minutes 60 --pipeline podcast_master

Writes a synthetic programme (speech-like bursts over a noise floor, different in each
channel) in blocks, runs ``aural run`` on it in a child process, and reports the child's
peak resident memory, wall time, real-time factor (wall and CPU time: other jobs on the
machine inflate the first, not the second), and the output's integrated loudness and
true peak measured in a streaming pass. Nothing here is a test: numbers go to stdout (JSON).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

BLOCK_S = 10


def write_programme(path: Path, minutes: float, sample_rate: int, num_channels: int) -> None:
    rng = np.random.default_rng(0)
    with sf.SoundFile(str(path), "w", samplerate=sample_rate, channels=num_channels, subtype="PCM_16") as f:
        total = int(minutes * 60 * sample_rate)
        for start in range(0, total, BLOCK_S * sample_rate):
            n = min(BLOCK_S * sample_rate, total - start)
            t = (start + np.arange(n)) / sample_rate
            voiced = np.sin(2 * np.pi * 150 * t) + 0.5 * np.sin(2 * np.pi * 300 * t) + 0.3 * np.sin(2 * np.pi * 450 * t)
            envelope = np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None) ** 2 * (np.sin(2 * np.pi * 0.1 * t) > -0.5)
            block = np.empty((n, num_channels))
            for c in range(num_channels):
                block[:, c] = 0.2 * voiced * envelope * (1 + 0.2 * c) + 0.003 * rng.standard_normal(n)
            f.write(block.astype(np.float32))


def write_looped(path: Path, source: Path, minutes: float, sample_rate: int, num_channels: int) -> None:
    """``source`` (its channel mean, at ``sample_rate``) repeated to ``minutes``, on every channel."""
    import soxr

    audio, rate = sf.read(str(source), dtype="float32", always_2d=True)
    mono = soxr.resample(audio.mean(axis=1), rate, sample_rate).astype(np.float32)
    total = int(minutes * 60 * sample_rate)
    with sf.SoundFile(str(path), "w", samplerate=sample_rate, channels=num_channels, subtype="PCM_16") as f:
        for start in range(0, total, mono.size):
            piece = mono[:min(mono.size, total - start)]
            f.write(np.repeat(piece[:, None], num_channels, axis=1))


def measure_output(path: Path) -> dict[str, float]:
    from aural import io
    from aural.dsp.loudness import LoudnessMeter
    from aural.dsp.true_peak import true_peak_db

    facts = io.info(path)
    meter = LoudnessMeter(facts.sample_rate, facts.num_channels)
    peak_db = -math.inf
    for block in io.iter_blocks(path):
        meter.process(block)
        peak_db = max(peak_db, true_peak_db(block, facts.sample_rate))
    return {"integrated_lufs": meter.integrated_lufs(), "true_peak_dbtp": peak_db}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--sample-rate", type=int, default=48000)
    parser.add_argument("--channels", type=int, default=2)
    parser.add_argument("--pipeline", default="podcast_master")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--loop", type=Path, default=None, help="a recording to repeat instead of the synthetic programme")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="aural-bench-", dir=args.workdir) as tmp:
        src, out = Path(tmp) / "programme.wav", Path(tmp) / "out" / "programme.wav"
        if args.loop is not None:
            write_looped(src, args.loop, args.minutes, args.sample_rate, args.channels)
        else:
            write_programme(src, args.minutes, args.sample_rate, args.channels)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "aural.cli", "run", args.pipeline, str(src), "-o", str(out), "-q"],
                       check=True)
        seconds = time.perf_counter() - started
        child = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_seconds, peak_mb = child.ru_utime + child.ru_stime, child.ru_maxrss / 1024
        result = {
            "pipeline": args.pipeline, "input": str(args.loop) if args.loop else "synthetic programme",
            "minutes": args.minutes, "sample_rate": args.sample_rate,
            "channels": args.channels, "wall_s": round(seconds, 1),
            "real_time_factor": round(seconds / (args.minutes * 60), 4),
            "cpu_real_time_factor": round(cpu_seconds / (args.minutes * 60), 4),
            "peak_rss_mb": round(peak_mb, 1), **measure_output(out),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
