"""Train and evaluate the shipped ``freq_expansion`` weights (reproducible, offline).

    python scripts/train_freq_expansion.py lists      # full-band file lists -> runs/freq_expansion/
    python scripts/train_freq_expansion.py pairs      # held-out band-limited pairs (4 / 8 / 11 kHz)
    python scripts/train_freq_expansion.py train [--steps N] [--resume]       # phase 1, from scratch
    python scripts/train_freq_expansion.py finetune [--weights W] [--resume]  # phase 2, balanced material
    python scripts/train_freq_expansion.py music [--weights W] [--resume]     # preset music: music only
    python scripts/train_freq_expansion.py bench [--weights W1,W2]   # LSD tables vs soxr, one run

Material: every speech and music file of ``$AURAL_DATA`` (default ``../shared/data``) recorded
at 44.1 kHz or more whose content really is full band (the stage's own cutoff tracker finds no
cutoff below 19.5 kHz). Held out for evaluation, never trained on: RAVDESS actors 21-24, the
VCTK speakers of ``pairs/seflow_*`` (p232, p257, s5; not in speech/), and the music files
whose name hashes into a fixed 20 % (``split_of(name, 0.2) == "val"``).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
from pathlib import Path

from script_commands import run_aural

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "runs" / "freq_expansion"
HELD_OUT_ACTORS = ("actor21", "actor22", "actor23", "actor24")
# Shares of the training draws per material group in train_balanced.txt (by repeating lines):
# by file count RAVDESS's 3 s clips would be 85 % of all draws and one studio's sound.
GROUP_SHARES = {"ravdess": 0.35, "vctk": 0.25, "other speech": 0.15, "music": 0.25}
FINETUNE_LR = 3e-4
FINETUNE_STEPS = 6000
MUSIC_LR = 1e-4
MUSIC_STEPS = 3000
MUSIC_VAL_EVERY = 9  # every 9th training music file validates the music fine-tune (too few for a 10 % hash split)
EVAL_CUTOFFS_HZ = (4000, 8000, 11025)  # files at 8, 16 and 22.05 kHz


def data_root() -> Path:
    return Path(os.environ.get("AURAL_DATA", ROOT.parent / "shared" / "data")).resolve()


def is_held_out(relative: str) -> bool:
    from aural.train.datasets import split_of

    parts = relative.split("/")
    if parts[0] == "speech":
        return any(actor in parts for actor in HELD_OUT_ACTORS)
    return split_of(Path(relative).name, 0.2) == "val"


def full_band(path: Path) -> bool:
    import torch

    from aural import io
    from aural.dsp.resample import resample
    from aural.stages.freq_expansion.cutoff import detect_cutoff_hz

    signal = io.read(path)
    audio = signal.audio[:, : signal.sample_rate * 30]
    if signal.sample_rate != 48000:
        audio = resample(audio, signal.sample_rate, 48000)
    return detect_cutoff_hz(audio.mean(0, keepdim=True).to(torch.float32), 48000) >= 19500


def material_group(relative: str) -> str:
    parts = relative.split("/")
    if parts[0] == "music":
        return "music"
    if len(parts) > 1 and parts[1] == "ravdess":
        return "ravdess"
    return "vctk" if re.search(r"vctk|_p\d{3}_", relative) else "other speech"


def balanced(files: list[str], root: Path) -> list[str]:
    """``files`` with each repeated so every group gets about its ``GROUP_SHARES`` of the draws."""
    groups: dict[str, list[str]] = {}
    for path in files:
        groups.setdefault(material_group(os.path.relpath(path, root)), []).append(path)
    largest = max(len(members) / GROUP_SHARES[name] for name, members in groups.items())
    lines = []
    for name, members in sorted(groups.items()):
        repeats = max(1, round(largest * GROUP_SHARES[name] / len(members)))
        lines += [path for path in members for _ in range(repeats)]
        print(f"  {name}: {len(members)} files x {repeats}")
    return sorted(lines)


def make_lists() -> None:
    root = data_root()
    lists: dict[str, list[str]] = {"train": [], "eval_speech": [], "eval_music": []}
    rejected = 0
    with open(root / "MANIFEST.tsv", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            kind = row["path"].split("/")[0]
            if kind not in ("speech", "music") or int(row["sample_rate"]) < 44100:
                continue
            path = root / row["path"]
            if not full_band(path):
                rejected += 1
                continue
            name = "train" if not is_held_out(row["path"]) else f"eval_{kind}"
            lists[name].append(str(path))
    for pair in sorted((root / "pairs").glob("seflow_*/clean.flac")):
        lists["eval_speech"].append(str(pair))
    RUN.mkdir(parents=True, exist_ok=True)
    for name, files in lists.items():
        (RUN / f"{name}.txt").write_text("\n".join(sorted(files)) + "\n")
        print(f"{name}: {len(files)} files")
    (RUN / "train_balanced.txt").write_text("\n".join(balanced(lists["train"], root)) + "\n")
    music = [path for path in lists["train"] if material_group(os.path.relpath(path, root)) == "music"]
    validate = music[MUSIC_VAL_EVERY - 1::MUSIC_VAL_EVERY]
    (RUN / "train_music_fit.txt").write_text("\n".join(p for p in music if p not in validate) + "\n")
    (RUN / "val_music.txt").write_text("\n".join(validate) + "\n")
    print(f"music fine-tune: {len(music) - len(validate)} files, {len(validate)} validate")
    print(f"not full band (skipped): {rejected}")


def make_pairs() -> None:
    """Per-pair folders ``<set>_<cutoff>/<name>/clean.flac`` (48 kHz) + ``degraded_lowpass.flac``:
    the reference resampled (soxr) to twice the cutoff, as a file at that rate (8, 16, 22.05 kHz)."""
    import numpy as np
    import soundfile as sf
    import soxr

    for kind in ("speech", "music"):
        files = [Path(line) for line in (RUN / f"eval_{kind}.txt").read_text().split() if line]
        for cutoff in EVAL_CUTOFFS_HZ:
            out = RUN / "pairs" / f"{kind}_{cutoff // 1000}k"
            for path in files:
                audio, rate = sf.read(path, dtype="float32", always_2d=True)
                audio = audio.mean(axis=1)[: 48000 * 20]
                if rate != 48000:
                    audio = soxr.resample(audio, rate, 48000)
                low = soxr.resample(audio, 48000, 2 * cutoff)
                name = path.parent.name if path.name == "clean.flac" else path.stem
                folder = out / name
                folder.mkdir(parents=True, exist_ok=True)
                sf.write(folder / "clean.flac", audio.astype(np.float32), 48000, subtype="PCM_24")
                sf.write(folder / "degraded_lowpass.flac", low.astype(np.float32), 2 * cutoff, subtype="PCM_24")
            print(f"{out}: {len(files)} pairs")


SPEECH_SETS = {"VCTK": "seflow_", "RAVDESS": "03-"}  # held-out pair folders by name prefix


def system_spec(weights: str) -> str:
    return "stage:freq_expansion" if weights == "default" else f"stage:freq_expansion@{weights}"


def bench(weights: list[str], run: bool = True, sets: str = "") -> None:
    """``aural bench`` (soxr and each of ``weights``, one run on the same files) on every
    held-out pair set, then one table (scored here from the saved outputs; ``run=False``
    only re-scores them), speech also per corpus: the full-band LSD, the LSD above the input's
    cutoff, and the LSD over the bins the reference holds content in (below its
    :func:`known_top_hz`: a 44.1 kHz piece or RAVDESS's converter ends at 20-22 kHz, and
    generating above that is scored as an error by the full-band LSD). ``sets``: only the pair
    sets whose name starts with it (``music``, ``speech``)."""
    import numpy as np

    from aural import io
    from aural.bench import folder_names
    from aural.metrics.spectral import log_spectral_distance
    from aural.stages.freq_expansion.data import known_top_hz

    systems = ["soxr"] + [system_spec(w) for w in weights]
    folders = folder_names(systems)
    rows = []
    for pairs in sorted(p for p in (RUN / "pairs").iterdir() if p.name.startswith(sets)):
        out = RUN / "bench" / pairs.name
        if run:
            run_aural(["bench", "--pairs", str(pairs), "--systems", ",".join(systems), "--metrics", "lsd",
                       "--save-audio", "--out", str(out)], ROOT)
        cutoff_hz = float(pairs.name.split("_")[1].rstrip("k")) * 1000
        cutoff_hz = 11025.0 if cutoff_hz == 11000 else cutoff_hz
        scores: dict[tuple[str, str], list[list[float]]] = {}
        for folder in sorted(p for p in pairs.iterdir() if p.is_dir()):
            reference = io.read(folder / "clean.flac").audio[0].numpy()
            top_hz = known_top_hz(folder / "clean.flac", io.info(folder / "clean.flac"))
            subsets = ["all"] + [name for name, prefix in SPEECH_SETS.items()
                                 if pairs.name.startswith("speech") and folder.name.startswith(prefix)]
            for name in systems:
                match = sorted((out / "audio" / folders[name] / folder.name).glob("*.wav"))
                if not match:
                    continue
                estimate = io.read(match[0]).audio[0].numpy()
                length = min(reference.shape[0], estimate.shape[0])  # resampling to 22.05 kHz and back may drop one
                full = log_spectral_distance(reference[:length], estimate[:length], 48000)
                high = log_spectral_distance(reference[:length], estimate[:length], 48000, cutoff_hz)
                held = log_spectral_distance(reference[:length], estimate[:length], 48000, max_frequency_hz=top_hz)
                for subset in subsets:
                    scores.setdefault((subset, name), []).append([full, high, held])
        for (subset, name), values in scores.items():
            mean = np.mean(values, axis=0)
            label = pairs.name if subset == "all" else f"{pairs.name} {subset}"
            rows.append((label, name, len(values), *mean))
    lines = ["| pairs | system | files | LSD | LSD above the input's cutoff | LSD in the reference's band |",
             "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {p} | `{s}` | {n} | {a:.3f} | {b:.3f} | {c:.3f} |"
              for p, s, n, a, b, c in sorted(rows, key=lambda r: r[0])]
    table = "\n".join(lines) + "\n"
    (RUN / "bench" / (f"lsd_{sets}.md" if sets else "lsd.md")).write_text(table)
    print(table)


def train_run(out: str, resume: bool, *options: str) -> None:
    """``aural train freq_expansion OPTIONS`` into ``RUN / out`` on one thread (``resume``: continue it)."""
    run_aural(["train", "freq_expansion", "--out", str(RUN / out), "--threads", "1", "--no-progress", *options,
               *(["--resume"] if resume else [])], ROOT)


def train(steps: int | None, resume: bool) -> None:
    """Phase 1: from scratch on every training file once (the recipe's 20,000-step plan)."""
    train_run("run", resume, "--data", str(RUN / "train.txt"), *(["--steps", str(steps)] if steps else []))


def finetune(weights: str, steps: int | None, resume: bool) -> None:
    """Phase 2: from ``weights``, on the balanced list (``GROUP_SHARES``) at a lower learning rate."""
    train_run("finetune", resume, "--data", str(RUN / "train_balanced.txt"), "--init", weights,
              "--lr", str(FINETUNE_LR), "--steps", str(steps or FINETUNE_STEPS))


def music(weights: str, steps: int | None, resume: bool) -> None:
    """Preset ``music``: from ``weights``, on the training music alone, scored up to 24 kHz
    (``scripts/recipes/freq_expansion_music.yaml``): music mastered at 44.1 kHz holds nothing above
    22.05 kHz, and ``default``, which 48 kHz speech teaches to fill that band, fills it."""
    train_run("music", resume, "--data", str(RUN / "train_music_fit.txt"), "--val-data", str(RUN / "val_music.txt"),
              "--recipe", str(ROOT / "scripts" / "recipes" / "freq_expansion_music.yaml"), "--init", weights,
              "--lr", str(MUSIC_LR), "--steps", str(steps or MUSIC_STEPS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("lists", "pairs", "train", "finetune", "music", "bench"))
    parser.add_argument("--weights", default="default",
                        help="bench: presets or .safetensors paths, comma-separated (compared in one run); "
                             "finetune, music: the weights to start from")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--no-run", action="store_true", help="bench: re-score the saved outputs only")
    parser.add_argument("--sets", default="", help="bench: only the pair sets whose name starts with this "
                                                   "(music, speech)")
    args = parser.parse_args()
    if args.what == "lists":
        make_lists()
    elif args.what == "pairs":
        make_pairs()
    elif args.what == "bench":
        bench(args.weights.split(","), run=not args.no_run, sets=args.sets)
    elif args.what == "finetune":
        finetune(args.weights, args.steps, args.resume)
    elif args.what == "music":
        music(args.weights, args.steps, args.resume)
    else:
        train(args.steps, args.resume)


if __name__ == "__main__":
    main()
