#!/usr/bin/env python
"""Train ``gan_refiner`` and the dereverberating ``mel_unet`` fine-tune on audio degraded on the fly.

    python scripts/train_default_weights.py --phase split   # once: the speech/noise/room split
    python scripts/train_on_the_fly.py rooms                # 2000 simulated rooms + the split's measured ones
    nice python scripts/train_on_the_fly.py gan_refiner     # -> runs/gan_refiner/{run,gan,quiet,bak} (resumes)
    nice python scripts/train_on_the_fly.py gan_refiner_dereverb  # -> runs/gan_refiner/dereverb (not shipped)
    nice python scripts/train_on_the_fly.py mel_unet        # -> runs/mel_unet_dereverb/{run,more} (resumes)
    nice python scripts/train_on_the_fly.py mel_unet_df     # -> runs/mel_unet_df/{filter,joint} (resumes)

Clean speech, noise and the measured room responses are the split of
``scripts/train_default_weights.py`` (``runs/default_weights/data/{train,val}``; held-out
speakers, noises and rooms validate). Rooms at scale come from ``aural data rooms`` (seed 1,
pyroomacoustics), linked next to the split's measured responses in ``runs/rir_train_mix``.
Every item is degraded on the fly by the simulator's profiles (reverb, noise, hum, buzz,
clicks, wind, AGC breathing, EQ, phone microphones, band limits, codecs, packet loss, speed),
with the default early-reflections target (the direct path and the first 50 ms of the room).

- ``gan_refiner``: phase 1, ``scripts/recipes/gan_refiner_cpu.yaml`` (regression) into
  ``runs/gan_refiner/run``; phase 2, ``scripts/recipes/gan_refiner_gan.yaml`` (the GAN phase with an
  EMA of the generator) from phase 1's last checkpoint into ``runs/gan_refiner/gan``; phase 3,
  ``scripts/recipes/gan_refiner_quiet.yaml`` (the GAN phase continued with phase 2's
  discriminators, plus the residual-noise losses) into ``runs/gan_refiner/quiet``, behind
  ``mel_unet`` ``default``; phase 5, ``scripts/recipes/gan_refiner_bak.yaml``, phase 3 continued
  with three times the residual-noise weight into ``runs/gan_refiner/bak`` (shipped). The shipped
  phase 5 started from phase 3's exported generator with fresh discriminators (``--init`` of the
  exported weights: phase 3's checkpoint was gone); the script carries phase 3's discriminators over.
- ``gan_refiner_dereverb``: phase 4, ``scripts/recipes/gan_refiner_dereverb.yaml``, phase 3
  continued behind ``mel_unet`` ``dereverb`` (the front ``phone_to_studio`` runs) into
  ``runs/gan_refiner/dereverb`` (not shipped: ``benchmarks/results/gan_refiner_phases.md``).
- ``mel_unet``: the shipped ``mel_unet`` weights fine-tuned with its built-in recipe at peak
  lr 0.0002 for 4000 steps into ``runs/mel_unet_dereverb/run`` (shipped as ``dereverb``): rooms
  at scale and early targets teach it dereverberation; then 6000 more at peak lr 0.0001 from
  its last checkpoint into ``runs/mel_unet_dereverb/more``.
- ``mel_unet_df``: ``mel_unet`` ``dereverb`` grows a low-band deep filter: phase 1,
  ``scripts/recipes/mel_unet_deep_filter.yaml`` (the filter alone, the U-Nets frozen) into
  ``runs/mel_unet_df/filter``; phase 2, ``scripts/recipes/mel_unet_deep_filter_joint.yaml`` (all
  of it at a fine-tuning rate) into ``runs/mel_unet_df/joint``.

Export with ``aural export RUN --checkpoint last|best`` (see the model cards for what shipped).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from script_commands import run_aural

ROOT = Path(__file__).resolve().parent.parent
SPLIT = ROOT / "runs" / "default_weights" / "data"
ROOMS = ROOT / "runs" / "rooms16k"
RIR_MIX = ROOT / "runs" / "rir_train_mix"
ROOM_COUNT = 2000
ROOM_SEED = 1
GAN_REFINER = ROOT / "runs" / "gan_refiner"
# stage -> its runs in order: (run folder, arguments of a fresh start); a later run starts from the
# last checkpoint of the one before (--init), once that one has finished; once a later run has a
# checkpoint, the earlier ones are not resumed again
RUNS = {
    "gan_refiner": ((GAN_REFINER / "run", ["--recipe", "scripts/recipes/gan_refiner_cpu.yaml"]),
                    (GAN_REFINER / "gan", ["--recipe", "scripts/recipes/gan_refiner_gan.yaml",
                                           "--init", str(GAN_REFINER / "run" / "last.safetensors")]),
                    (GAN_REFINER / "quiet", ["--recipe", "scripts/recipes/gan_refiner_quiet.yaml",
                                             "--init", str(GAN_REFINER / "gan" / "last.safetensors")]),
                    (GAN_REFINER / "bak", ["--recipe", "scripts/recipes/gan_refiner_bak.yaml",
                                           "--init", str(GAN_REFINER / "quiet" / "last.safetensors")])),
    "gan_refiner_dereverb": ((GAN_REFINER / "dereverb", ["--recipe", "scripts/recipes/gan_refiner_dereverb.yaml",
                                                         "--init", str(GAN_REFINER / "quiet" / "last.safetensors")]),),
    "mel_unet": ((ROOT / "runs" / "mel_unet_dereverb" / "run",
                  ["--init", "default", "--lr", "0.0002", "--steps", "4000", "--workers", "1"]),
                 (ROOT / "runs" / "mel_unet_dereverb" / "more",
                  ["--init", str(ROOT / "runs" / "mel_unet_dereverb" / "run" / "last.safetensors"),
                   "--lr", "0.0001", "--steps", "6000", "--workers", "1"])),
    "mel_unet_df": ((ROOT / "runs" / "mel_unet_df" / "filter",
                     ["--recipe", "scripts/recipes/mel_unet_deep_filter.yaml", "--init", "dereverb"]),
                    (ROOT / "runs" / "mel_unet_df" / "joint",
                     ["--recipe", "scripts/recipes/mel_unet_deep_filter_joint.yaml",
                      "--init", str(ROOT / "runs" / "mel_unet_df" / "filter" / "last.safetensors")])),
}
STAGE_OF = {"mel_unet_df": "mel_unet", "gan_refiner_dereverb": "gan_refiner"}


def aural(*args: str) -> None:
    run_aural(args, ROOT)


def rooms() -> None:
    """Simulated rooms (once) linked with the split's measured responses into one --rir folder."""
    if not (ROOMS / "rooms.jsonl").exists():
        aural("data", "rooms", "--out", str(ROOMS), "--count", str(ROOM_COUNT), "--seed", str(ROOM_SEED),
              "--sample-rate", "16000")
    RIR_MIX.mkdir(parents=True, exist_ok=True)
    for path in sorted((SPLIT / "train" / "rir").iterdir()):
        link = RIR_MIX / path.name
        if not link.exists():
            link.symlink_to(path.resolve())
    for path in sorted(ROOMS.glob("*.wav")):
        link = RIR_MIX / f"sim_{path.name}"
        if not link.exists():
            link.symlink_to(path.resolve())
    print(f"{RIR_MIX}: {sum(1 for _ in RIR_MIX.iterdir())} room responses")


def train(what: str, threads: int) -> None:
    if not RIR_MIX.is_dir():
        raise SystemExit(f"{RIR_MIX}: run `python {Path(__file__).name} rooms` first")
    runs = RUNS[what]
    stage = STAGE_OF.get(what, what)
    for index, (out, fresh) in enumerate(runs):
        if any((later / "last.safetensors").exists() for later, _ in runs[index + 1:]):
            continue  # a later run has started from this one: it is finished
        args = ["train", stage, "--data", str(SPLIT / "train" / "speech"), "--noise", str(SPLIT / "train" / "noise"),
                "--rir", str(RIR_MIX), "--val-data", str(SPLIT / "val" / "speech"), "--out", str(out),
                "--threads", str(threads), "--no-progress"]
        aural(*args, *(["--resume"] if (out / "last.safetensors").exists() else fresh))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("rooms", *RUNS))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    if not (SPLIT / "train" / "speech").is_dir():
        raise SystemExit(f"{SPLIT}: run `python scripts/train_default_weights.py --phase split` first")
    if args.what == "rooms":
        rooms()
    else:
        train(args.what, args.threads)


if __name__ == "__main__":
    main()
