import os
import warnings
from pathlib import Path

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


# -- hostile files and failing writes -------------------------------------------------------
def test_fifo_and_symlink_loop_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    os.symlink("loop.wav", tmp_path / "loop.wav")
    with pytest.raises(AudioReadError, match=r"pipe.wav: is a FIFO, not an audio file"):
        io.info(fifo)
    with pytest.raises(AudioReadError, match=r"loop.wav: is a symbolic link loop, not an audio file"):
        io.read(tmp_path / "loop.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioReadError, match=r"empty.wav: is empty \(0 bytes\)"):
        io.info(tmp_path / "empty.wav")


def test_truncated_wav_warns_with_declared_and_present_samples(tmp_path):
    path = tmp_path / "cut.wav"
    sf.write(str(path), np.zeros((16000, 2), np.float32), 16000, subtype="PCM_24")
    data = path.read_bytes()
    path.write_bytes(data[: 44 + 3 * 2 * 1000])
    with pytest.warns(io.AudioWarning, match=r"cut.wav: truncated: the header declares 16000 samples, "
                                             r"the file holds 1000"):
        assert io.info(path).num_frames == 1000
    whole = tmp_path / "whole.wav"
    sf.write(str(whole), np.zeros((16000, 1), np.float32), 16000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        io.info(whole)


def test_scan_audio_excludes_the_output_and_lists_special_entries(tmp_path):
    for rel in ("a.wav", "sub/b.flac", "out/a.wav", "out/deeper/c.wav", ".hidden/d.wav"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(tmp_path / rel), np.zeros((100, 1), np.float32), 16000)
    os.mkfifo(tmp_path / "sub" / "pipe.wav")
    os.symlink("gone.wav", tmp_path / "dangling.wav")
    os.symlink(tmp_path, tmp_path / "sub" / "back")  # a folder link is not followed
    scan = io.scan_audio(tmp_path, exclude=(tmp_path / "sub" / ".." / "out",))
    assert [p.relative_to(tmp_path).as_posix() for p in scan.files] == ["a.wav", "sub/b.flac"]
    assert [(p.name, kind) for p, kind in scan.skipped] == [("dangling.wav", "broken symbolic link"),
                                                           ("pipe.wav", "FIFO")]


def test_no_clobber_commit_refuses_a_target_written_meanwhile(tmp_path):
    target = tmp_path / "out.wav"
    writer = io.AudioWriter(target, 16000, 1, overwrite=False)
    writer.write(torch.zeros(1, 100))
    target.write_bytes(b"the other run's output")
    with pytest.raises(AudioWriteError, match=r"out.wav: exists \(written meanwhile by another process\); "
                                              r"use --overwrite"):
        writer.commit()
    assert target.read_bytes() == b"the other run's output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]


def test_a_full_device_is_named_not_system_error():
    handle = sf.SoundFile("/dev/full", "w", samplerate=16000, channels=1, format="RAW", subtype="PCM_16")
    with pytest.raises(sf.LibsndfileError) as caught:
        for _ in range(100):
            handle.write(np.zeros(16000, np.float32))
    assert io.write_error_reason(caught.value, Path("/dev"), handle) == "no space left on device"


def test_os_errors_name_the_cause_and_the_folder():
    reason = io.write_error_reason(PermissionError(13, "Permission denied", "/x/.a.wav.aural1-abc.part"), Path("/x"))
    assert reason == "permission denied in /x"
