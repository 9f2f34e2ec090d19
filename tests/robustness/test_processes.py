"""``aural run`` as a real process under signals, kill -9 and an OS file-size limit: nothing
partial or spooled is left behind, a later run cleans up after a killed one."""

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from robustness.corpus import BOMB

SECONDS = 200  # 48 kHz stereo: above the 64 MB memory spool, so podcast_master spools to $TMPDIR


@pytest.fixture(scope="module")
def long_input(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "long.wav"
    rng = np.random.default_rng(0)
    audio = (0.05 * rng.standard_normal((SECONDS * 48000, 2))).astype(np.float32)
    sf.write(str(path), audio, 48000, subtype="PCM_16")
    return path


def _start(args, temp_dir: Path, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "TMPDIR": str(temp_dir), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "aural", *args], env=env, stderr=subprocess.PIPE,
                            text=True, **kwargs)


def _wait_for_spool(process: subprocess.Popen, temp_dir: Path, out_dir: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        if list(temp_dir.glob("aural-spool-*/spool.w64")) and list(out_dir.glob(".*.part")):
            return
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"the run never reached its spool: {process.communicate()[1]}")


def _all_files(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob("*")]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signal_mid_run_leaves_nothing_behind(tmp_path, long_input, signum):
    temp_dir, out_dir = tmp_path / "tmp", tmp_path / "out"
    temp_dir.mkdir()
    before = long_input.read_bytes()
    process = _start(["run", "podcast_master", str(long_input), "-o", str(out_dir / "long.wav"), "-q"], temp_dir)
    _wait_for_spool(process, temp_dir, out_dir)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, err
    assert err.strip().splitlines()[-1] == f"aural: stopped by {signal.Signals(signum).name}"
    assert "Traceback" not in err
    assert _all_files(temp_dir, out_dir) == []
    assert long_input.read_bytes() == before


@pytest.mark.slow
def test_a_rerun_removes_what_kill_9_left(tmp_path, long_input):
    temp_dir, out_dir = tmp_path / "tmp", tmp_path / "out"
    temp_dir.mkdir()
    process = _start(["run", "podcast_master", str(long_input), "-o", str(out_dir / "long.wav"), "-q"], temp_dir)
    _wait_for_spool(process, temp_dir, out_dir)
    process.kill()
    process.wait()
    assert len(_all_files(temp_dir, out_dir)) == 3  # the partial output, the spool folder and its file

    rerun = _start(["run", "podcast_master", str(long_input), "-o", str(out_dir / "long.wav"), "-q"], temp_dir)
    _, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    assert "removed 2 temporary files left by an interrupted run" in err
    assert _all_files(temp_dir, out_dir) == [out_dir / "long.wav"]
    assert sf.info(str(out_dir / "long.wav")).frames == SECONDS * 48000


@pytest.mark.slow
def test_file_size_limit_names_the_cause(tmp_path):
    """An OS refusal mid-write (here RLIMIT_FSIZE; a full disk reads alike) names its cause."""
    src = tmp_path / "in.wav"
    sf.write(str(src), (0.1 * np.random.default_rng(1).standard_normal((48000 * 5, 2))).astype(np.float32),
             48000, subtype="PCM_16")
    out_dir = tmp_path / "out"

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    process = _start(["run", "podcast_master", str(src), "-o", str(out_dir / "in.wav"), "-q"], tmp_path,
                     preexec_fn=limit_file_size)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 1, err
    assert f"aural: {out_dir / 'in.wav'}: write failed (file too large)" in err.splitlines()
    assert _all_files(out_dir) == []


# ru_maxrss survives exec, so a child forked from this (large) pytest process would report
# pytest's size: a small Python in between forks the measured command and reports its usage.
MEASURE = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:], stderr=subprocess.PIPE, text=True); "
           "err = p.stderr.read(); _, status, usage = os.wait4(p.pid, 0); "
           "print(os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime, usage.ru_maxrss); "
           "print(err, end='')")


@pytest.mark.parametrize("command", ["validate", "run"])
def test_alias_bomb_ends_fast_and_small(tmp_path, command):
    """The issue's bounds (2 s, 300 MB), on the child's CPU time so that a loaded machine does not
    fail it; benchmarks/hostile_yaml.py has the wall-clock figures."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    args = [command, str(bomb)] + (["in.wav", "-o", str(tmp_path / "out")] if command == "run" else [])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    report = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, "-m", "aural", *args],
                            env=env, capture_output=True, text=True, check=True).stdout
    first, err = report.split("\n", 1)
    code, cpu_s, peak_kb = first.split()
    assert int(code) == 2, err
    assert err.strip() == f"aural: {bomb}:6: aliases expand this value to more than 10000 nodes (an alias bomb?)"
    assert float(cpu_s) < 2.0
    assert int(peak_kb) < 300 * 1024
