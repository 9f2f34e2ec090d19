"""write_outputs: the four files, their content, the PNG encoder and the spectrogram."""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pytest
import torch

from aural.evaluate import OUTPUT_FILES, columns, pipeline_row, score_row, write_outputs
from aural.evaluate.report import audio_bytes, axis_top_hz, colour_map, png_indexed, spectrogram_db
from aural.signal import Signal
from helpers import speech_like

METRICS = ["snr", "lsd_hf", "lufs"]


def noisy(signal: Signal, level: float, seed: int = 0) -> Signal:
    rng = np.random.default_rng(seed)
    return signal.replace(signal.audio + level * torch.from_numpy(
        rng.standard_normal(tuple(signal.audio.shape)).astype(np.float32)))


def pipeline_rows():
    rows = []
    for i, name in enumerate(["b", "a/c"]):
        reference = speech_like(1.5, 48000, seed=i)
        source = noisy(reference.resample(16000), 0.03, i)
        output = noisy(reference, 0.005, i)
        row = pipeline_row(name, reference, source, output, METRICS)
        row.media = {"input": source, "output": output, "reference": reference}
        rows.append(row)
    return rows


def test_writes_the_four_files(tmp_path):
    rows = pipeline_rows()
    summary = write_outputs(rows, tmp_path / "out", columns(METRICS, pipeline=True),
                            failed={"zz": "zz.wav: not a readable audio file"},
                            context={"pipeline": "demo"}, report_seconds=1.0)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)
    table = list(csv.reader(open(out / "scores.csv")))
    assert table[0] == ["file", "input_snr", "output_snr", "delta_snr", "input_lsd_hf", "output_lsd_hf",
                        "delta_lsd_hf", "input_lufs", "output_lufs", "delta_lufs"]
    assert [r[0] for r in table[1:]] == ["a/c", "b"]  # sorted
    assert float(table[2][3]) == pytest.approx(float(table[2][2]) - float(table[2][1]))
    loaded = json.load(open(out / "summary.json"))
    assert loaded == json.loads(json.dumps(summary))
    snr = loaded["columns"]["delta_snr"]
    assert snr["count"] == 2 and snr["mean"] > 5 and snr["median"] == pytest.approx(snr["mean"])
    assert loaded["failed"] == {"zz": "zz.wav: not a readable audio file"}
    assert loaded["pipeline"] == "demo"
    assert set(loaded["package_versions"]) >= {"aural", "numpy", "soxr", "pyloudnorm"}
    assert loaded["metrics"]["lsd_hf"]["higher_is_better"] is False
    assert "resampled to 48000 Hz" in " ".join(loaded["notes"]["b"])
    assert loaded["rates"]["input_lufs"] == {"at 16000 Hz": 2}
    markdown = (out / "summary.md").read_text()
    assert "| snr ↑ | dB |" in markdown and "## Failed files" in markdown and "`zz`" in markdown
    page = (out / "report.html").read_text()
    assert page.count("<audio controls") == 6 and page.count('src="data:image/png;base64,') == 6
    assert page.count('<svg class="wave"') == 2
    assert not re.search(r'(src|href)="(?!data:)', page), "report must not load external resources"
    assert "first 1 s of each file" in page


def test_missing_values_carry_reasons(tmp_path):
    reference = Signal(torch.zeros(1, 16000), 16000)  # silent
    row = score_row("s", reference, speech_like(1.0, 16000), ["snr", "lufs"])
    summary = write_outputs([row], tmp_path, ["snr", "lufs"])
    assert summary["columns"]["snr"]["reasons"] == {
        "undefined: reference is silent (below -90 dBFS RMS)": ["s"]}
    assert summary["columns"]["snr"]["mean"] is None
    assert open(tmp_path / "scores.csv").read().splitlines()[1].startswith("s,,")
    assert "undefined: reference is silent" in (tmp_path / "summary.md").read_text()


def test_png_round_trip(png_reader):
    rng = np.random.default_rng(0)
    indices = rng.integers(0, 256, size=(37, 53)).astype(np.uint8)
    palette = colour_map()
    pixels, decoded_palette = png_reader.read_png(png_indexed(indices, palette))
    np.testing.assert_array_equal(pixels[..., 0], indices)
    np.testing.assert_array_equal(decoded_palette, palette)
    assert tuple(palette[0]) == (0, 0, 4) and tuple(palette[-1]) == (252, 253, 191)


def test_spectrogram_puts_a_tone_at_its_frequency():
    t = np.arange(16000) / 16000
    image = spectrogram_db(np.sin(2 * np.pi * 2000 * t), 16000, max_frequency_hz=8000,
                           num_columns=40, num_rows=80)
    brightest = int(np.argmax(image[:, 20]))
    frequency = (80 - 1 - brightest + 0.5) * 8000 / 80
    assert abs(frequency - 2000) <= 100
    # a 16 kHz signal on a 24 kHz axis: the rows above 8 kHz are empty
    wide = spectrogram_db(np.sin(2 * np.pi * 2000 * t), 16000, max_frequency_hz=24000, num_rows=60)
    assert np.isneginf(wide[:39]).all() and np.isfinite(wide[41:]).all()


def test_players_are_compressed_at_the_files_own_rate():
    import soundfile

    for rate in (48000, 44100, 16000, 8000):
        mime, data = audio_bytes(speech_like(3.0, rate, num_channels=2), seconds=2.0)
        facts = soundfile.info(io.BytesIO(data))
        assert (mime, facts.samplerate, facts.channels) == ("audio/mpeg", rate, 1)
        assert abs(facts.duration - 2.0) < 0.1
        assert len(data) < 2.0 * rate * 2 / 4  # under a quarter of 16-bit PCM
    mime, data = audio_bytes(speech_like(1.0, 96000), seconds=1.0)  # no MP3 at 96 kHz: FLAC
    assert mime == "audio/flac" and soundfile.info(io.BytesIO(data)).samplerate == 96000
    mime, data = audio_bytes(speech_like(1.0, 48000), seconds=1.0, sample_rate=16000)
    assert soundfile.info(io.BytesIO(data)).samplerate == 16000


def test_spectrogram_axis_fits_the_content():
    assert axis_top_hz([3400.0, 7900.0, 3000.0], nyquist_hz=24000) == 9000.0
    assert axis_top_hz([23900.0], nyquist_hz=24000) == 24000.0
