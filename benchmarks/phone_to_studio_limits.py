"""What ``phone_to_studio`` does not do yet, measured on real recordings from ``$AURAL_DATA``.

    python benchmarks/phone_to_studio_limits.py            # tables on stdout (about 2 min, one thread)

1. Band: a full-band speech recording squeezed through a phone's band (resampled to 8 kHz
   for a call, 16 kHz for wideband voice, and back), then through the pipeline: energy above
   the phone's band (dB relative to the whole), before and after. Nothing creates the band.
2. Residual noise: on the recorded pairs with additive noise (``pairs/seflow_noise_*``), the
   median level of pause frames (the clean reference 30 dB or more below its loudest frame;
   digital silence in the input left out) in dBFS, and of speech frames (the reference within
   20 dB of its loudest) over it, for the input, the pipeline's learned core (its stages up to
   ``mel_unet``: ``dehum``, ``deepfilter`` where installed, ``mel_unet``), the whole pipeline
   (``phone_to_studio``) and the clean reference; and on the bundled example
   (no reference), the quietest 10 % and the median of its 20 ms frames. Reverberation: see
   the ``reverb`` rows of ``results/bench_recorded_pairs.md``.
3. Music: the core (as in the pipeline) on music and, as a control, on clean speech:
   the share of active 20 ms frames (within 40 dB of the loudest) it lowers by more than
   10 dB relative to the file's median change.

Frames are 20 ms; levels are RMS in dBFS. Nothing here is a test; the numbers are the result.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import soxr
import torch

from aural import io
from aural.pipeline import Pipeline, load_pipeline
from aural.signal import Signal

DATA = Path(os.environ.get("AURAL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "examples" / "phone_memo.flac"
FRAME_S = 0.02
SPEECH = ["speech/clarity_t010_g0n_02468.flac", "speech/claritycc_t005_jyd_04274.flac",
          "speech/claritycc_t013_ac5_02904.flac"]
MUSIC = sorted(p.relative_to(DATA).as_posix() for p in (DATA / "music").glob("librosa_*.flac"))


def mono(signal: Signal) -> np.ndarray:
    return signal.audio.double().mean(dim=0).numpy()


def frame_levels_db(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    size = int(FRAME_S * sample_rate)
    frames = audio[: len(audio) // size * size].reshape(-1, size)
    return 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)


def at_rate(signal: Signal, sample_rate: int) -> np.ndarray:
    audio = mono(signal)
    return audio if signal.sample_rate == sample_rate else soxr.resample(audio, signal.sample_rate, sample_rate)


def band_energy_db(audio: np.ndarray, sample_rate: int, above_hz: float) -> float:
    power = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / sample_rate)
    return float(10 * np.log10(power[freqs > above_hz].sum() / power.sum() + 1e-20))


def band_table(pipeline: Pipeline) -> None:
    print("| recording | phone band | original above the band dB | input | output |")
    print("|---|---|---:|---:|---:|")
    for name in SPEECH:
        original = io.read(DATA / name).to_mono()
        for phone_rate in (8000, 16000):
            squeezed = soxr.resample(soxr.resample(mono(original), original.sample_rate, phone_rate),
                                     phone_rate, original.sample_rate)
            phone = Signal(torch.from_numpy(squeezed.astype(np.float32))[None], original.sample_rate)
            output = pipeline.process(phone)
            edge_hz = 0.5 * phone_rate * 1.05
            row = [band_energy_db(mono(original), original.sample_rate, edge_hz),
                   band_energy_db(squeezed, original.sample_rate, edge_hz),
                   band_energy_db(mono(output), output.sample_rate, edge_hz)]
            print(f"| `{Path(name).stem}` | {phone_rate // 2000} kHz | " + " | ".join(f"{v:.1f}" for v in row) + " |")


def residual_table(full: Pipeline, core: Pipeline) -> None:
    print("| pairs | measure | input | core | phone_to_studio | clean reference |")
    print("|---|---|---:|---:|---:|---:|")
    pause_db, gap_db = [], []
    folders = sorted((DATA / "pairs").glob("seflow_noise_*"))
    for folder in folders:
        clean, degraded = io.read(folder / "clean.flac"), io.read(next(folder.glob("degraded_*.flac")))
        rate = degraded.sample_rate
        reference = frame_levels_db(at_rate(clean, rate), rate)
        speech = reference > reference.max() - 20
        pause = (reference < reference.max() - 30) & (frame_levels_db(mono(degraded), rate) > -100)
        pauses, gaps = [], []
        for signal in (degraded, core.process(degraded), full.process(degraded), clean):
            levels = frame_levels_db(at_rate(signal, rate), rate)[: len(reference)]
            pauses.append(float(np.median(levels[pause[: len(levels)]])))
            gaps.append(float(np.median(levels[speech[: len(levels)]])) - pauses[-1])
        pause_db.append(pauses)
        gap_db.append(gaps)
    label = f"`seflow_noise` ({len(folders)})"
    print(f"| {label} | pause level dBFS | " + " | ".join(f"{v:.1f}" for v in np.mean(pause_db, axis=0)) + " |")
    print(f"| {label} | speech over pauses dB | " + " | ".join(f"{v:.1f}" for v in np.mean(gap_db, axis=0)) + " |")
    example = io.read(EXAMPLE)
    levels = [frame_levels_db(at_rate(signal, example.sample_rate), example.sample_rate)
              for signal in (example, core.process(example), full.process(example))]
    for measure, percent in (("quietest 10 % of frames dBFS", 10), ("median frame dBFS", 50)):
        print(f"| `{EXAMPLE.name}` | {measure} | "
              + " | ".join(f"{np.percentile(frames, percent):.1f}" for frames in levels) + " | - |")


def gated_share(before: Signal, after: Signal) -> float:
    rate = before.sample_rate
    levels_in = frame_levels_db(at_rate(before, rate), rate)
    levels_out = frame_levels_db(at_rate(after, rate), rate)[: len(levels_in)]
    levels_in = levels_in[: len(levels_out)]
    active = levels_in > levels_in.max() - 40
    change = levels_out[active] - levels_in[active]
    return float(np.mean(change < np.median(change) - 10))


def music_table(core: Pipeline) -> None:
    print("| material | files | active frames lowered > 10 dB (mean) | (worst file) |")
    print("|---|---:|---:|---:|")
    for label, names in (("clean speech (control)", SPEECH), ("music", MUSIC)):
        shares = [gated_share(signal, core.process(signal))
                  for signal in (io.read(DATA / name).to_mono() for name in names)]
        print(f"| {label} | {len(shares)} | {100 * np.mean(shares):.1f} % | {100 * max(shares):.1f} % |")


def main() -> None:
    torch.set_num_threads(1)
    full = load_pipeline("phone_to_studio")
    upto = [spec.stage for spec in full.spec.stages].index("mel_unet") + 1  # the learned core: stages up to mel_unet
    core = Pipeline(replace(full.spec, stages=full.spec.stages[:upto]), full.stages[:upto])
    print(f"data: {DATA}\n\n## 1. Band\n")
    band_table(full)
    print("\n## 2. Residual noise\n")
    residual_table(full, core)
    print("\n## 3. Music through the core\n")
    music_table(core)


if __name__ == "__main__":
    main()
