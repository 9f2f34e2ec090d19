"""Time and peak memory of ``aural validate`` and ``aural run`` on hostile pipeline files.

    python benchmarks/hostile_yaml.py

Writes a "billion laughs" alias bomb (9 ** 7 expanded nodes from 12 lines), a
self-referencing anchor and 5000 levels of nesting, runs each through both commands in a
child process, and prints exit status, wall time, the child's peak resident memory and its
one line of error. Before the bounded loader (``aural/safe_yaml.py``) the bomb grew to
9.6 GiB in 90 s. ``tests/robustness/test_processes.py`` asserts the bound loosely.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BOMB = "aural: 1\na: &a [" + ", ".join(["lol"] * 9) + "]\n" + "".join(
    f"{n}: &{n} [" + ", ".join([f"*{p}"] * 9) + "]\n" for p, n in zip("abcdef", "bcdefg")) + "stages: [*g]\n"
FILES = {
    "alias_bomb.yaml": BOMB,
    "self_reference.yaml": "aural: 1\nstages: &s [*s]\n",
    "deep.yaml": "aural: 1\nstages: " + "[" * 5000 + "]" * 5000 + "\n",
}


def measure(args: list[str]) -> dict:
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "aural", *args], stderr=subprocess.PIPE, text=True)
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    return {"code": os.waitstatus_to_exitcode(status), "wall_s": time.perf_counter() - start,
            "peak_rss_mb": usage.ru_maxrss / 1024, "line": stderr.strip()}


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        audio = folder / "in.wav"
        import numpy as np
        import soundfile as sf

        sf.write(str(audio), np.zeros((16000, 1), np.float32), 16000)
        print("| file | command | exit | wall s | peak RSS MB | message |")
        print("|---|---|---:|---:|---:|---|")
        for name, text in FILES.items():
            path = folder / name
            path.write_text(text)
            for command in (["validate", str(path)], ["run", str(path), str(audio), "-o", str(folder / "out")]):
                result = measure(command)
                line = result["line"].replace(str(folder) + "/", "")
                print(f"| {name} | {command[0]} | {result['code']} | {result['wall_s']:.2f} | "
                      f"{result['peak_rss_mb']:.1f} | `{line}` |")


if __name__ == "__main__":
    main()
