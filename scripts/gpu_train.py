#!/usr/bin/env python
"""Train on a lent GPU for a few minutes: pack the data here, train there, unpack the weights here.

    python scripts/gpu_train.py pack JOB...     # here: the jobs' data -> gpu_data/ (self-contained)
    python3 scripts/gpu_train.py run JOB... --budget-s 480    # there (carry gpu_data and .whl)
    python scripts/gpu_train.py unpack DIR      # here: DIR/runs.tgz.part-* -> runs/gpu/<job>
    aural export runs/gpu/<job> --preset ...    # then bench it like any run

A lent machine carries only the checkout and 64 MiB of git-ignored folders, not
``../shared/data``: ``pack`` copies what the jobs read (``.txt`` lists and folders of audio,
symlinks followed) into ``gpu_data/``, resampled to 16 kHz and cut to ``--max-seconds``, as Ogg
Vorbis (about 9 kB/s, coding noise about 30 dB below speech), room responses as FLAC (a lossy
codec would smear the impulse) and at most ``--max-rooms`` of them. ``run`` starts the jobs
together on the one GPU, the CPU cores shared among their data workers, and stops each with
SIGTERM at ``--budget-s`` (the trainer writes its last checkpoint; the GPU recipes keep a weight
average, so a stopped run is a finished model). The best checkpoints, cut to the weights that
validated, and the run records come back as ``$OUT/runs.tgz.part-*`` (each under 16 MiB).
Packages the machine lacks (soundfile, soxr and their cffi, pycparser) travel as wheels in
``.whl/``: install them there with ``pip install --no-index --no-deps --target /tmp/site
.whl/*.whl`` and ``PYTHONPATH=/tmp/site`` before ``run``.

Jobs (``JOBS``): the complex-mask ``separation`` networks on the lists of
``scripts/train_separation.py lists``; ``mel_unet_df``, the low-band deep filter grown on
``mel_unet`` ``dereverb``, on the split and rooms of ``scripts/train_on_the_fly.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKED = ROOT / "gpu_data"
RUNS = ROOT / "runs" / "gpu"
SEPARATION = {"--data": "runs/separation/data/train", "--val-data": "runs/separation/data/val"}
ON_THE_FLY = {"--data": "runs/default_weights/data/train/speech", "--noise": "runs/default_weights/data/train/noise",
              "--rir": "runs/rir_train_mix", "--val-data": "runs/default_weights/data/val/speech"}
LOSSLESS_OPTIONS = ("--rir",)
PART_BYTES = 15 * 2 ** 20
TRAVEL_MIB = 62  # 64 MiB travel to a lent machine: the checkout, gpu_data and the wheels


@dataclass(frozen=True)
class Job:
    stage: str
    data: dict[str, str]   # option -> a .txt list or a folder of audio, relative to the repository
    args: tuple[str, ...]  # the rest of `aural train` (recipe, init)


JOBS = {
    "separation_complex": Job("separation", SEPARATION, ("--recipe", "scripts/recipes/separation_complex_gpu.yaml")),
    "separation_complex_large": Job("separation", SEPARATION,
                                    ("--recipe", "scripts/recipes/separation_complex_large_gpu.yaml")),
    "mel_unet_df": Job("mel_unet", ON_THE_FLY,
                       ("--recipe", "scripts/recipes/mel_unet_deep_filter_gpu.yaml", "--init", "dereverb")),
}


def packed_path(source: str) -> Path:
    """Where ``pack`` puts a source (same for a list and a folder): ``gpu_data/<source with _>``."""
    return PACKED / source.replace("/", "_")


def packed_name(source: Path, lossless: bool) -> str:
    """A stable, collision-free file name for ``source``."""
    digest = hashlib.sha1(str(source.resolve()).encode()).hexdigest()[:10]
    return f"{source.stem[:40]}-{digest}{'.flac' if lossless else '.ogg'}"


def pack_file(source: Path, target: Path, *, sample_rate: int, max_seconds: float, quality: float,
              lossless: bool) -> None:
    """``source`` resampled to ``sample_rate``, cut to ``max_seconds``, as Vorbis (or FLAC)."""
    import numpy as np
    import soundfile as sf
    import soxr

    with sf.SoundFile(source) as f:
        audio = f.read(min(f.frames, int(max_seconds * f.samplerate)), dtype="float32", always_2d=True)
        rate = f.samplerate
    if rate != sample_rate:
        audio = soxr.resample(audio, rate, sample_rate, quality="VHQ")
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 0.999:  # keep the copies inside full scale
        audio = audio * (0.999 / peak)
    if lossless:
        sf.write(target, audio, sample_rate, format="FLAC", subtype="PCM_24")
    else:
        sf.write(target, audio, sample_rate, format="OGG", subtype="VORBIS", compression_level=quality)


def source_files(source: Path, max_files: int | None = None) -> list[Path]:
    """The audio files a list names (in order) or a folder holds (sorted, every k-th to ``max_files``)."""
    from aural.stages.freq_expansion.data import list_files

    files = list_files(source)
    if source.suffix != ".txt" and max_files and len(files) > max_files:
        files = [files[i * len(files) // max_files] for i in range(max_files)]
    return files


def pack_source(source: Path, dest: Path, *, lossless: bool = False, max_files: int | None = None,
                sample_rate: int = 16000, max_seconds: float = 30.0, quality: float = 0.25) -> int:
    """Pack a ``.txt`` list (-> ``dest`` as a list beside ``dest.parent/audio``) or a folder
    (-> the folder ``dest`` of packed files); returns the number of files."""
    files = source_files(source, max_files)
    options = {"sample_rate": sample_rate, "max_seconds": max_seconds, "quality": quality, "lossless": lossless}
    if source.suffix == ".txt":
        audio = dest.parent / "audio"
        audio.mkdir(parents=True, exist_ok=True)
        names = []
        for file in files:
            target = audio / packed_name(file, lossless)
            if not target.exists():
                pack_file(file, target, **options)
            names.append(Path(os.path.relpath(target, dest.parent)).as_posix())
        dest.write_text("".join(f"{name}\n" for name in names))
    else:
        dest.mkdir(parents=True, exist_ok=True)
        for file in files:
            target = dest / packed_name(file, lossless)
            if not target.exists():
                pack_file(file, target, **options)
    return len(files)


def pack(names: list[str], max_seconds: float, max_rooms: int) -> None:
    """Each source of the jobs -> ``packed_path(source)``; a folder of ``.txt`` lists (the
    separation data: ``voice.txt``, ``background.txt``) keeps its lists, packed one by one."""
    for name in names:
        for option, source in JOBS[name].data.items():
            lists = sorted((ROOT / source).glob("*.txt"))
            lossless = option in LOSSLESS_OPTIONS
            for listing in lists:
                count = pack_source(listing, packed_path(source) / listing.name, max_seconds=max_seconds)
                print(f"{name} {option} {listing.name}: {count} files")
            if not lists:
                count = pack_source(ROOT / source, packed_path(source), lossless=lossless,
                                    max_files=max_rooms if lossless else None, max_seconds=max_seconds)
                print(f"{name} {option}: {count} files")
    packed = sum(p.stat().st_size for p in PACKED.rglob("*") if p.is_file())
    tracked = sum((ROOT / f).stat().st_size for f in subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
        if f and (ROOT / f).is_file())
    print(f"{PACKED.relative_to(ROOT)}: {packed / 1e6:.1f} MB; with the checkout ({tracked / 1e6:.1f} MB) "
          f"{(packed + tracked) / 2 ** 20:.1f} of the {TRAVEL_MIB} MiB that travel")
    if packed + tracked > TRAVEL_MIB * 2 ** 20:
        raise SystemExit(f"{PACKED.relative_to(ROOT)}: too large to travel; pack fewer jobs (rm -r it first)")


def train_command(name: str, workers: int, device: str) -> list[str]:
    job = JOBS[name]
    data = [item for option, source in job.data.items() for item in (option, str(packed_path(source)))]
    return [sys.executable, "-m", "aural", "train", job.stage, *data, "--out", str(RUNS / name), *job.args,
            "--workers", str(workers), "--device", device, "--no-progress"]


def cut_checkpoint(run: Path) -> str:
    """Keep one checkpoint (best, else last) with only the weights that validated."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    source = next((run / n for n in ("best.safetensors", "last.safetensors") if (run / n).exists()), None)
    if source is None:
        return f"{run.name}: no checkpoint"
    with safe_open(source, "pt") as f:
        metadata, keys = f.metadata(), list(f.keys())
        averaged = "ema.n_averaged" in keys and int(f.get_tensor("ema.n_averaged").item()) > 0
        prefix = "ema." if averaged else "model."
        tensors = {k: f.get_tensor(k).contiguous() for k in keys if k.startswith(prefix)}
    cut = run / "cut.safetensors"
    save_file(tensors, cut, metadata=metadata)
    for name in ("best.safetensors", "last.safetensors"):
        (run / name).unlink(missing_ok=True)
    cut.rename(source)
    return f"{run.name}: {source.name} cut to {prefix}* ({len(tensors)} tensors)"


