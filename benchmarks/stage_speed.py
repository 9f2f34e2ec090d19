"""Real-time factor on one CPU thread and peak memory of each stage, short against long input.

    python benchmarks/stage_speed.py                          # every stage, 10 s and 10 min
    python benchmarks/stage_speed.py --stages noise_reduction --seconds 10 600
    python benchmarks/stage_speed.py --random-init            # learned stages without shipped weights
    python benchmarks/stage_speed.py --stages separation --random-init --sample-rate 48000 --channels 2
    python benchmarks/stage_speed.py --stages separation --random-init --model-config '{"network": "complex_mask"}'
    python benchmarks/stage_speed.py --stages separation --params '{"deepfilter_share": 0.7}'

Each measurement runs in a fresh child process: it builds the stage (weights loaded before
the clock starts), streams a generated file of the given length at the stage's native rate
through it block by block (``Pipeline.run_file``: read, process, write; a file per stem for a
stage that outputs stems), and reports the wall time over the audio duration (RTF), the CPU
time over it (CPU RTF, which other jobs on the machine do not inflate) and the child's peak
resident memory. Peak memory that does not grow from the short to the long input is what
bounded streaming means. Nothing here is a test; the JSON lines on stdout are the result.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import torch
torch.set_num_threads(1)
import numpy as np, soundfile as sf
from aural.config import PipelineSpec, StageSpec
from aural.pipeline import Pipeline
from aural.stages import STAGES

name, seconds, random_init, folder = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
rate_arg, channels, model_config = int(sys.argv[5]), int(sys.argv[6]), json.loads(sys.argv[7])
params = json.loads(sys.argv[8])
cls = STAGES.get(name)
if cls.learned and random_init:
    stage = cls(model=cls.model_factory(model_config), **params)
elif cls.learned:
    stage = cls(weights="default", **params)
else:
    stage = cls(**params)
rate = rate_arg or stage.contract.sample_rate or 48000
src, out = f"{folder}/in.wav", f"{folder}/out.wav"
rng = np.random.default_rng(0)
with sf.SoundFile(src, "w", samplerate=rate, channels=channels, subtype="FLOAT") as f:
    for start in range(0, int(seconds * rate), 10 * rate):
        n = min(10 * rate, int(seconds * rate) - start)
        t = (start + np.arange(n)) / rate
        voice = np.sin(2 * np.pi * 150 * t) * np.clip(np.sin(2 * np.pi * 3 * t), 0, None)
        mono = 0.3 * voice + 0.05 * rng.standard_normal(n)
        f.write(np.stack([mono] * channels, axis=1).astype(np.float32))
pipeline = Pipeline(PipelineSpec(name=name, stages=(StageSpec(name, stage.params),)), [stage])
if pipeline.output_stems:
    outputs = {stem: f"{folder}/{stem}.wav" for stem in pipeline.output_stems}
    run = lambda: pipeline.run_stems_file(src, outputs, subtype="FLOAT")
else:
    run = lambda: pipeline.run_file(src, out, subtype="FLOAT")
run()  # warm-up (JIT, allocator)
started, cpu_started = time.perf_counter(), time.process_time()
run()
wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"stage": name, "seconds": seconds, "sample_rate": rate, "channels": channels, "threads": 1,
                  "wall_s": round(wall, 3), "real_time_factor": round(wall / seconds, 4),
                  "cpu_real_time_factor": round(cpu / seconds, 4),
                  "peak_rss_mb": round(peak_mb, 1), "random_init": random_init and cls.learned,
                  **({"model_config": model_config} if model_config and random_init else {}),
                  **({"params": params} if params else {})}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stages", nargs="*", default=None, help="stage names (default: every stage)")
    parser.add_argument("--seconds", nargs="*", type=float, default=[10.0, 600.0])
    parser.add_argument("--sample-rate", type=int, default=0, help="input rate (default: the stage's, else 48000)")
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--random-init", action="store_true",
                        help="learned stages with untrained weights (speed and memory only)")
    parser.add_argument("--model-config", default="{}",
                        help="with --random-init: the model config as JSON (default: the stage's defaults)")
    parser.add_argument("--params", default="{}", help="the stage's params as JSON (default: its defaults)")
    args = parser.parse_args()
    if args.stages is None:
        from aural.stages import STAGES

        args.stages = STAGES.names()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "NUMBA_NUM_THREADS": "1"}
    for name in args.stages:
        for seconds in args.seconds:
            with tempfile.TemporaryDirectory(prefix="aural-speed-") as folder:
                result = subprocess.run([sys.executable, "-c", CHILD, name, str(seconds),
                                         "1" if args.random_init else "0", folder, str(args.sample_rate),
                                         str(args.channels), args.model_config, args.params],
                                        env=env, capture_output=True, text=True)
            if result.returncode:
                print(json.dumps({"stage": name, "seconds": seconds,
                                  "error": result.stderr.strip().splitlines()[-1:]}))
            else:
                print(result.stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
