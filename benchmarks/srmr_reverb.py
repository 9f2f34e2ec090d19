#!/usr/bin/env python
"""SRMR and SRMRnorm of clean speech against the same speech in longer and longer rooms, and their speed.

    python benchmarks/srmr_reverb.py [FILE ...] [--rt60s 0.3,0.6,1.0] [--drr-db 0]

Each file (default: held-out speakers of $AURAL_DATA/speech, see
scripts/train_default_weights.py) is mixed to mono at 16 kHz and scored dry, then convolved
with a synthetic room of each RT60 (:func:`aural.degrade.reverb.synthetic_rir`: direct path
at sample 0, ``--drr-db`` direct-to-reverberant ratio, 5 ms pre-delay) and scored again,
both as the phone side hears it and as the ``early`` studio reference keeps it (direct path
plus the first 50 ms, :mod:`aural.degrade.reference`). Last, the time one metric takes for
10 s of audio on one thread (best of three).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

DEFAULT_FILES = ("speech/librispeech_5703-47212-0000.flac",
                 "speech/libritts16k_yourtts/1284/1284_1180_000024_000001.flac",
                 "speech/vctk16k_yourtts/p245/p245_029.flac")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*")
    parser.add_argument("--rt60s", default="0.3,0.6,1.0")
    parser.add_argument("--drr-db", type=float, default=0.0)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    import torch

    from aural import io
    from aural.degrade.impulse import convolve_aligned
    from aural.degrade.reference import DEFAULT_EARLY_REFLECTIONS_MS, early_part
    from aural.degrade.reverb import synthetic_rir
    from aural.dsp.resample import resample
    from aural.metrics.reverberation import srmr_value

    torch.set_num_threads(1)
    root = Path(os.environ.get("AURAL_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
    files = [Path(f) for f in args.files] or [root / f for f in DEFAULT_FILES]
    rt60s = [float(x) for x in args.rt60s.split(",")]
    print(f"synthetic rooms: DRR {args.drr_db:g} dB, pre-delay 5 ms; 'early' = the studio reference "
          f"(direct path + first {DEFAULT_EARLY_REFLECTIONS_MS:g} ms)")
    print("| file | metric | dry | " + " | ".join(f"RT60 {rt:g} s (early)" for rt in rt60s) + " |")
    print("|---|---|---:|" + "---:|" * len(rt60s))
    timing = None
    for path in files:
        signal = io.read(path)
        mono = resample(signal.audio.mean(0, keepdim=True), signal.sample_rate, 16000)
        if timing is None and mono.shape[1] >= 160000:
            timing = mono[0, :160000].double().numpy()
        rooms = {rt: synthetic_rir({"rt60_s": rt, "drr_db": args.drr_db, "predelay_ms": 5.0, "seed": 1,
                                    "max_length_s": 2.0}, 16000) for rt in rt60s}
        for name, normalised in (("srmrnorm", True), ("srmr", False)):
            def score(audio: torch.Tensor) -> float:
                return srmr_value(audio[0].double().numpy(), normalised=normalised)

            cells = [f"{score(mono):.2f}"]
            for rt, kernel in rooms.items():
                early = convolve_aligned(mono, early_part(kernel, 16000, DEFAULT_EARLY_REFLECTIONS_MS), 0)
                cells.append(f"{score(convolve_aligned(mono, kernel, 0)):.2f} ({score(early):.2f})")
            print(f"| {path.name} | {name} | " + " | ".join(cells) + " |")
    if timing is not None:
        for name, normalised in (("srmrnorm", True), ("srmr", False)):
            seconds = []
            for _ in range(3):
                start = time.perf_counter()
                srmr_value(timing, normalised=normalised)
                seconds.append(time.perf_counter() - start)
            print(f"{name}: {min(seconds):.2f} s per 10 s of 16 kHz audio on one thread (best of 3)")


if __name__ == "__main__":
    main(sys.argv[1:])
