"""scripts/pack_lists.py: training lists packed into one self-contained folder."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from aural.stages.freq_expansion.data import list_files

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "pack_lists.py"


def test_packed_lists_name_the_same_files_resampled_and_cut(tmp_path):
    source = tmp_path / "source"
    (source / "train").mkdir(parents=True)
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * 44100) / 44100)
    sf.write(tmp_path / "long.flac", np.stack([tone, 0.5 * tone], axis=1), 44100)
    sf.write(source / "train" / "short.wav", tone[:22050], 44100)
    (source / "train" / "voice.txt").write_text(f"{tmp_path / 'long.flac'}\n# a comment\nshort.wav\n")

    subprocess.run([sys.executable, str(SCRIPT), str(source), str(tmp_path / "packed"), "--max-seconds", "2"],
                   check=True, capture_output=True)

    files = list_files(tmp_path / "packed" / "train" / "voice.txt")
    assert [f.suffix for f in files] == [".ogg", ".ogg"]
    assert all(f.resolve().parent == (tmp_path / "packed" / "audio").resolve() for f in files)
    long, short = (sf.info(f) for f in files)
    assert (long.samplerate, long.channels, long.frames) == (16000, 2, 32000)
    assert (short.samplerate, short.channels, short.frames) == (16000, 1, 8000)
    decoded, _ = sf.read(files[0])
    reference = 0.3 * np.sin(2 * np.pi * 440 * np.arange(32000) / 16000)
    error_db = 10 * np.log10(np.mean((decoded[1000:-1000, 0] - reference[1000:-1000]) ** 2) / np.mean(reference ** 2))
    assert error_db < -20
