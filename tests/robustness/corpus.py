"""A generated corpus of bad and unusual inputs for ``aural run`` and ``aural validate``.

Every case builds its files under a fresh folder and says what the CLI must answer: the exit
status and a pattern of the one line (for exit 0, a warning or summary line; None: no line
required) that names the file and the problem. ``tests/robustness/test_corpus.py`` runs each
through the CLI and checks, besides, that no traceback is printed, that every input is
byte-identical afterwards and that nothing is left in the output folder or ``$TMPDIR``.
"""

from __future__ import annotations

import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf

BOMB = """\
aural: 1
a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
stages: [*g]
"""
PIPELINE = "podcast_master"


@dataclass
class Case:
    """What to run (``{root}`` in args is the case folder) and what the CLI must answer."""

    args: list[str]
    code: int
    line: str | None  # a regex one stderr line must match
    inputs: list[Path] = field(default_factory=list)  # must stay byte-identical
    output_dir: Path | None = None  # must hold no temporary files afterwards
    expect_outputs: list[Path] = field(default_factory=list)


def _speech(seconds: float, sample_rate: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = max(1, int(round(seconds * sample_rate)))
    t = np.arange(n) / sample_rate
    voiced = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 12) if 140 * k < sample_rate / 2)
    audio = 0.1 * voiced * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.005 * rng.standard_normal(n)
    return np.stack([np.roll(audio, c) for c in range(channels)], axis=1).astype(np.float32)


def _wav(path: Path, audio: np.ndarray, sample_rate: int = 16000, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, sample_rate, subtype=subtype, format="WAV")
    return path


def _run(root: Path, inp: Path, expect_code: int, line: str | None, *extra: str,
         output: Path | None = None) -> Case:
    out = output or root / "out" / (inp.stem + ".wav")
    return Case(["run", PIPELINE, str(inp), "-o", str(out), "-q", *extra], expect_code, line, [inp],
                out.parent, [out] if expect_code == 0 else [])


def _good(root: Path, name: str, audio: np.ndarray, sample_rate: int = 16000, subtype: str = "PCM_16") -> Case:
    return _run(root, _wav(root / "in" / name, audio, sample_rate, subtype), 0, None)


def _bad_file(root: Path, name: str, data: bytes, problem: str) -> Case:
    path = root / "in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return _run(root, path, 1, rf"{re.escape(name)}: {problem}")


