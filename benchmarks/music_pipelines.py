#!/usr/bin/env python
"""Music through aural's pipelines: spectrum kept (LSD) and sustained notes kept (level).

    python benchmarks/music_pipelines.py [--list runs/freq_expansion/eval_music.txt] [--out FILE]
        [--pipelines NAME_OR_YAML,...]

1. Held-out music (the excerpts ``scripts/train_freq_expansion.py lists`` keeps out of training;
   first 20 s of each): the reference is the file at 48 kHz, the input the same music
   band-limited to 8 kHz (16 kHz sampling, as a phone or codec leaves it) back at 48 kHz. LSD
   (:func:`aural.metrics.spectral.lsd`, gain-matched) of each pipeline's output against the
   reference, and of the input.
2. A generated sustained note (a 220 Hz tone with harmonics, 4 s, at -20 dBFS, after 1 s of
   a plucked note): the level of its last second against its second second, in the output minus
   the same in the input (0 dB: the pipeline kept the sustain; negative: it pulled it down).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_name] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aural import io  # noqa: E402
from aural.dsp.resample import resample  # noqa: E402
from aural.metrics.spectral import log_spectral_distance, lsd  # noqa: E402
from aural.pipeline import load_pipeline  # noqa: E402
from aural.signal import Signal  # noqa: E402
from aural.stages.freq_expansion.data import known_top_hz  # noqa: E402

PIPELINES = ("phone_to_studio", "music_to_studio", "bandwidth_extend")
RATE = 48000


def sustained_note(seconds: float = 5.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    note = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in range(1, 8))
    pluck = np.exp(-t / 0.2) * (t < 1.0)
    envelope = np.where(t < 1.0, pluck, 1.0)
    out = note * envelope
    return (out / np.sqrt(np.mean(out[RATE:] ** 2)) * 10 ** (-20 / 20)).astype(np.float32)


def level_db(audio: np.ndarray) -> float:
    return 10 * np.log10(np.mean(audio.astype(np.float64) ** 2) + 1e-20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", type=Path, default=ROOT / "runs" / "freq_expansion" / "eval_music.txt")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "music_to_studio.md")
    parser.add_argument("--pipelines", default=",".join(PIPELINES),
                        help="pipelines to compare (names or YAML paths, comma-separated)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    files = [Path(line) for line in args.list.read_text().split() if line]
    names = args.pipelines.split(",")
    pipelines = {name: load_pipeline(name) for name in names}
    scores: dict[str, list[float]] = {name: [] for name in ("input", *names)}
    in_band: dict[str, list[float]] = {name: [] for name in ("input", *names)}
    for path in files:
        top_hz = known_top_hz(path, io.info(path))
        signal = io.read(path)
        audio = signal.audio.mean(dim=0, keepdim=True)[:, : 20 * signal.sample_rate]
        reference = resample(audio, signal.sample_rate, RATE) if signal.sample_rate != RATE else audio
        limited = resample(resample(reference, RATE, 16000), 16000, RATE)[:, : reference.shape[1]]
        limited = torch.nn.functional.pad(limited, (0, reference.shape[1] - limited.shape[1]))
        outputs = {"input": limited[0].numpy()}
        for name, pipeline in pipelines.items():
            out = pipeline.process(Signal(limited, RATE), output_sample_rate=RATE).audio
            outputs[name] = out[0, : reference.shape[1]].numpy()
        for name, out in outputs.items():
            scores[name].append(lsd(reference[0].numpy(), out, RATE))
            in_band[name].append(log_spectral_distance(reference[0].numpy(), out, RATE, max_frequency_hz=top_hz))
        print(path.name, {k: round(v[-1], 3) for k, v in scores.items()}, flush=True)
    note = sustained_note()
    sustain = {}
    for name, pipeline in pipelines.items():
        out = pipeline.process(Signal(torch.from_numpy(note)[None], RATE), output_sample_rate=RATE).audio[0].numpy()
        change_out = level_db(out[4 * RATE:5 * RATE]) - level_db(out[1 * RATE:2 * RATE])
        change_in = level_db(note[4 * RATE:5 * RATE]) - level_db(note[1 * RATE:2 * RATE])
        sustain[name] = change_out - change_in
    lines = ["# Music through the pipelines: spectrum and sustained notes", "",
             "```bash", "python benchmarks/music_pipelines.py"
             + ("" if names == list(PIPELINES) else f" --pipelines {args.pipelines}"), "```", "",
             f"{len(files)} held-out music excerpts (`{args.list.relative_to(ROOT) if args.list.is_relative_to(ROOT) else args.list}`, "
             "first 20 s, mono), band-limited to 8 kHz and back at 48 kHz; LSD against the original (lower is better).",
             "In the piece's band: only the bins up to where the original holds content "
             "(`known_top_hz`; these 44.1 kHz pieces end near 22 kHz, and the full-band LSD counts anything "
             "generated above that as error).",
             "Sustain: a generated note's last second against its second second, output minus input (0 dB: kept).", "",
             "| system | LSD (mean) | LSD in the piece's band | sustained note, dB |", "|---|---:|---:|---:|",
             f"| input | {np.mean(scores['input']):.3f} | {np.mean(in_band['input']):.3f} | - |"]
    lines += [f"| `{name}` | {np.mean(scores[name]):.3f} | {np.mean(in_band[name]):.3f} | {sustain[name]:+.2f} |"
              for name in names]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