def run(names: list[str], budget_s: float, device: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    workers = max(1, ((os.cpu_count() or 2) - len(names)) // len(names))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    logs = {name: open(out / f"{name}.log", "w") for name in names}
    processes = {name: subprocess.Popen(train_command(name, workers, device), cwd=ROOT, env=env,
                                        stdout=logs[name], stderr=subprocess.STDOUT) for name in names}
    deadline = time.monotonic() + budget_s
    for process in processes.values():
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.terminate()  # the trainer writes its last checkpoint and stops
    for name, process in processes.items():
        try:
            code = process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        logs[name].close()
        last_lines = (out / f"{name}.log").read_text().strip().splitlines()[-2:]
        print(f"{name}: exit {code}", *last_lines, sep="\n  ")
        if (RUNS / name).is_dir():
            print(cut_checkpoint(RUNS / name))
    archive = out / "runs.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in names:
            if (RUNS / name).is_dir():
                tar.add(RUNS / name, arcname=name)
    data = archive.read_bytes()
    archive.unlink()
    for index in range(0, len(data), PART_BYTES):
        (out / f"runs.tgz.part-{index // PART_BYTES:02d}").write_bytes(data[index:index + PART_BYTES])


def unpack(folder: Path) -> None:
    import io

    parts = sorted(folder.glob("runs.tgz.part-*"))
    if not parts:
        raise SystemExit(f"{folder}: no runs.tgz.part-* files")
    with tarfile.open(fileobj=io.BytesIO(b"".join(p.read_bytes() for p in parts)), mode="r:gz") as tar:
        tar.extractall(RUNS, filter="data")
    for run_dir in sorted(p for p in RUNS.iterdir() if p.is_dir()):
        print(f"{run_dir.relative_to(ROOT)}: {', '.join(sorted(p.name for p in run_dir.iterdir()))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    pack_parser = commands.add_parser("pack", help="the jobs' data -> gpu_data/")
    pack_parser.add_argument("jobs", nargs="+", choices=sorted(JOBS))
    pack_parser.add_argument("--max-seconds", type=float, default=30.0, help="cut each file to its first seconds")
    pack_parser.add_argument("--max-rooms", type=int, default=400, help="room responses kept (every k-th)")
    run_parser = commands.add_parser("run", help="train the jobs together on this machine's GPU")
    run_parser.add_argument("jobs", nargs="+", choices=sorted(JOBS))
    run_parser.add_argument("--budget-s", type=float, default=480.0)
    run_parser.add_argument("--device", default="cuda")
    run_parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "/tmp/gpu_out")))
    unpack_parser = commands.add_parser("unpack", help="runs.tgz.part-* -> runs/gpu/<job>")
    unpack_parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.jobs, args.max_seconds, args.max_rooms)
    elif args.command == "run":
        run(args.jobs, args.budget_s, args.device, args.out)
    else:
        unpack(args.folder)


if __name__ == "__main__":
    main()