def _wav_bytes(seconds: float = 1.0, sample_rate: int = 16000) -> bytes:
    import io as _io

    buffer = _io.BytesIO()
    sf.write(buffer, _speech(seconds, sample_rate), sample_rate, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def _flac_bytes() -> bytes:
    import io as _io

    buffer = _io.BytesIO()
    sf.write(buffer, _speech(2.0, 16000, seed=3), 16000, format="FLAC")
    return buffer.getvalue()


def _float_with(value: float) -> np.ndarray:
    audio = _speech(1.0, 16000)
    audio[4000] = value
    return audio


def _pipeline_case(root: Path, name: str, text: str | bytes, problem: str, command: str = "validate") -> Case:
    path = root / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    if command == "validate":
        return Case(["validate", str(path)], 2, rf"{re.escape(name)}(:\d+)?: {problem}", [path])
    src = _wav(root / "in" / "a.wav", _speech(1.0, 16000))
    return Case(["run", str(path), str(src), "-o", str(root / "out"), "-q"], 2,
                rf"{re.escape(name)}(:\d+)?: {problem}", [path, src], root / "out")


def _fifo_pipeline(root: Path) -> Case:
    fifo = root / "pipe.yaml"
    os.mkfifo(fifo)
    return Case(["validate", str(fifo)], 2, r"pipe\.yaml: not a regular file; not a pipeline file")


def _weights_case(root: Path, name: str, data: bytes, problem: str, command: str = "run") -> Case:
    weights = root / name
    weights.write_bytes(data)
    pipeline = root / "p.yaml"
    pipeline.write_text(f"aural: 1\nstages:\n  - stage: noise_reduction\n    weights: {weights}\n")
    line = rf"p\.yaml:4 stages\[0\]\.weights: .*{re.escape(name)}: {problem}"
    if command == "validate":
        return Case(["validate", str(pipeline)], 2, line, [weights, pipeline])
    src = _wav(root / "in" / "a.wav", _speech(1.0, 16000))
    return Case(["run", str(pipeline), str(src), "-o", str(root / "out"), "-q"], 2, line, [weights, pipeline, src],
                root / "out")


def _shipped_weights_start(num_bytes: int) -> bytes:
    path = Path(__file__).resolve().parents[2] / "models" / "noise_reduction" / "default.safetensors"
    return path.read_bytes()[:num_bytes]


def _fifo_alone(root: Path) -> Case:
    fifo = root / "in.wav"
    os.mkfifo(fifo)
    return Case(["run", PIPELINE, str(fifo), "-o", str(root / "out.wav"), "-q"], 2,
                r"in\.wav: is a FIFO, not an audio file")


def _fifo_beside_good(root: Path) -> Case:
    good = _wav(root / "good.wav", _speech(1.0, 16000))
    fifo = root / "pipe.wav"
    os.mkfifo(fifo)
    return Case(["run", PIPELINE, str(good), str(fifo), "-o", str(root / "out"), "-q"], 1,
                r"pipe\.wav: is a FIFO, not an audio file", [good], root / "out", [root / "out" / "good.wav"])


def _special_in_folder(root: Path) -> Case:
    good = _wav(root / "in" / "good.wav", _speech(1.0, 16000))
    os.mkfifo(root / "in" / "pipe.wav")
    os.symlink("loop.wav", root / "in" / "loop.wav")
    return Case(["run", PIPELINE, str(root / "in"), "-o", str(root / "out"), "-q"], 0,
                r"in: skipped 2 entries that are not regular files: loop\.wav \(symbolic link loop\), "
                r"pipe\.wav \(FIFO\)", [good], root / "out", [root / "out" / "good.wav"])


def _folder_named_wav(root: Path) -> Case:
    folder = root / "take.wav"
    src = _wav(folder / "a.wav", _speech(1.0, 16000))
    return Case(["run", PIPELINE, str(folder), "-o", str(root / "o.wav"), "-q"], 2,
                r"o\.wav: .*take\.wav is a folder, so the output must be a folder", [src])


def _output_inside_input(root: Path) -> Case:
    """The second run over a folder holding the first run's outputs: nothing new to do."""
    src = _wav(root / "in" / "a.wav", _speech(1.0, 16000))
    out = root / "in" / "out"
    _wav(out / "a.wav", _speech(1.0, 16000, seed=5))  # as the first run left it
    return Case(["run", PIPELINE, str(root / "in"), "-o", str(out), "-q"], 2,
                r"in/out/a\.wav: exists; use --overwrite", [src, out / "a.wav"], out)


def _same_file(root: Path, how: str) -> Case:
    src = _wav(root / "in" / "a.wav", _speech(1.0, 16000))
    if how == "spelling":
        out = root / "in" / ".." / "in" / "a.wav"
    elif how == "symlink":
        out = root / "alias.wav"
        os.symlink(src, out)
    else:
        out = root / "hard.wav"
        os.link(src, out)
    return Case(["run", PIPELINE, str(src), "-o", str(out), "-q", "--overwrite"], 2,
                rf"{re.escape(out.name)}: output path equals an input file", [src])


def _existing_output(root: Path) -> Case:
    src = _wav(root / "in" / "a.wav", _speech(1.0, 16000))
    out = _wav(root / "out" / "a.wav", _speech(1.0, 16000, seed=9))
    return Case(["run", PIPELINE, str(src), "-o", str(out), "-q"], 2,
                r"out/a\.wav: exists; use --overwrite", [src, out], root / "out")


def _header_claims_more(root: Path) -> Case:
    data = bytearray(_wav_bytes(1.0))
    at = data.index(b"data") + 4
    data[at:at + 4] = (int.from_bytes(data[at:at + 4], "little") * 3).to_bytes(4, "little")
    path = root / "in" / "liar.wav"
    path.parent.mkdir(parents=True)
    path.write_bytes(bytes(data))
    return _run(root, path, 0, r"warning: .*liar\.wav: truncated: the header declares 48000 samples, "
                               r"the file holds 16000")


def _mp3_output(root: Path) -> Case:
    src = _wav(root / "a.wav", _speech(1.0, 16000))
    return Case(["run", PIPELINE, str(src), "-o", str(root / "out.mp3"), "-q"], 2,
                r"out\.mp3: aural cannot write \.mp3 files; use \.wav or \.flac", [src])


def _missing_input(root: Path) -> Case:
    return Case(["run", PIPELINE, str(root / "nope.wav"), "-o", str(root / "out"), "-q"], 2,
                r"nope\.wav: no such file or folder")


def _truncated_wav(root: Path) -> Case:
    data = _wav_bytes(1.0)
    return _bad_or_warn(root, "cut.wav", data[: len(data) // 2])


def _bad_or_warn(root: Path, name: str, data: bytes) -> Case:
    path = root / "in" / name
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    return _run(root, path, 0, rf"warning: .*{re.escape(name)}: truncated: the header declares 16000 samples")


CASES: dict[str, Callable[[Path], Case]] = {
    # unreadable audio: exit 1, the file named, nothing written
    "corrupt_bytes": lambda r: _bad_file(r, "noise.wav", np.random.default_rng(0).bytes(5000),
                                         "not a readable audio file"),
    "text_named_wav": lambda r: _bad_file(r, "notes.wav", b"just some text\n" * 20, "not a readable audio file"),
    "zero_length": lambda r: _bad_file(r, "empty.wav", b"", r"is empty \(0 bytes\)"),
    "header_only": lambda r: _bad_file(r, "header.wav", _wav_bytes()[:44], "contains no audio \\(0 samples\\)"),
    "truncated_flac": lambda r: _bad_file(r, "cut.flac", _flac_bytes()[:6000], "corrupt or truncated audio"),
    "nan_samples": lambda r: _run(r, _wav(r / "in" / "nan.wav", _float_with(np.nan), subtype="FLOAT"), 1,
                                  r"nan\.wav: contains NaN or infinite samples \(first at sample 4000\)"),
    "inf_samples": lambda r: _run(r, _wav(r / "in" / "inf.wav", _float_with(np.inf), subtype="FLOAT"), 1,
                                  r"inf\.wav: contains NaN or infinite samples"),
    "wav_header_but_flac_named": lambda r: _good(r, "really_wav.flac", _speech(1.0, 16000)),
    # readable but awkward: exit 0 (a warning where the file is damaged)
    "truncated_wav": _truncated_wav,
    "header_claims_more_samples": _header_claims_more,
    "huge_dc": lambda r: _good(r, "dc.wav", np.full((16000, 1), 0.95, np.float32)),
    "float_far_above_full_scale": lambda r: _good(r, "loud.wav", _speech(1.0, 16000) * 40, subtype="FLOAT"),
    "full_scale_square": lambda r: _good(r, "square.wav", np.sign(np.sin(2 * np.pi * 100 * np.arange(16000)
                                                                         / 16000 + 0.1))[:, None].astype(np.float32)),
    "digital_silence": lambda r: _good(r, "silence.wav", np.zeros((16000, 1), np.float32)),
    "one_sample": lambda r: _good(r, "one.wav", np.full((1, 1), 0.1, np.float32)),
    "tenth_of_a_second": lambda r: _good(r, "short.wav", _speech(0.1, 16000)),
    **{f"rate_{rate}": (lambda rate: lambda r: _good(r, f"r{rate}.wav", _speech(0.5, rate), rate))(rate)
       for rate in (8000, 11025, 22050, 44100, 96000, 192000, 384000)},
    "six_channels": lambda r: _good(r, "surround.wav", _speech(0.5, 48000, 6), 48000),
    "thirty_two_channels": lambda r: _good(r, "array.wav", _speech(0.5, 16000, 32), 16000),
    "unsigned_8_bit": lambda r: _good(r, "u8.wav", _speech(0.5, 16000), subtype="PCM_U8"),
    "int32": lambda r: _good(r, "i32.wav", _speech(0.5, 16000), subtype="PCM_32"),
    "float64": lambda r: _good(r, "f64.wav", _speech(0.5, 16000), subtype="DOUBLE"),
    "non_ascii_name": lambda r: _good(r, "ça va — 日本語 ñ.wav", _speech(0.5, 16000)),
    # paths and special files
    "fifo_alone": _fifo_alone,
    "fifo_beside_a_good_file": _fifo_beside_good,
    "fifo_and_symlink_loop_in_folder": _special_in_folder,
    "folder_named_like_a_wav": _folder_named_wav,
    "output_folder_inside_input": _output_inside_input,
    "output_is_input_other_spelling": lambda r: _same_file(r, "spelling"),
    "output_is_input_symlink": lambda r: _same_file(r, "symlink"),
    "output_is_input_hard_link": lambda r: _same_file(r, "hard link"),
    "existing_output_without_overwrite": _existing_output,
    "mp3_output_extension": _mp3_output,
    "missing_input": _missing_input,
    # hostile pipeline files: exit 2, file:line
    "alias_bomb_validate": lambda r: _pipeline_case(r, "bomb.yaml", BOMB, "aliases expand this value"),
    "alias_bomb_run": lambda r: _pipeline_case(r, "bomb.yaml", BOMB, "aliases expand this value", "run"),
    "self_reference": lambda r: _pipeline_case(r, "loop.yaml", "aural: 1\nstages: &s [*s]\n",
                                               r"alias \*s refers to its own anchor"),
    "deep_nesting": lambda r: _pipeline_case(r, "deep.yaml", "aural: 1\nstages: " + "[" * 5000 + "]" * 5000,
                                             "nested deeper than 64 levels", "run"),
    "huge_pipeline_file": lambda r: _pipeline_case(r, "huge.yaml", "aural: 1\n" + "#" * (2 << 20),
                                                   "larger than 1 MiB"),
    "binary_pipeline_file": lambda r: _pipeline_case(r, "bin.yaml", b"\x89PNG\r\n\x1a\n\xff\x00",
                                                     "not UTF-8 text"),
    "pipeline_is_a_fifo": _fifo_pipeline,
    "pipeline_is_a_device": lambda r: Case(["validate", "/dev/zero"], 2, r"/dev/zero: not a regular file"),
    "pipeline_is_a_list": lambda r: _pipeline_case(r, "list.yaml", "- a\n- b\n", "expected a mapping"),
    # weights files that aural run and aural validate must refuse without unpickling anything
    "pickle_as_weights": lambda r: _weights_case(r, "evil.safetensors", pickle.dumps({"w": [1.0] * 10}),
                                                 "not a usable safetensors file: .*it starts like a pickle"),
    "pickle_as_weights_validate": lambda r: _weights_case(
        r, "evil.safetensors", pickle.dumps({"w": [1.0] * 10}),
        "not a usable safetensors file: .*it starts like a pickle", "validate"),
    "truncated_weights": lambda r: _weights_case(r, "cut.safetensors", _shipped_weights_start(5000),
                                                 "not a usable safetensors file: truncated"),
    "truncated_weights_validate": lambda r: _weights_case(r, "cut.safetensors", _shipped_weights_start(5000),
                                                          "not a usable safetensors file: truncated", "validate"),
}
