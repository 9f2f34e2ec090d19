"""Rendered music: multi-track pieces from scores through FluidSynth, with stems that add up.

Unlimited, offline music for training and evaluation (music beds for separation, music for the
learned stages). A piece is drawn (:func:`draw_piece`) as plain data and rendered
(:func:`render_piece`) deterministically from it:

- **Score**: a work of music21's bundled corpus (it ships inside the wheel; a composer's folder
  is drawn first, so Palestrina's 1,300 masses do not drown the rest), an excerpt of whole
  measures long enough for the clip, transposed by a few semitones, at a drawn tempo.
- **Orchestration**: each part a General MIDI instrument drawn for its register (bass, middle,
  treble); now and then the whole piece one family (a string quartet, a wind band). With
  ``drum_probability`` a drum kit plays a groove in the piece's metre.
- **Rendering**: every part alone through FluidSynth with its reverb and chorus off (so nothing
  leaks between stems), each at a drawn gain and pan; the mix is their sum, its peak at
  ``peak_dbfs``.

Soundfonts hold samples of 44.1 kHz or lower: rendered music is no full-band material.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aural.errors import AuralError, UsageError

MUSESCORE_GENERAL = "/usr/share/sounds/sf2/MuseScore_General_Full.sf2"  # musescore-general-soundfont-lossless (MIT)
SOUNDFONT_CANDIDATES = (
    MUSESCORE_GENERAL,
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",  # fluid-soundfont-gm (MIT)
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
)
SOUNDFONT_LICENCES = {"MuseScore_General": "MIT (MuseScore General, S. Christian Collins)",
                      "FluidR3_GM": "MIT (Fluid R3 GM, Frank Wen)"}
# Corpus folders with scores (not analyses, exercises or lead sheets) whose licence allows
# redistribution; the Essen folksongs are non-commercial only, so they are left out.
CORPUS_FOLDERS = ("bach", "beethoven", "chopin", "handel", "haydn", "joplin", "josquin", "monteverdi",
                  "mozart", "palestrina", "schubert", "schumann", "schumann_clara", "schumann_robert",
                  "trecento", "verdi", "weber", "ciconia", "corelli", "cpebach", "dunstable", "luca")
SCORE_SUFFIXES = (".mxl", ".musicxml", ".xml", ".krn", ".mid", ".midi")
# General MIDI programs (0-based) by register of a part's median pitch.
PROGRAMS_BY_REGISTER = {
    "bass": (0, 32, 33, 38, 42, 43, 57, 58, 70),
    "middle": (0, 4, 11, 19, 21, 24, 25, 41, 42, 46, 48, 57, 60, 66, 70, 71),
    "treble": (0, 4, 8, 9, 12, 40, 56, 64, 65, 68, 71, 73, 74),
}
# Families for a piece played by one kind of ensemble: programs by register.
ENSEMBLES = {
    "strings": {"bass": (42, 43), "middle": (41, 42), "treble": (40,)},
    "winds": {"bass": (70, 58), "middle": (71, 60, 70), "treble": (68, 73, 71)},
    "brass": {"bass": (57, 58), "middle": (60, 57), "treble": (56,)},
    "keys": {"bass": (0,), "middle": (0, 4), "treble": (0, 4)},
    "guitars": {"bass": (32, 33), "middle": (24, 25), "treble": (24, 25)},
}
BASS_BELOW_MIDI = 50
TREBLE_FROM_MIDI = 64
DRUM_CHANNEL = 10
TICKS_PER_QUARTER = 480
KICK, SNARE, CLOSED_HAT, OPEN_HAT, RIDE, CRASH = 36, 38, 42, 46, 51, 49
RENDER_GAIN = 0.5  # FluidSynth's master gain: head room for one part at full velocity
RENDER_TIMEOUT_S = 300
RENDER_POLL_S = 0.05
RENDER_TAIL_S = 2.0  # rendered past the clip, for the release of its last notes


@dataclass(frozen=True)
class MusicRanges:
    """What a draw may choose."""

    seconds: float = 30.0
    tempo_bpm: tuple[float, float] = (60.0, 150.0)
    transpose_semitones: int = 5
    stem_gain_db: tuple[float, float] = (-9.0, 0.0)
    max_pan: float = 0.6  # -1 left .. 1 right
    ensemble_probability: float = 0.3
    drum_probability: float = 0.4
    min_seconds: float = 2.0


def require_music_tools() -> str:
    """FluidSynth's executable, or a one-line :class:`UsageError` saying what to install."""
    try:
        import music21  # noqa: F401
    except ImportError:
        raise UsageError("rendered music needs music21: pip install 'aural[music]' "
                         "(or pip install 'music21>=9')") from None
    executable = shutil.which("fluidsynth")
    if executable is None:
        raise UsageError("rendered music needs FluidSynth: apt-get install fluidsynth fluid-soundfont-gm "
                         "(or musescore-general-soundfont-lossless)")
    return executable


