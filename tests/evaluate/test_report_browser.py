"""report.html renders offline in headless Chromium: not blank, players and images present."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from aural.evaluate import columns, pipeline_row, write_outputs
from aural.signal import Signal
from helpers import speech_like

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "",
                             shutil.which("chromium-browser") or "") if p and os.access(p, os.X_OK)), None)
pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed"),
              pytest.mark.slow]  # starts a browser twice
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]
METRICS = ["snr", "lsd", "lsd_hf", "lufs"]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    rows = []
    for i, name in enumerate(["first", "second"]):
        reference = speech_like(2.0, 48000, seed=i, level_db=-18.0)
        rng = np.random.default_rng(i)
        phone = reference.resample(8000)
        source = phone.replace(phone.audio + 0.02 * torch.from_numpy(
            rng.standard_normal(tuple(phone.audio.shape)).astype(np.float32)))
        output = Signal(reference.audio * 0.9, 48000)
        row = pipeline_row(name, reference, source, output, METRICS)
        row.media = {"input": source, "output": output, "reference": reference}
        rows.append(row)
    write_outputs(rows, out, columns(METRICS, pipeline=True), context={"pipeline": "browser_check"})
    return out / "report.html"


def chromium(args: list[str], user_data_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={user_data_dir}", *args],
                          capture_output=True, text=True, timeout=120)


def test_screenshot_is_not_blank(report, tmp_path, png_reader):
    shot = tmp_path / "shot.png"
    done = chromium([f"--screenshot={shot}", "--window-size=1280,2000", report.as_uri()], tmp_path / "profile")
    assert shot.exists() and shot.stat().st_size > 10_000, done.stderr[-2000:]
    pixels = png_reader.read_image(shot)[..., :3].astype(int)
    assert pixels.shape[:2] == (2000, 1280)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200          # not a blank page
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    magma = (red > green + 40) & (blue > green + 40)                     # purple spectrogram pixels
    assert magma.sum() > 20_000, "spectrogram images did not render"


def test_dom_has_players_images_and_waveforms(report, tmp_path):
    done = chromium(["--dump-dom", report.as_uri()], tmp_path / "profile")
    dom = done.stdout
    assert "<h1>aural evaluate: browser_check</h1>" in dom, done.stderr[-2000:]
    assert dom.count("<audio controls") == 6 and dom.count('src="data:audio/mpeg;base64,') == 6
    assert dom.count('<img alt="') == 6 and dom.count('src="data:image/png;base64,') == 6
    assert dom.count('<svg class="wave"') == 2
