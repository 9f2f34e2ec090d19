"""The learned stages' networks in PyTorch against onnxruntime, on the same real recordings.

    python benchmarks/inference_engines.py                          # mel_unet dereverb and default, separation
    python benchmarks/inference_engines.py --stages mel_unet@dereverb --files 12

One thread. The audio is the first ``--files`` noisy recordings of ``../shared/data/pairs`` at
16 kHz, run as one stream through each stage twice: built with ``AURAL_ONNXRUNTIME=0`` (PyTorch)
and without (onnxruntime, :mod:`aural.nn.onnx_runtime`), after one warm-up second each. Reports
each engine's CPU time per second of audio (best of ``--repeats``) and how far apart the outputs
are (dB: output energy over the energy of their difference; for ``separation`` its voice stem).
Prints one JSON object per stage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

SAMPLE_RATE = 16000


def noisy_recordings(count: int) -> "torch.Tensor":
    import numpy as np
    import soundfile as sf
    import soxr
    import torch

    from compare import shared_pairs_dir

    files = sorted(shared_pairs_dir().glob("*/noisy*.flac"))[:count]
    parts = []
    for path in files:
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
        parts.append(soxr.resample(audio[:, 0], rate, SAMPLE_RATE).astype(np.float32))
    return torch.from_numpy(np.concatenate(parts))[None]


def build(spec: str, engine: str):
    from aural.stages import get_stage

    name, _, weights = spec.partition("@")
    previous = os.environ.get("AURAL_ONNXRUNTIME")
    os.environ["AURAL_ONNXRUNTIME"] = "1" if engine == "onnxruntime" else "0"
    try:
        stage = get_stage(name)(weights=weights or "default")
    finally:
        if previous is None:
            del os.environ["AURAL_ONNXRUNTIME"]
        else:
            os.environ["AURAL_ONNXRUNTIME"] = previous
    if stage.describe()["engine"] != engine:
        raise SystemExit(f"{spec}: built for {engine} but runs in {stage.describe()['engine']}")
    return stage


def first_signal(output) -> "torch.Tensor":
    from aural.signal import Signal

    return output.audio if isinstance(output, Signal) else output["voice"].audio


def cpu_rtf(stage, audio, repeats: int) -> tuple[float, "torch.Tensor"]:
    from aural.signal import Signal

    stage.process(Signal(audio[:, :SAMPLE_RATE], SAMPLE_RATE))  # warm-up
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.process_time()
        out = first_signal(stage.process(Signal(audio, SAMPLE_RATE)))
        best = min(best, (time.process_time() - start) / (audio.shape[-1] / SAMPLE_RATE))
    return best, out


def main() -> None:
    import math

    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stages", nargs="+", default=["mel_unet@dereverb", "mel_unet@default", "separation"])
    parser.add_argument("--files", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    audio = noisy_recordings(args.files)
    for spec in args.stages:
        torch_rtf, torch_out = cpu_rtf(build(spec, "torch"), audio, args.repeats)
        onnx_rtf, onnx_out = cpu_rtf(build(spec, "onnxruntime"), audio, args.repeats)
        difference = float((torch_out.double() - onnx_out.double()).pow(2).sum())
        apart_db = 10 * math.log10(float(torch_out.double().pow(2).sum()) / difference) if difference else math.inf
        print(json.dumps({"stage": spec, "seconds": round(audio.shape[-1] / SAMPLE_RATE, 1), "files": args.files,
                          "torch_cpu_rtf": round(torch_rtf, 4), "onnxruntime_cpu_rtf": round(onnx_rtf, 4),
                          "speed_up": round(torch_rtf / onnx_rtf, 2), "outputs_apart_db": round(apart_db, 1)}))


if __name__ == "__main__":
    main()
