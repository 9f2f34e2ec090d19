"""Tagged temporary names, the stale-file sweep and the no-replace rename."""

import errno
import os
import subprocess
import sys
import tempfile
import threading

import pytest

from aural import atomic_files


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_stale_temporaries_of_dead_processes_are_removed_others_kept(tmp_path):
    dead = _dead_pid()
    stale = tmp_path / f".take.wav.aural{dead}-abc_123.part"
    stale_ckpt = tmp_path / f".last.safetensors.aural{dead}-x1y2z3q4.tmp"
    mine = tmp_path / f".take.wav.aural{os.getpid()}-abc_123.part"
    foreign = [tmp_path / ".take.wav.abc_123.part", tmp_path / f"take.aural{dead}-x.part",
               tmp_path / f".notes.txt.aural{dead}-abc"]
    for path in [stale, stale_ckpt, mine, *foreign]:
        path.write_bytes(b"x")
    assert sorted(atomic_files.remove_stale_temporaries(tmp_path)) == sorted([stale, stale_ckpt])
    assert mine.exists() and all(p.exists() for p in foreign)


def test_mkstemp_names_match_the_sweep(tmp_path):
    fd, name = tempfile.mkstemp(prefix=atomic_files.temp_prefix("a.wav"), suffix=".part", dir=tmp_path)
    os.close(fd)
    assert atomic_files._TEMP_NAME.match(os.path.basename(name))["pid"] == str(os.getpid())
    folder = tempfile.mkdtemp(prefix=atomic_files.spool_prefix(), dir=tmp_path)
    assert atomic_files._SPOOL_NAME.match(os.path.basename(folder))


def test_stale_spools_are_removed(tmp_path):
    dead = _dead_pid()
    (tmp_path / f"aural-spool-{dead}-k2j4h5g6").mkdir()
    (tmp_path / f"aural-spool-{dead}-k2j4h5g6" / "spool.w64").write_bytes(b"x" * 100)
    (tmp_path / f"aural-spool-{os.getpid()}-k2j4h5g6").mkdir()
    (tmp_path / "other-spool").mkdir()
    removed = atomic_files.remove_stale_spools(str(tmp_path))
    assert [p.name for p in removed] == [f"aural-spool-{dead}-k2j4h5g6"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"aural-spool-{os.getpid()}-k2j4h5g6", "other-spool"])


def test_rename_no_replace_refuses_an_existing_target(tmp_path):
    source, target = tmp_path / "s", tmp_path / "t"
    source.write_bytes(b"new")
    target.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        atomic_files.rename_no_replace(source, target)
    assert target.read_bytes() == b"old" and source.exists()
    target.unlink()
    atomic_files.rename_no_replace(source, target)
    assert target.read_bytes() == b"new" and not source.exists()


def test_of_racing_writers_exactly_one_wins(tmp_path):
    target = tmp_path / "t"
    sources = []
    for i in range(16):
        sources.append(tmp_path / f"s{i}")
        sources[-1].write_bytes(str(i).encode())
    outcomes = []

    def claim(source):
        try:
            atomic_files.rename_no_replace(source, target)
            outcomes.append(source)
        except FileExistsError:
            pass

    threads = [threading.Thread(target=claim, args=(s,)) for s in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 1
    assert target.read_bytes() == outcomes[0].name[1:].encode()


def test_without_hard_links_an_exclusive_create_claims_the_name(tmp_path, monkeypatch):
    def no_links(source, target):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    source, target = tmp_path / "s", tmp_path / "t"
    source.write_bytes(b"new")
    atomic_files.rename_no_replace(source, target)
    assert target.read_bytes() == b"new" and not source.exists()
    source.write_bytes(b"newer")
    with pytest.raises(FileExistsError):
        atomic_files.rename_no_replace(source, target)
    assert target.read_bytes() == b"new"
