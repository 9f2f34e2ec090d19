#!/usr/bin/env python
"""Fine-tune ``mel_unet`` to run after DeepFilterNet3 as well as on its own (tried, not shipped).

    python scripts/train_default_weights.py --phase split   # once: the speech/noise/room split
    python scripts/train_on_the_fly.py rooms                # once: 2000 simulated rooms + the measured ones
    python scripts/train_after_deepfilter.py material       # simulated pairs, DeepFilterNet3 over them (resumes)
    nice python scripts/train_after_deepfilter.py train     # -> runs/after_deepfilter/run (resumes)

Material (``runs/after_deepfilter``): the split's training speech simulated twice per file and
profile (``aural data simulate``, every profile, seed 21, 4 s per clip, 16 kHz, early-reflection
references) with its training noises and the rooms of ``runs/rir_train_mix``; validation: the
held-out speakers, noises and rooms (seed 22, once per file and profile). DeepFilterNet3 (the
``deepfilter`` stage, extra ``deepfilter``) runs over every degraded file, and the pairs folder
holds both inputs against the same reference: ``phone/raw/...`` (the degraded file) and
``phone/df/...`` (DeepFilterNet3's output), so one set of weights serves a pipeline that runs
DeepFilterNet3 first and one where it is left out. The run starts from ``dereverb`` with the
built-in recipe at peak lr 0.0001. Measured in ``benchmarks/results/phone_to_studio_deepfilter.md``:
on the recorded pairs it scored below ``dereverb`` in every chain, so ``phone_to_studio`` keeps ``dereverb``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from script_commands import run_aural

ROOT = Path(__file__).resolve().parent.parent
SPLIT = ROOT / "runs" / "default_weights" / "data"
RIR_MIX = ROOT / "runs" / "rir_train_mix"
WORK = ROOT / "runs" / "after_deepfilter"
DEEPFILTER_ONLY = ROOT / "benchmarks" / "pipelines" / "deepfilter_16k.yaml"
# split -> (clean speech, noise, rooms, seed, pairs per clean file and profile)
SIMULATIONS = {"train": (SPLIT / "train" / "speech", SPLIT / "train" / "noise", RIR_MIX, 21, 2),
               "val": (SPLIT / "val" / "speech", SPLIT / "val" / "noise", SPLIT / "val" / "rir", 22, 1)}


def aural(*args: str) -> None:
    run_aural(args, ROOT)


def link_tree(source: Path, target: Path) -> None:
    """Every WAV under ``source`` linked at the same relative path under ``target``."""
    for path in sorted(source.rglob("*.wav")):
        link = target / path.relative_to(source)
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path.resolve())


def material() -> None:
    for split, (speech, noise, rooms, seed, per_file) in SIMULATIONS.items():
        simulated, denoised, pairs = WORK / f"{split}_sim", WORK / f"{split}_deepfilter", WORK / split
        if not (simulated / "manifest.jsonl").exists():
            aural("data", "simulate", "--clean", str(speech), "--noise", str(noise), "--rir", str(rooms),
                  "--profile", "all", "--out", str(simulated), "--seed", str(seed), "--per-file", str(per_file),
                  "--max-seconds", "4", "--sample-rate", "16000")
        for profile in sorted(p.name for p in (simulated / "phone").iterdir()):
            done = denoised / "phone" / profile
            if sum(1 for _ in done.glob("*.wav")) < sum(1 for _ in (simulated / "phone" / profile).glob("*.wav")):
                aural("run", str(DEEPFILTER_ONLY), str(simulated / "phone" / profile), "-o", str(done),
                      "--subtype", "FLOAT", "--quiet")
        for kind, inputs in (("raw", simulated / "phone"), ("df", denoised / "phone")):
            link_tree(inputs, pairs / "phone" / kind)
            link_tree(simulated / "studio", pairs / "studio" / kind)
        print(f"{pairs}: {sum(1 for _ in (pairs / 'phone').rglob('*.wav'))} pairs")


def train(threads: int) -> None:
    out = WORK / "run"
    args = ["train", "mel_unet", "--data", str(WORK / "train"), "--val-data", str(WORK / "val"), "--out", str(out),
            "--threads", str(threads), "--no-progress"]
    fresh = ["--init", "dereverb", "--lr", "0.0001", "--steps", "3000"]
    aural(*args, *(["--resume"] if (out / "last.safetensors").exists() else fresh))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("material", "train"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    if not (SPLIT / "train" / "speech").is_dir() or not RIR_MIX.is_dir():
        raise SystemExit("run `python scripts/train_default_weights.py --phase split` and "
                         "`python scripts/train_on_the_fly.py rooms` first")
    if args.what == "material":
        material()
    else:
        train(args.threads)


if __name__ == "__main__":
    main()
