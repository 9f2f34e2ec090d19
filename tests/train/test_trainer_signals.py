"""A SIGTERM to the whole process group (as schedulers and container runtimes send it) stops
training with a checkpoint, not on a DataLoader worker's death."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.mark.slow
def test_process_group_sigterm_keeps_the_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("slow_loader_run.py")), str(run_dir)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    while not (run_dir / "log.jsonl").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)  # the run has started its loop (its log is truncated at the start)
    time.sleep(3.0)  # some steps in, the worker busy with the next batch
    os.killpg(process.pid, signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 143, output
    assert "checkpoint written to" in output and "stopped: Terminated" in output
    assert "killed by signal" not in output and "no checkpoint written" not in output
    assert (run_dir / "last.safetensors").exists()
