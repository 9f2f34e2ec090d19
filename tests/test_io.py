import os

import numpy as np
import pytest
import soundfile as sf
import torch

from aural import io
from aural.errors import AudioReadError, AudioWriteError
from aural.signal import Signal
from helpers import tone, write_audio


@pytest.mark.parametrize("suffix, subtype", [
    (".wav", "PCM_16"), (".wav", "PCM_24"), (".wav", "PCM_32"), (".wav", "FLOAT"),
    (".flac", "PCM_16"), (".flac", "PCM_24"), (".ogg", "VORBIS"),
])
def test_reads_formats(tmp_path, suffix, subtype):
    sig = tone(997.0, 0.5, 44100, num_channels=2)
    path = write_audio(tmp_path / f"a{suffix}", sig, subtype=subtype)
    back = io.read(path)
    assert back.sample_rate == 44100 and back.num_channels == 2
    assert back.audio.dtype == torch.float32
    tolerance = 0.05 if subtype == "VORBIS" else 1e-4
    n = min(back.num_samples, sig.num_samples)
    assert (back.audio[:, :n] - sig.audio[:, :n]).abs().max() < tolerance
    assert back.meta["source"] == str(path)


@pytest.mark.skipif("MP3" not in sf.available_formats(), reason="libsndfile without MP3")
def test_reads_mp3(tmp_path):
    path = tmp_path / "a.mp3"
    sf.write(str(path), tone(440.0, 1.0, 44100).audio.numpy().T, 44100, format="MP3")
    assert io.read(path).num_samples > 40000


@pytest.mark.parametrize("sample_rate, num_channels", [(8000, 1), (192000, 2), (48000, 6)])
def test_rates_and_channels_round_trip(tmp_path, sample_rate, num_channels):
    sig = tone(300.0, 0.1, sample_rate, num_channels)
    out = io.write(sig, tmp_path / "x.flac")
    back = io.read(out)
    assert (back.sample_rate, back.num_channels, back.num_samples) == (sample_rate, num_channels, sig.num_samples)


def test_block_reading_equals_whole_read(tmp_path):
    path = write_audio(tmp_path / "a.wav", tone(100.0, 1.0, 16000, 2), subtype="FLOAT")
    blocks = list(io.iter_blocks(path, block_samples=3001))
    assert [b.shape[1] for b in blocks[:-1]] == [3001] * (len(blocks) - 1)
    assert torch.equal(torch.cat(blocks, dim=1), io.read(path).audio)


def test_write_is_atomic_and_keeps_an_existing_file_on_failure(tmp_path):
    target = tmp_path / "out.wav"
    io.write(tone(), target)
    before = target.read_bytes()
    with pytest.raises(RuntimeError):
        with io.AudioWriter(target, 48000, 1) as writer:
            writer.write(torch.zeros(1, 100))
            raise RuntimeError("stage failed")
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


def test_sixteen_bit_output_is_dithered(tmp_path):
    quiet = Signal(torch.full((1, 48000), 0.1 / 32768), 48000)  # a tenth of an LSB
    plain = io.read(io.write(quiet, tmp_path / "plain.wav", subtype="PCM_16", dither=False))
    dithered = io.read(io.write(quiet, tmp_path / "dither.wav", subtype="PCM_16"))
    assert plain.audio.abs().max() == 0  # truncated away
    assert dithered.audio.abs().max() > 0
    assert abs(dithered.audio.mean().item() * 32768 - 0.1) < 0.05  # the level survives on average


def test_integer_output_is_clipped_not_wrapped(tmp_path):
    loud = Signal(torch.full((1, 100), 1.5), 8000)
    back = io.read(io.write(loud, tmp_path / "x.wav", subtype="PCM_24"))
    assert back.audio.min() > 0.99


def test_find_audio_is_recursive_and_sorted(tmp_path):
    for rel in ["b/2.flac", "a.wav", "b/1.WAV", ".hidden/x.wav", "notes.txt"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    found = [p.relative_to(tmp_path).as_posix() for p in io.find_audio(tmp_path)]
    assert found == ["a.wav", "b/1.WAV", "b/2.flac"]


# -- bad input: one line naming the file and the problem -----------------------------------
def _read_error(path) -> str:
    with pytest.raises(AudioReadError) as info:
        io.read(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def test_missing_file(tmp_path):
    assert "no such file" in _read_error(tmp_path / "missing.wav")


def test_folder_given_as_file(tmp_path):
    assert "is a folder" in _read_error(tmp_path)


def test_text_file_named_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n")
    assert "not a readable audio file" in _read_error(path)


def test_zero_length_audio(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(str(path), np.zeros((0, 1), dtype=np.float32), 16000)
    assert "no audio (0 samples)" in _read_error(path)


def test_truncated_file(tmp_path):
    path = write_audio(tmp_path / "cut.flac", tone(440.0, 2.0, 16000))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    try:
        sig = io.read(path)
    except AudioReadError as exc:
        assert str(exc).startswith(str(path))
    else:  # libsndfile may decode what is there; then it must be finite and shorter
        assert sig.num_samples < 32000 and torch.isfinite(sig.audio).all()


def test_nan_samples(tmp_path):
    audio = np.zeros((1000, 1), dtype=np.float32)
    audio[500] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(str(path), audio, 16000, subtype="FLOAT")
    assert "NaN or infinite samples (first at sample 500)" in _read_error(path)
    with pytest.raises(AudioReadError):
        list(io.iter_blocks(path, block_samples=100))


def test_unwritable_output(tmp_path):
    with pytest.raises(AudioWriteError, match="does not exist"):
        io.write(tone(), tmp_path / "no" / "such" / "x.wav")
    with pytest.raises(AudioWriteError, match="cannot write .mp3"):
        io.write(tone(), tmp_path / "x.mp3")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(AudioWriteError, match="cannot write"):
            io.write(tone(), locked / "x.wav")
    finally:
        locked.chmod(0o700)
