"""Size of ``report.html`` for N files of real speech: how much is audio, how much images.

    python benchmarks/report_size.py [--files 10] [--seconds 10] [--sample-rate 48000]

Takes clean speech from ``$AURAL_DATA/speech`` (default ``../shared/data``), cut or joined to
``--seconds`` at ``--sample-rate``, and makes three signals per file as a pipeline report has
them: a phone-like input (8 kHz band, noise), an output (the clean speech, 48 kHz) and a
reference. It writes the four evaluate outputs to a temporary folder and prints the page's
size, split into audio players, spectrogram images and the rest (JSON). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch


def speech_clips(count: int, seconds: float, sample_rate: int) -> list:
    from aural import io

    root = Path(os.environ.get("AURAL_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    files = io.find_audio(root / "speech")
    if not files:
        sys.exit(f"no speech under {root / 'speech'}: set AURAL_DATA to the shared data folder")
    clips, parts, have = [], [], 0
    for path in files:
        signal = io.read(path).to_mono().resample(sample_rate)
        parts.append(signal.audio)
        have += signal.num_samples
        if have >= seconds * sample_rate:
            audio = torch.cat(parts, dim=1)[:, :int(seconds * sample_rate)]
            audio = audio * (0.1 / (audio.pow(2).mean().sqrt() + 1e-9))
            clips.append(signal.replace(audio, sample_rate))
            parts, have = [], 0
            if len(clips) == count:
                break
    return clips


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sample-rate", type=int, default=48000)
    parser.add_argument("--metrics", default="snr,lufs", help="metrics in the tables (they barely change the size)")
    args = parser.parse_args(argv)

    from aural.evaluate import columns, pipeline_row, write_outputs

    torch.set_num_threads(1)
    metrics = args.metrics.split(",")
    rows = []
    for index, clean in enumerate(speech_clips(args.files, args.seconds, args.sample_rate)):
        rng = np.random.default_rng(index)
        phone = clean.resample(8000)
        phone = phone.replace(phone.audio + 0.01 * torch.from_numpy(rng.standard_normal(tuple(phone.audio.shape))
                                                                    .astype(np.float32)))
        row = pipeline_row(f"clip{index:02d}", clean, phone, clean, metrics)
        row.media = {"input": phone, "output": clean, "reference": clean}
        rows.append(row)
    with tempfile.TemporaryDirectory() as folder:
        write_outputs(rows, folder, columns(metrics, pipeline=True), report_max_files=args.files,
                      report_seconds=args.seconds)
        page = (Path(folder) / "report.html").read_text()
    audio = sum(len(m) for m in re.findall(r"data:audio/[a-z]+;base64,[A-Za-z0-9+/=]*", page))
    images = sum(len(m) for m in re.findall(r"data:image/png;base64,[A-Za-z0-9+/=]*", page))
    print(json.dumps({"files": len(rows), "seconds": args.seconds, "sample_rate": args.sample_rate,
                      "report_bytes": len(page.encode()), "audio_bytes": audio, "image_bytes": images,
                      "other_bytes": len(page.encode()) - audio - images,
                      "players": page.count("<audio controls"), "images": page.count("image/png")}, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
