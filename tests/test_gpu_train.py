"""scripts/gpu_train.py: data packed for a lent GPU names the same files, resampled and cut."""

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from gpu_train import pack_source  # noqa: E402

from aural.stages.freq_expansion.data import list_files  # noqa: E402


def tone(seconds: float, rate: int) -> np.ndarray:
    return 0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate)


def test_a_packed_list_names_the_same_files_resampled_and_cut(tmp_path):
    (tmp_path / "lists").mkdir()
    sf.write(tmp_path / "long.flac", np.stack([tone(3, 44100), 0.5 * tone(3, 44100)], axis=1), 44100)
    sf.write(tmp_path / "lists" / "short.wav", tone(0.5, 44100), 44100)
    listing = tmp_path / "lists" / "voice.txt"
    listing.write_text(f"{tmp_path / 'long.flac'}\n# a comment\nshort.wav\n")

    assert pack_source(listing, tmp_path / "packed" / "voice.txt", max_seconds=2) == 2

    files = list_files(tmp_path / "packed" / "voice.txt")
    assert [f.suffix for f in files] == [".ogg", ".ogg"]
    long, short = (sf.info(f) for f in files)
    assert (long.samplerate, long.channels, long.frames) == (16000, 2, 32000)
    assert (short.samplerate, short.channels, short.frames) == (16000, 1, 8000)
    decoded, _ = sf.read(files[0])
    reference = tone(2, 16000)
    error = decoded[1000:-1000, 0] - reference[1000:-1000]
    assert 10 * np.log10(np.mean(error ** 2) / np.mean(reference ** 2)) < -20


def test_a_packed_folder_of_rooms_is_lossless_and_thinned(tmp_path):
    (tmp_path / "rooms").mkdir()
    impulse = np.zeros(4800)
    impulse[10] = 0.9
    for index in range(6):
        sf.write(tmp_path / "rooms" / f"room{index}.wav", impulse, 48000)

    assert pack_source(tmp_path / "rooms", tmp_path / "packed", lossless=True, max_files=3) == 3

    packed = sorted((tmp_path / "packed").iterdir())
    assert [p.suffix for p in packed] == [".flac"] * 3
    assert {p.name.split("-")[0] for p in packed} == {"room0", "room2", "room4"}
    response, rate = sf.read(packed[0])
    assert rate == 16000 and np.argmax(np.abs(response)) in (3, 4)
