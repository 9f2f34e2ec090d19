"""DeepFilterNet3 two ways on the same audio: libDF's frame loop against onnxruntime in blocks.

    python benchmarks/deepfilter_engines.py                     # the recorded pairs' noisy files
    python benchmarks/deepfilter_engines.py --files 48 --repeats 3

One thread. The audio is the first ``--files`` noisy recordings of ``../shared/data/pairs``
at 48 kHz, run as one stream through each engine (``aural.libdf`` frame by frame,
``aural.dfnet_onnx`` in blocks of ``--block-frames``), after one warm-up second. Reports each
engine's CPU time per second of audio (best of ``--repeats``) and how far apart the two outputs
are (dB: output energy over the energy of their difference). Prints one JSON object.
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


def noisy_recordings(count: int) -> "np.ndarray":
    import numpy as np
    import soundfile as sf
    import soxr

    from compare import shared_pairs_dir

    files = sorted(shared_pairs_dir().glob("*/noisy*.flac"))[:count]
    parts = []
    for path in files:
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
        parts.append(soxr.resample(audio[:, 0], rate, 48000).astype(np.float32))
    audio = np.concatenate(parts)
    return audio[:audio.size - audio.size % 480]


def cpu_rtf(run, audio, repeats: int) -> tuple[float, "np.ndarray"]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.process_time()
        out = run(audio)
        best = min(best, (time.process_time() - start) / (audio.size / 48000))
    return best, out


def main() -> None:
    import numpy as np
    import torch

    from aural import dfnet_onnx, libdf

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--block-frames", type=int, default=136,
                        help="frames per process_frames call (136: a pipeline's 65,536-sample block; the "
                             "engine runs at most 100 through its networks at a time)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    audio = noisy_recordings(args.files)
    runtime, engine = libdf.load(), dfnet_onnx.load()

    def through_libdf(x: np.ndarray) -> np.ndarray:
        state = runtime.create(libdf.NO_ATTENUATION_LIMIT_DB)
        try:
            return runtime.process_frames(state, x)
        finally:
            runtime.free(state)

    def through_onnxruntime(x: np.ndarray) -> np.ndarray:
        stream, step = engine.create(), args.block_frames * dfnet_onnx.FRAME_SAMPLES
        return np.concatenate([engine.process_frames(stream, x[i:i + step]) for i in range(0, x.size, step)])

    through_onnxruntime(audio[:48000])  # warm-up: onnxruntime prepares its kernels on the first run
    libdf_rtf, libdf_out = cpu_rtf(through_libdf, audio, args.repeats)
    onnx_rtf, onnx_out = cpu_rtf(through_onnxruntime, audio, args.repeats)
    apart_db = 10 * np.log10(np.sum(libdf_out.astype(np.float64) ** 2) / np.sum((libdf_out - onnx_out) ** 2.0))
    print(json.dumps({"seconds": round(audio.size / 48000, 1), "files": args.files,
                      "block_frames": args.block_frames, "libdf_cpu_rtf": round(libdf_rtf, 4),
                      "onnxruntime_cpu_rtf": round(onnx_rtf, 4), "speed_up": round(libdf_rtf / onnx_rtf, 2),
                      "outputs_apart_db": round(float(apart_db), 1)}, indent=2))


if __name__ == "__main__":
    main()