def find_soundfont(path: str | Path | None = None) -> Path:
    """``path`` if given and present, else the first installed General MIDI soundfont."""
    if path is not None:
        if not Path(path).is_file():
            raise UsageError(f"{path}: no such soundfont")
        return Path(path)
    for candidate in SOUNDFONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    raise UsageError("no General MIDI soundfont found (looked for "
                     f"{', '.join(SOUNDFONT_CANDIDATES)}): apt-get install fluid-soundfont-gm, or pass --soundfont")


def soundfont_licence(soundfont: Path) -> str:
    """The licence of a known soundfont, else a note to check it."""
    for stem, licence in SOUNDFONT_LICENCES.items():
        if soundfont.name.startswith(stem) or soundfont.resolve().name.startswith(stem):
            return licence
    return "unknown: check the soundfont's own licence"


def corpus_pool() -> dict[str, list[str]]:
    """music21 corpus scores by composer folder, as paths relative to the corpus (sorted)."""
    from music21 import corpus

    root = Path(corpus.__file__).resolve().parent
    pool: dict[str, list[str]] = {}
    for path in corpus.getCorePaths():
        relative = Path(path).resolve().relative_to(root)
        if relative.parts[0] in CORPUS_FOLDERS and relative.suffix.lower() in SCORE_SUFFIXES:
            pool.setdefault(relative.parts[0], []).append(relative.as_posix())
    return {folder: sorted(paths) for folder, paths in sorted(pool.items())}


def parse_score(relative_path: str):
    """A corpus score, parsed from its source file (music21's pickle cache is not read)."""
    from music21 import converter, corpus

    return converter.parse(Path(corpus.__file__).resolve().parent / relative_path, forceSource=True)


def draw_piece(rng: np.random.Generator, ranges: MusicRanges, pool: dict[str, list[str]],
               max_tries: int = 20) -> dict[str, Any]:
    """A piece as plain data (score, excerpt, tempo, instruments, gains, drums); deterministic
    in ``rng`` and the pool. A composer's folder is drawn with weight sqrt(its scores); scores
    that do not parse, hold no notes or are too short are drawn again."""
    folders = list(pool)
    weights = np.sqrt([len(pool[folder]) for folder in folders])
    for _ in range(max_tries):
        folder = folders[int(rng.choice(len(folders), p=weights / weights.sum()))]
        path = pool[folder][int(rng.integers(len(pool[folder])))]
        tempo_bpm = float(rng.uniform(*ranges.tempo_bpm))
        transpose = int(rng.integers(-ranges.transpose_semitones, ranges.transpose_semitones + 1))
        try:
            score = parse_score(path)
        except Exception:  # music21 raises many kinds on malformed files: draw another
            continue
        measures = _measure_count(score)
        if measures == 0 or not any(part.recurse().notes for part in score.parts):
            continue
        quarters_per_bar = _quarters_per_bar(score)
        bars = math.ceil(ranges.seconds * tempo_bpm / 60.0 / quarters_per_bar) + 1
        first_bar = int(rng.integers(max(1, measures - bars + 1)))  # index: numbering has gaps
        available_bars = min(bars, measures - first_bar)
        if available_bars * quarters_per_bar * 60.0 / tempo_bpm < ranges.min_seconds:
            continue
        ensemble = (list(ENSEMBLES)[int(rng.integers(len(ENSEMBLES)))]
                    if rng.random() < ranges.ensemble_probability else None)
        voices = []
        for index, part in enumerate(score.parts):
            if not part.recurse().notes:
                continue
            register = _register(part, transpose)
            choices = (ENSEMBLES[ensemble] if ensemble else PROGRAMS_BY_REGISTER)[register]
            voices.append({"part": index, "register": register,
                           "program": int(choices[int(rng.integers(len(choices)))]),
                           "gain_db": float(rng.uniform(*ranges.stem_gain_db)),
                           "pan": float(rng.uniform(-ranges.max_pan, ranges.max_pan))})
        drums = None
        if rng.random() < ranges.drum_probability:
            drums = {"groove": _draw_groove(rng, quarters_per_bar),
                     "gain_db": float(rng.uniform(*ranges.stem_gain_db)),
                     "pan": 0.0}
        return {"score": path, "composer_folder": folder, "first_bar": first_bar, "bars": available_bars,
                "quarters_per_bar": quarters_per_bar, "tempo_bpm": tempo_bpm, "transpose": transpose,
                "ensemble": ensemble, "voices": voices, "drums": drums, "seconds": ranges.seconds}
    raise AuralError(f"no usable score in {max_tries} draws")


