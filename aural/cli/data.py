"""``aural data``: make training and evaluation data.

``aural data mix`` mixes speech with backgrounds into a separation folder
(``OUT/<item>/mixture.wav``, ``voice.wav``, ``background.wav``, ``manifest.jsonl``).

``aural data simulate`` turns a folder of clean recordings into studio/phone pairs::

    OUT/studio/<rel>.wav   the clean source, level-normalised, with the room's direct path and
                           early reflections (the reference; --reference dry: without them)
    OUT/phone/<rel>.wav    the same audio through a degradation profile
    OUT/manifest.jsonl     one line per pair with every drawn parameter

With several profiles each gets its own subfolder (``OUT/studio/<profile>/<rel>.wav``);
with ``--per-file N`` the pairs are ``<rel stem>-v0.wav`` ... ``-v<N-1>.wav``.

``aural data rooms`` simulates a bank of room impulse responses (pyroomacoustics) for
``--rir``: ``OUT/room-<index>.wav`` plus ``OUT/rooms.jsonl``.

``aural data music`` renders multi-track music from music21's corpus through FluidSynth:
``OUT/piece-<index>/mix.flac`` and one FLAC per stem, plus ``OUT/music.jsonl``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import click

from aural.errors import AudioReadError, AuralError, UsageError


@click.group("data")
def command() -> None:
    """Make training and evaluation data."""


@command.command("simulate")
@click.option("--clean", "clean_dir", required=True, type=click.Path(path_type=Path),
              help="Folder of clean recordings (searched recursively).")
@click.option("--noise", "noise_dir", type=click.Path(path_type=Path),
              help="Folder of noise recordings (default: synthetic noise).")
@click.option("--rir", "rir_dir", type=click.Path(path_type=Path),
              help="Folder of room impulse responses (default: synthetic rooms).")
@click.option("--mic-ir", "mic_ir_dir", type=click.Path(path_type=Path),
              help="Folder of measured microphone impulse responses (optional).")
@click.option("--profile", "profiles", multiple=True, default=("cellular",), show_default=True,
              help="Degradation profile; repeat or comma-separate for several, 'all' for every one.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw.")
@click.option("--per-file", type=click.IntRange(1, 1000), default=1, show_default=True,
              help="Pairs per clean file and profile.")
@click.option("--sample-rate", type=click.IntRange(8000, 192000), default=None,
              help="Rate of the pairs in Hz (default: each clean file's own rate).")
@click.option("--max-seconds", type=click.FloatRange(min=0.01), default=None,
              help="Use at most this many seconds of each clean file.")
@click.option("--subtype", type=click.Choice(["PCM_16", "PCM_24", "FLOAT"]), default="PCM_24",
              show_default=True, help="Sample format of the written WAV files.")
@click.option("--chunk-seconds", type=click.FloatRange(min=1.0), default=30.0, show_default=True,
              help="Longer files are rendered in chunks of this length (memory stays flat).")
@click.option("--reference-level-db", type=float, default=-26.0, show_default=True,
              help="Active speech level of the studio reference in dBFS.")
@click.option("--reference", type=click.Choice(["early", "dry"]), default="early", show_default=True,
              help="Studio reference where the profile adds a room: 'early' keeps the direct path and the "
                   "early reflections (the model learns to remove late reverberation), 'dry' the clean source.")
@click.option("--early-reflections-ms", type=click.FloatRange(0.0, 500.0), default=50.0, show_default=True,
              help="With --reference early: how much of the room response the reference keeps (then a 5 ms fade).")
def simulate(clean_dir: Path, noise_dir: Path | None, rir_dir: Path | None, mic_ir_dir: Path | None,
             profiles: tuple[str, ...], out_dir: Path, seed: int, per_file: int, sample_rate: int | None,
             max_seconds: float | None, subtype: str, chunk_seconds: float, reference_level_db: float,
             reference: str, early_reflections_ms: float) -> None:
    """Simulate phone recordings of clean audio: studio/phone pairs plus a manifest."""
    from aural import io
    from aural.degrade.codecs import warn_missing_ffmpeg
    from aural.degrade.profiles import resolve_profiles
    from aural.degrade.simulate import Settings, make_resources, output_rel, simulate_file

    chosen = resolve_profiles(profiles)
    if not clean_dir.is_dir():
        raise UsageError(f"{clean_dir}: clean folder does not exist")
    files = io.find_audio(clean_dir)
    if not files:
        raise UsageError(f"{clean_dir}: clean folder holds no audio files")
    resources = make_resources(noise_dir, rir_dir, mic_ir_dir)
    if resources.ffmpeg is None:
        warn_missing_ffmpeg(lambda message: click.echo(f"aural: warning: {message}", err=True))
    rels = [f.relative_to(clean_dir).as_posix() for f in files]
    _check_collisions(rels)
    settings = Settings(sample_rate=sample_rate, max_seconds=max_seconds, chunk_seconds=chunk_seconds,
                        reference_level_db=reference_level_db, subtype=subtype, reference=reference,
                        early_reflections_ms=early_reflections_ms)
    _create_folder(out_dir)
    jobs = [(path, rel, profile, variant) for path, rel in zip(files, rels)
            for profile in chosen for variant in range(per_file)]
    manifest = out_dir / "manifest.jsonl"
    partial = out_dir / ".manifest.jsonl.part"
    failures, done, seconds = 0, 0, 0.0
    unreadable: set[Path] = set()
    started = time.monotonic()
    progress = _progress(len(jobs))
    try:
        lines = open(partial, "w", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{partial}: cannot write the manifest ({exc.strerror})") from None
    with lines:
        for path, rel, profile, variant in jobs:
            if path in unreadable:  # reported once, with its first pair
                failures += 1
                progress(1)
                continue
            pair_rel = output_rel(rel, profile.name, variant, with_profile=len(chosen) > 1, num_variants=per_file)
            try:
                entry = simulate_file(path, rel, profile, seed=seed, variant=variant, resources=resources,
                                      settings=settings, out_dir=out_dir, pair_rel=pair_rel, clean_dir=clean_dir)
            except AuralError as exc:
                failures += 1
                message = str(exc)
                if isinstance(exc, AudioReadError) and message.startswith(str(path)):
                    unreadable.add(path)
                    click.echo(f"aural: {message}", err=True)
                else:
                    prefix = "" if str(path) in message else f"{path}: "
                    click.echo(f"aural: {prefix}{message} (profile {profile.name})", err=True)
            else:
                lines.write(json.dumps(entry) + "\n")
                lines.flush()
                done += 1
                seconds += entry["duration_s"]
            progress(1)
    os.replace(partial, manifest)
    elapsed = time.monotonic() - started
    click.echo(f"wrote {done} pairs ({seconds / 60:.1f} min of audio, profiles {', '.join(p.name for p in chosen)}) "
               f"to {out_dir} in {elapsed:.1f} s; manifest: {manifest}", err=True)
    if failures:
        raise AuralError(f"{failures} of {len(jobs)} pairs failed (see the messages above)")


def _check_collisions(rels: list[str]) -> None:
    seen: dict[str, str] = {}
    for rel in rels:
        key = Path(rel).with_suffix("").as_posix()
        if key in seen:
            raise UsageError(f"{rel} and {seen[key]} would both be written as {key}.wav; rename one")
        seen[key] = rel


def _progress(total: int):
    if not sys.stderr.isatty() or total < 2:
        return lambda n: None
    from tqdm import tqdm

    bar = tqdm(total=total, unit="pair", file=sys.stderr, leave=False)
    return bar.update


def _make_items(out_dir: Path, manifest: Path, count: int, prefix: str,
                make: Callable[[int, str], dict[str, Any]], errors: tuple[type[BaseException], ...] = (AuralError,),
                min_digits: int = 5) -> int:
    """Items ``<prefix>-<index>`` 0..count-1: ``make(index, name)`` writes one and returns its
    manifest entry, one JSON line in ``manifest`` (in place only once all are done). An item that
    fails with one of ``errors`` is reported in one line and the others go on; returns how many failed."""
    width = max(min_digits, len(str(count - 1)))
    partial = manifest.with_name(f".{manifest.name}.part")
    failures = 0
    progress = _progress(count)
    with open(partial, "w", encoding="utf-8") as lines:
        for index in range(count):
            name = f"{prefix}-{index:0{width}d}"
            try:
                entry = make(index, name)
            except KeyboardInterrupt:
                raise
            except errors as exc:
                failures += 1
                click.echo(f"aural: {out_dir / name}: {str(exc) or type(exc).__name__}", err=True)
            else:
                lines.write(json.dumps(entry) + "\n")
                lines.flush()
            progress(1)
    os.replace(partial, manifest)
    return failures

def _create_folder(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{out_dir}: cannot create the output folder ({exc.strerror})") from None


def _refuse_existing(manifest: Path, what: str, overwrite: bool) -> None:
    """A folder that already holds a set (its manifest) is only written into with --overwrite."""
    if manifest.exists() and not overwrite:
        raise UsageError(f"{manifest.parent}: already holds {what} ({manifest.name}); pass --overwrite or another --out")


def _raise_if_failed(failures: int, count: int, what: str) -> None:
    if failures:
        raise AuralError(f"{failures} of {count} {what} failed (see the messages above)")


@command.command("mix")
@click.option("--voices", required=True, type=click.Path(path_type=Path),
              help="Speech: a folder (searched recursively) or a .txt list of files.")
@click.option("--backgrounds", required=True, type=click.Path(path_type=Path),
              help="Noise, ambience or music: a folder or a .txt list of files.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--count", type=click.IntRange(1, 1_000_000), default=100, show_default=True, help="Mixtures to make.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw.")
@click.option("--snr-db", type=(float, float), default=(-5.0, 5.0), show_default=True, metavar="LOW HIGH",
              help="Voice-to-background ratio, drawn uniformly in dB.")
@click.option("--sample-rate", type=click.IntRange(8000, 192000), default=16000, show_default=True,
              help="Rate of the written files in Hz.")
@click.option("--seconds", type=click.FloatRange(min=0.5), default=6.0, show_default=True,
              help="Length of each mixture.")
@click.option("--rooms/--no-rooms", default=False, show_default=True,
              help="Put 30 % of the voices in a synthetic room (the voice stem keeps its room).")
@click.option("--voice-only/--no-voice-only", default=False, show_default=True,
              help="Leave 4 % of the items without a background (a silent background stem).")
@click.option("--overwrite", is_flag=True, help="Write into an OUT that already holds mixtures.")
def mix(voices: Path, backgrounds: Path, out_dir: Path, count: int, seed: int, snr_db: tuple[float, float],
        sample_rate: int, seconds: float, rooms: bool, voice_only: bool, overwrite: bool) -> None:
    """Mix speech with backgrounds into a separation evaluation folder, reproducibly.

    \b
    OUT/<item>/mixture.wav      voice + background (32-bit float WAV)
    OUT/<item>/voice.wav        the voice as it sits in the mixture
    OUT/<item>/background.wav   the mixture minus the voice
    OUT/manifest.jsonl          per item: source files, drawn ratio, seed

    Items are those of the separation trainer's MixtureDataset (aural.stages.separation.data):
    the same seed and files give the same samples. Score it with `aural bench --pairs OUT`.
    """
    from aural import io
    from aural.stages.freq_expansion.data import list_files
    from aural.stages.separation.data import MixtureDataset
    from aural.signal import Signal

    if snr_db[0] > snr_db[1]:
        raise UsageError(f"--snr-db {snr_db[0]:g} {snr_db[1]:g}: the low end is above the high end")
    for option, source in (("--voices", voices), ("--backgrounds", backgrounds)):
        if not source.exists():
            raise UsageError(f"{option} {source}: no such folder or list")
    voice_files, background_files = list_files(voices), list_files(backgrounds)
    manifest = out_dir / "manifest.jsonl"
    _refuse_existing(manifest, "mixtures", overwrite)
    _create_folder(out_dir)
    dataset = MixtureDataset(voice_files, background_files, segment_samples=int(round(seconds * sample_rate)),
                             seed=seed, num_items=count, snr_db=snr_db, rooms=rooms, voice_only=voice_only,
                             sample_rate=sample_rate)
    def make(index: int, name: str) -> dict[str, Any]:
        mixture, voice, record = dataset.item(index)
        stems = {"mixture": mixture, "voice": voice, "background": mixture - voice}
        (out_dir / name).mkdir(exist_ok=True)
        for stem, audio in stems.items():
            io.write(Signal(audio, sample_rate), out_dir / name / f"{stem}.wav", subtype="FLOAT")
        snr = record["snr_db"]
        return {"item": name, "index": index, "seed": seed, "sample_rate": sample_rate,
                "seconds": seconds, "voice": record["voice"], "background": record["background"],
                "snr_db": snr if math.isfinite(snr) else None, "rt60_s": record.get("rt60_s")}

    failures = _make_items(out_dir, manifest, count, "mix", make, min_digits=4)
    click.echo(f"wrote {count - failures} mixtures of {seconds:g} s at {sample_rate} Hz "
               f"(voice-to-background {snr_db[0]:g} to {snr_db[1]:g} dB, seed {seed}) to {out_dir}; "
               f"manifest: {manifest}", err=True)
    _raise_if_failed(failures, count, "mixtures")


@command.command("rooms")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--count", type=click.IntRange(1, 1_000_000), default=1000, show_default=True,
              help="Rooms to simulate.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw.")
@click.option("--sample-rate", type=click.IntRange(8000, 192000), default=16000, show_default=True,
              help="Rate of the impulse responses in Hz.")
@click.option("--rt60-s", type=(float, float), default=(0.1, 1.5), show_default=True, metavar="LOW HIGH",
              help="Reverberation time target, drawn log-uniformly in seconds.")
@click.option("--polygon-fraction", type=click.FloatRange(0.0, 1.0), default=0.4, show_default=True,
              help="Share of rooms with an extruded-polygon floor plan (the others are shoeboxes).")
def rooms(out_dir: Path, count: int, seed: int, sample_rate: int, rt60_s: tuple[float, float],
          polygon_fraction: float) -> None:
    """Simulate room impulse responses (pyroomacoustics) for a --rir folder, reproducibly.

    \b
    OUT/room-<index>.wav   one impulse response per room (32-bit float, mono)
    OUT/rooms.jsonl        per room: seed, geometry, positions, microphone pattern,
                           RT60 target and measured (T30), DRR

    Room <index> depends only on --seed and <index>: the same options give identical files.
    """
    import numpy as np

    from aural import io
    from aural.degrade.rooms import RoomRanges, draw_room, render_room, require_pyroomacoustics
    from aural.degrade.simulate import item_seed
    from aural.signal import Signal

    require_pyroomacoustics()
    if not 0.0 < rt60_s[0] <= rt60_s[1]:
        raise UsageError(f"--rt60-s {rt60_s[0]:g} {rt60_s[1]:g}: give 0 < LOW <= HIGH")
    ranges = RoomRanges(rt60_s=rt60_s, polygon_probability=polygon_fraction)
    _create_folder(out_dir)
    started = time.monotonic()

    def make(index: int, name: str) -> dict[str, Any]:
        room_seed = item_seed(seed, "room", index)
        room = draw_room(np.random.default_rng(room_seed), ranges)
        rir, facts = render_room(room, sample_rate)
        io.write(Signal(torch_tensor(rir), sample_rate), out_dir / f"{name}.wav", subtype="FLOAT")
        return {"file": f"{name}.wav", "index": index, "seed": seed, "room_seed": room_seed, **room, **facts}

    manifest = out_dir / "rooms.jsonl"
    # pyroomacoustics raises plain errors (even assertions): report them, go on
    failures = _make_items(out_dir, manifest, count, "room", make, errors=(Exception,))
    click.echo(f"wrote {count - failures} rooms at {sample_rate} Hz (seed {seed}) to {out_dir} in "
               f"{time.monotonic() - started:.1f} s; manifest: {manifest}", err=True)
    _raise_if_failed(failures, count, "rooms")


@command.command("music")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--count", type=click.IntRange(1, 1_000_000), default=100, show_default=True,
              help="Pieces to render.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw.")
@click.option("--sample-rate", type=click.IntRange(8000, 96000), default=48000, show_default=True,
              help="Rate of the written files in Hz.")
@click.option("--seconds", type=click.FloatRange(min=2.0, max=600.0), default=30.0, show_default=True,
              help="Length of each piece (a short score gives a shorter one).")
@click.option("--drum-fraction", type=click.FloatRange(0.0, 1.0), default=0.4, show_default=True,
              help="Share of pieces with a drum kit.")
@click.option("--soundfont", type=click.Path(path_type=Path), default=None,
              help="General MIDI soundfont (default: the first installed of MuseScore General, FluidR3 GM).")
@click.option("--overwrite", is_flag=True, help="Write into an OUT that already holds pieces.")
def music(out_dir: Path, count: int, seed: int, sample_rate: int, seconds: float, drum_fraction: float,
          soundfont: Path | None, overwrite: bool) -> None:
    """Render multi-track music (music21's corpus through FluidSynth) with its stems, reproducibly.

    \b
    OUT/piece-<index>/mix.flac          the piece, stereo, peak -1 dBFS
    OUT/piece-<index>/<stem>.flac       each part (part<N>-<instrument>) and drums; they add
                                        up to mix.flac within 24-bit rounding
    OUT/music.jsonl                     per piece: score, excerpt, tempo, instruments, gains,
                                        pans, soundfont and licences

    Piece <index> depends only on --seed, <index>, the corpus of the installed music21 and
    the soundfont. Needs `pip install 'aural[music]'` and `apt-get install fluidsynth
    fluid-soundfont-gm` (or musescore-general-soundfont-lossless). Soundfont samples stop
    at 22 kHz or below: rendered music is no full-band material.
    """
    import numpy as np
    import torch

    from aural import io
    from aural.degrade.music import (MusicRanges, corpus_pool, find_soundfont, make_piece, require_music_tools,
                                     soundfont_licence)
    from aural.degrade.simulate import item_seed
    from aural.signal import Signal

    fluidsynth = require_music_tools()
    soundfont = find_soundfont(soundfont)
    manifest = out_dir / "music.jsonl"
    _refuse_existing(manifest, "pieces", overwrite)
    _create_folder(out_dir)
    import music21

    pool = corpus_pool()
    ranges = MusicRanges(seconds=seconds, drum_probability=drum_fraction)
    licences = {"score": f"music21 {music21.__version__} corpus (BSD-3-Clause software; encodings distributed "
                         "with their encoders' permission, see music21/corpus/license.txt)",
                "soundfont": soundfont_licence(soundfont)}
    started = time.monotonic()

    def make(index: int, name: str) -> dict[str, Any]:
        piece_seed = item_seed(seed, "music", index)
        piece, stems = make_piece(np.random.default_rng(piece_seed), ranges, pool, sample_rate, soundfont,
                                  fluidsynth=fluidsynth)
        (out_dir / name).mkdir(exist_ok=True)
        for stem, audio in {"mix": sum(stems.values()), **stems}.items():
            io.write(Signal(torch.from_numpy(audio), sample_rate), out_dir / name / f"{stem}.flac",
                     subtype="PCM_24", dither=False)
        return {"item": name, "index": index, "seed": seed, "piece_seed": piece_seed, "sample_rate": sample_rate,
                "stems": sorted(stems), "soundfont": soundfont.name, "licences": licences, **piece}

    failures = _make_items(out_dir, manifest, count, "piece", make)
    click.echo(f"wrote {count - failures} pieces of up to {seconds:g} s at {sample_rate} Hz (seed {seed}, "
               f"{soundfont.name}) to {out_dir} in {time.monotonic() - started:.1f} s; manifest: {manifest}", err=True)
    _raise_if_failed(failures, count, "pieces")


def torch_tensor(rir):
    """A mono ``(1, samples)`` float32 tensor of an impulse response."""
    import torch

    return torch.from_numpy(rir.astype("float32"))[None, :]
