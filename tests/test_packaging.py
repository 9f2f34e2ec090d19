"""The built wheel carries the weights, pipelines and recipes and runs offline from an empty folder.

The fresh venv gets no copy of torch: a ``.pth`` file in its site-packages adds the
site-packages folder that holds this interpreter's torch (and aural's other dependencies,
already installed there), so nothing is downloaded. That folder's own ``.pth`` files (an
editable aural among them) are not processed, so the checkout stays off the path; the test
checks where ``aural`` is imported from. The wheel goes in with ``--no-deps`` (pip would try
to re-resolve torch's own requirements against the new venv's older setuptools); running
the pipeline is what proves the dependencies import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from aural import io
from aural.dsp.loudness import integrated_loudness

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("aural", "models", "pipelines", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md")
EXAMPLE = REPO / "data" / "examples" / "phone_memo.flac"


def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def build_wheel(tmp_path: Path) -> Path:
    """``pip wheel`` of a copy of the sources (the build writes build/ and *.egg-info beside them)."""
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", ".*"))
        else:
            shutil.copy2(REPO / name, source / name)
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", dist, source])
    return next(dist.glob("aural-*.whl"))


def fresh_venv_with_host_packages(path: Path) -> Path:
    """A new venv whose site-packages also sees the folder holding this interpreter's torch."""
    run([sys.executable, "-m", "venv", path])
    python = path / "bin" / "python"
    purelib = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip()
    host_site = Path(torch.__file__).resolve().parents[1]
    (Path(purelib) / "host_packages.pth").write_text(f"{host_site}\n")
    return python


def offline_prefix() -> list[str]:
    """``unshare`` into a namespace without network where the system allows it."""
    probe = shutil.which("unshare")
    if probe and subprocess.run([probe, "--net", "--map-root-user", "true"], capture_output=True).returncode == 0:
        return [probe, "--net", "--map-root-user"]
    return []


@pytest.mark.slow
def test_wheel_runs_phone_to_studio_offline_from_an_empty_folder(tmp_path):
    wheel = build_wheel(tmp_path)
    python = fresh_venv_with_host_packages(tmp_path / "venv")
    run([python, "-m", "pip", "install", "--no-index", "--no-deps", "--ignore-installed", "-q", wheel])

    empty = tmp_path / "empty"
    empty.mkdir()
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "AURAL_MODELS", "AURAL_PIPELINES", "AURAL_DATA")}
    env.update({"OMP_NUM_THREADS": "1", "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"})
    where = run([python, "-c", "import aural, aural.config, aural.weights; print(aural.__file__); "
                 "print(aural.config.pipelines_dir()); print(aural.weights.models_dir())"],
                cwd=empty, env=env).stdout.split()
    venv = (tmp_path / "venv").resolve()
    assert all(Path(path).resolve().is_relative_to(venv) for path in where), where

    out = empty / "memo_studio.wav"
    run([*offline_prefix(), tmp_path / "venv" / "bin" / "aural", "run", "phone_to_studio", EXAMPLE,
         "-o", out.name, "-q"], cwd=empty, env=env)
    studio = io.read(out)
    assert studio.sample_rate == 48000
    assert studio.duration_s == pytest.approx(io.info(EXAMPLE).duration_s, abs=0.01)
    podcast_lufs = -19.0 if studio.num_channels == 1 else -16.0  # mono plays on both earpieces
    assert integrated_loudness(studio.audio, studio.sample_rate) == pytest.approx(podcast_lufs, abs=0.2)
    assert sorted(p.name for p in empty.iterdir()) == [out.name]