def make_piece(rng: np.random.Generator, ranges: MusicRanges, pool: dict[str, list[str]], sample_rate: int,
               soundfont: Path, *, fluidsynth: str, max_tries: int = 10) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A drawn piece and its stems; a piece that fails to render (a malformed excerpt, a silent
    one) is drawn again from the same ``rng``, so the result stays deterministic."""
    last_error = "no draw"
    for _ in range(max_tries):
        piece = draw_piece(rng, ranges, pool)
        try:
            return piece, render_piece(piece, sample_rate, soundfont, fluidsynth=fluidsynth)
        except AuralError as exc:
            last_error = str(exc)
        except Exception as exc:  # music21's many exception kinds on an odd excerpt
            last_error = f"{piece['score']}: {str(exc) or type(exc).__name__}"
    raise AuralError(f"no piece rendered in {max_tries} draws (last: {last_error})")


def render_piece(piece: dict[str, Any], sample_rate: int, soundfont: Path, *, fluidsynth: str,
                 peak_dbfs: float = -1.0) -> dict[str, np.ndarray]:
    """The piece's stems, ``name -> (2, samples)`` float32 at ``sample_rate``, all one length,
    their sum peaking at ``peak_dbfs``. Stem names: ``part<N>-<instrument>`` and ``drums``; a
    part that rests throughout the excerpt has none."""
    score = parse_score(piece["score"])
    if piece["transpose"]:
        score = score.transpose(piece["transpose"])
    excerpt = score.measures(piece["first_bar"], piece["first_bar"] + piece["bars"], indicesNotNumbers=True)
    stems: dict[str, np.ndarray] = {}
    max_seconds = piece["seconds"] + RENDER_TAIL_S
    with tempfile.TemporaryDirectory(prefix="aural-music-") as work:
        for voice in piece["voices"]:
            part = excerpt.parts[voice["part"]]
            if not part.recurse().notes:  # resting throughout the excerpt: no stem
                continue
            midi_path = Path(work) / f"part{voice['part']}.mid"
            _write_part_midi(part, voice["program"], piece["tempo_bpm"], midi_path)
            name = f"part{voice['part'] + 1}-{_program_name(voice['program'])}"
            stems[name] = _placed(_render(fluidsynth, soundfont, midi_path, sample_rate, max_seconds), voice)
        if piece["drums"] is not None:
            midi_path = Path(work) / "drums.mid"
            quarters = piece["bars"] * piece["quarters_per_bar"]
            _write_drum_midi(piece["drums"]["groove"], quarters, piece["quarters_per_bar"],
                             piece["tempo_bpm"], midi_path)
            stems["drums"] = _placed(_render(fluidsynth, soundfont, midi_path, sample_rate, max_seconds),
                                     piece["drums"])
    if not stems:
        raise AuralError(f"{piece['score']}: every part rests in the excerpt")
    samples = min(max(stem.shape[1] for stem in stems.values()), int(round(piece["seconds"] * sample_rate)))
    stems = {name: _fit(stem, samples) for name, stem in stems.items()}
    peak = float(np.abs(sum(stems.values())).max())
    if peak <= 0.0 or samples < 1:
        raise AuralError(f"{piece['score']}: the excerpt rendered silent")
    gain = 10.0 ** (peak_dbfs / 20.0) / peak
    return {name: (stem * gain).astype(np.float32) for name, stem in stems.items()}


def _measure_count(score) -> int:
    from music21 import stream

    return max((len(part.getElementsByClass(stream.Measure)) for part in score.parts), default=0)


def _quarters_per_bar(score) -> float:
    from music21 import meter

    first = score.recurse().getElementsByClass(meter.TimeSignature).first()
    return float(first.barDuration.quarterLength) if first is not None else 4.0


def _register(part, transpose: int) -> str:
    pitches = [p.midi for n in part.recurse().notes for p in n.pitches]
    median = float(np.median(pitches)) + transpose
    if median < BASS_BELOW_MIDI:
        return "bass"
    return "treble" if median >= TREBLE_FROM_MIDI else "middle"


def _draw_groove(rng: np.random.Generator, quarters_per_bar: float) -> dict[str, Any]:
    """One bar of drums as ``[quarter offset, note, velocity]`` hits, repeated over the piece."""
    beats = max(1, int(round(quarters_per_bar)))
    cymbal = RIDE if rng.random() < 0.3 else CLOSED_HAT
    hits: list[list[float]] = []
    for beat in range(beats):
        hits.append([float(beat), cymbal, int(rng.integers(70, 100))])
        if cymbal == CLOSED_HAT:
            hits.append([beat + 0.5, OPEN_HAT if rng.random() < 0.1 else CLOSED_HAT, int(rng.integers(50, 80))])
        if beats == 3:
            hits.append([float(beat), KICK if beat == 0 else SNARE, 105 if beat == 0 else int(rng.integers(60, 85))])
        elif beat % 2 == 0:
            hits.append([float(beat), KICK, int(rng.integers(95, 120))])
            if rng.random() < 0.4:
                hits.append([beat + 1.5, KICK, int(rng.integers(80, 105))])
        else:
            hits.append([float(beat), SNARE, int(rng.integers(90, 115))])
    return {"hits": sorted(hits), "crash_on_first_beat": bool(rng.random() < 0.5)}


def _program_name(program: int) -> str:
    from music21 import instrument

    try:
        name = instrument.instrumentFromMidiProgram(program).instrumentName or f"program{program}"
    except Exception:  # music21 has no instrument for some programs
        name = f"program{program}"
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")


def _write_part_midi(part, program: int, tempo_bpm: float, path: Path) -> None:
    from music21 import bar, instrument, repeat, stream, tempo

    part = part.__deepcopy__()
    unwanted = (tempo.MetronomeMark, instrument.Instrument, repeat.RepeatExpression)
    for element in list(part.recurse().getElementsByClass(unwanted)):
        element.activeSite.remove(element)
    for measure in part.getElementsByClass(stream.Measure):  # an excerpt plays straight through
        if isinstance(measure.leftBarline, bar.Repeat):
            measure.leftBarline = None
        if isinstance(measure.rightBarline, bar.Repeat):
            measure.rightBarline = None
    first = part.getElementsByClass(stream.Measure).first()
    target = first if first is not None else part
    chosen = instrument.instrumentFromMidiProgram(program)
    chosen.midiChannel = 0
    target.insert(0, chosen)
    target.insert(0, tempo.MetronomeMark(number=tempo_bpm))
    single = stream.Score()
    single.insert(0, part)
    single.write("midi", fp=str(path))


def _write_drum_midi(groove: dict[str, Any], quarters: float, quarters_per_bar: float, tempo_bpm: float,
                     path: Path) -> None:
    from music21 import midi

    events: list[tuple[int, int, int, int]] = []  # (tick, on, note, velocity)
    bar_start = 0.0
    while bar_start < quarters:
        hits = list(groove["hits"])
        if bar_start == 0.0 and groove["crash_on_first_beat"]:
            hits.append([0.0, CRASH, 110])
        for offset, note, velocity in hits:
            tick = int(round((bar_start + offset) * TICKS_PER_QUARTER))
            events += [(tick, 1, int(note), int(velocity)), (tick + TICKS_PER_QUARTER // 4, 0, int(note), 0)]
        bar_start += quarters_per_bar
    midi_file = midi.MidiFile()
    midi_file.ticksPerQuarterNote = TICKS_PER_QUARTER
    track = midi.MidiTrack(1)
    midi_file.tracks.append(track)

    def append(delta: int, kind, channel: int | None, **fields) -> None:
        track.events.append(midi.DeltaTime(track, time=delta))
        event = midi.MidiEvent(track, type=kind, channel=channel)
        for key, value in fields.items():
            setattr(event, key, value)
        track.events.append(event)

    append(0, midi.MetaEvents.SET_TEMPO, None, data=midi.putNumber(int(round(60e6 / tempo_bpm)), 3))
    now = 0
    for tick, on, note, velocity in sorted(events):
        kind = midi.ChannelVoiceMessages.NOTE_ON if on else midi.ChannelVoiceMessages.NOTE_OFF
        append(tick - now, kind, DRUM_CHANNEL, pitch=note, velocity=velocity)
        now = tick
    append(0, midi.MetaEvents.END_OF_TRACK, None, data=b"")
    midi_file.open(str(path), "wb")
    try:
        midi_file.write()
    finally:
        midi_file.close()


def _render(fluidsynth: str, soundfont: Path, midi_path: Path, sample_rate: int, max_seconds: float) -> np.ndarray:
    """FluidSynth's stereo render of one MIDI file, ``(2, samples)``, reverb and chorus off.

    FluidSynth renders until its player ends, which an odd file can put hours away: the render
    (headerless float samples) is stopped once it holds ``max_seconds``."""
    out = midi_path.with_suffix(".raw")
    command = [fluidsynth, "-ni", "-q", "-R", "0", "-C", "0", "-g", str(RENDER_GAIN), "-r", str(sample_rate),
               "-O", "float", "-E", "little", "-T", "raw", "-F", str(out), str(soundfont), str(midi_path)]
    max_samples = int(max_seconds * sample_rate)
    started = time.monotonic()
    log = midi_path.with_suffix(".log")  # a file, not a pipe: a pipe that fills would stall it
    with open(log, "w") as errors, subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors) as process:
        while process.poll() is None:
            if out.is_file() and out.stat().st_size >= max_samples * 2 * 4:
                process.kill()
                break
            if time.monotonic() - started > RENDER_TIMEOUT_S:
                process.kill()
                raise AuralError(f"{midi_path.name}: FluidSynth took longer than {RENDER_TIMEOUT_S} s")
            time.sleep(RENDER_POLL_S)
        stopped = process.wait() < 0
    if not out.is_file() or (process.returncode != 0 and not stopped):
        last = (log.read_text(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise AuralError(f"{midi_path.name}: FluidSynth failed ({last})")
    frames = min(out.stat().st_size // 8, max_samples)
    return np.fromfile(out, dtype="<f4", count=frames * 2).reshape(frames, 2).T.copy()


def _placed(audio: np.ndarray, voice: dict[str, Any]) -> np.ndarray:
    """A rendered stem at its gain and constant-power pan."""
    angle = (voice["pan"] + 1.0) * math.pi / 4.0
    pan = np.array([[math.cos(angle)], [math.sin(angle)]], dtype=np.float32) * math.sqrt(2.0)
    return audio * pan * np.float32(10.0 ** (voice["gain_db"] / 20.0))


def _fit(audio: np.ndarray, samples: int) -> np.ndarray:
    if audio.shape[1] >= samples:
        return audio[:, :samples]
    return np.pad(audio, ((0, 0), (0, samples - audio.shape[1])))
