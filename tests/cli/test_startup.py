"""Light commands start without importing torch, scipy or numba (``benchmarks/startup.py`` times them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY_MODULES = ("torch", "scipy", "numba", "soxr", "soundfile")
PROBE = """
import json, sys
from aural.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "heavy": [m for m in %r if m in sys.modules]}))
""" % (HEAVY_MODULES,)


def loaded_heavy_modules(args: list[str]) -> tuple[int, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["code"], result["heavy"]


@pytest.mark.parametrize("args", [
    ["--help"],
    ["--version"],
    ["stages"],
    ["stages", "show", "mel_unet"],
    ["validate", "pipelines/phone_to_studio.yaml", "pipelines/podcast_master.yaml"],
    ["evaluate", "--help"],
    ["train", "--help"],
])
def test_light_commands_import_no_heavy_module(args):
    code, heavy = loaded_heavy_modules(args)
    assert code in (0, None)
    assert heavy == []


def test_the_probe_sees_heavy_imports():
    """The check above can fail: running a stage does load torch."""
    code, heavy = loaded_heavy_modules(["run", "podcast_master", "missing.wav", "-o", "x.wav"])
    assert code == 2
    assert "torch" in heavy
