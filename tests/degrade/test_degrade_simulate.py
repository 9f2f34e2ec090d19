"""simulate_file writes a pair that reproduce() re-creates exactly, however the file is chunked."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from aural import io
from aural.degrade import get_profile, make_resources, reproduce, simulate_file
from aural.degrade.simulate import CleanSource, Settings, item_seed, output_rel
from helpers import speech_like, write_audio


def xcorr_lag(output: np.ndarray, reference: np.ndarray, max_lag: int = 800) -> int:
    y, x = output.mean(1).astype(np.float64), reference.mean(1).astype(np.float64)
    size = 1 << int(math.ceil(math.log2(2 * len(x))))
    corr = np.fft.irfft(np.fft.rfft(y, size) * np.conj(np.fft.rfft(x, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    return int(lags[np.argmax(corr[lags % size])])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim")
    write_audio(root / "clean" / "short.wav", speech_like(1.5, 16000, seed=1))
    write_audio(root / "clean" / "long.flac", speech_like(4.0, 22050, seed=2, num_channels=2))
    rng = np.random.default_rng(0)
    (root / "noise").mkdir()
    sf.write(root / "noise" / "hiss.wav", (0.05 * rng.standard_normal(12000)).astype(np.float32), 24000)
    (root / "rir").mkdir()
    h = rng.standard_normal(4000) * np.exp(-np.arange(4000) / 500.0) * 0.1
    h[:50] = 0.0
    h[50] = 1.0
    sf.write(root / "rir" / "room.wav", h.astype(np.float32), 16000)
    return root


def run(data, out, rel, profile, settings, variant=0, seed=3):
    resources = make_resources(data / "noise", data / "rir")
    return simulate_file(data / "clean" / rel, rel, get_profile(profile), seed=seed, variant=variant,
                         resources=resources, settings=settings, out_dir=out, pair_rel=rel.rsplit(".", 1)[0] + ".wav",
                         clean_dir=data / "clean")


@pytest.mark.parametrize("rel, profile, settings", [
    ("short.wav", "voice_memo", Settings(subtype="FLOAT")),
    # 4 s at 22.05 kHz rendered as 1 s chunks at 16 kHz: the streamed-resampling path
    ("long.flac", "laptop_mic", Settings(sample_rate=16000, chunk_seconds=1.0, subtype="FLOAT")),
    ("long.flac", "cellular", Settings(chunk_seconds=1.5, subtype="FLOAT", max_seconds=3.5)),
])
def test_written_pair_is_reproduced_exactly(data, tmp_path, rel, profile, settings):
    entry = run(data, tmp_path, rel, profile, settings)
    entry = json.loads(json.dumps(entry))  # what the manifest holds
    studio, phone = io.read(tmp_path / entry["studio"]), io.read(tmp_path / entry["phone"])
    source = io.info(data / "clean" / rel)
    rate = settings.sample_rate or source.sample_rate
    seconds = min(source.duration_s, settings.max_seconds or math.inf)
    assert studio.sample_rate == phone.sample_rate == rate == entry["sample_rate"]
    assert studio.num_channels == phone.num_channels == source.num_channels
    assert studio.num_samples == phone.num_samples == entry["num_samples"] == round(seconds * rate)
    assert float(phone.audio.abs().max()) <= 1.0 and torch.isfinite(phone.audio).all()
    assert abs(xcorr_lag(phone.audio.numpy().T, studio.audio.numpy().T)) <= 1
    again_studio, again_phone = reproduce(entry)
    assert torch.equal(again_studio.audio, studio.audio)
    assert torch.equal(again_phone.audio, phone.audio)
    assert entry["profile"] == profile and entry["seed"] == 3 and entry["source_rel"] == rel
    assert entry["chunk_samples"] == round(settings.chunk_seconds * rate)


def test_studio_is_the_level_normalised_source(data, tmp_path):
    entry = run(data, tmp_path, "short.wav", "archival", Settings(subtype="FLOAT"))
    studio = io.read(tmp_path / entry["studio"]).audio
    source = io.read(data / "clean" / "short.wav").audio
    gain = 10 ** ((entry["reference_gain_db"] + entry["pair_gain_db"]) / 20)
    assert torch.allclose(studio, source * gain, atol=1e-6)
    assert entry["source_level_db"] + entry["reference_gain_db"] == pytest.approx(-26.0, abs=1e-3)


def test_reproduce_with_moved_folders(data, tmp_path):
    entry = run(data, tmp_path, "short.wav", "voip", Settings(subtype="FLOAT"))
    moved = tmp_path / "moved"
    for sub in ("clean", "noise", "rir"):
        (moved / sub).mkdir(parents=True)
        for path in (data / sub).iterdir():
            (moved / sub / path.name).write_bytes(path.read_bytes())
    entry = {**entry, "source": "/nowhere/short.wav", "noise_dir": "/nowhere", "rir_dir": "/nowhere"}
    studio, phone = reproduce(entry, clean_dir=moved / "clean", noise_dir=moved / "noise", rir_dir=moved / "rir")
    assert torch.equal(phone.audio, io.read(tmp_path / entry["phone"]).audio)
    with pytest.raises(Exception, match="not found"):
        reproduce(entry)


def test_chunked_source_reads_match_the_file(data):
    path = data / "clean" / "long.flac"
    whole = CleanSource.open(path, chunk_samples=10**9)
    streamed = CleanSource.open(path, chunk_samples=1000)
    assert whole.num_samples == streamed.num_samples
    assert torch.equal(whole.read(5000, 3000), streamed.read(5000, 3000))
    resampled = CleanSource.open(path, sample_rate=16000, chunk_samples=1000)
    in_memory = CleanSource.open(path, sample_rate=16000, chunk_samples=10**9)
    assert resampled.num_samples == in_memory.num_samples == round(4.0 * 16000)
    assert torch.allclose(resampled.read(20000, 4000), in_memory.read(20000, 4000), atol=1e-4)
    resampled.close()


def test_item_seed_and_output_names():
    assert item_seed(1, "voip", "a.wav", 0) == item_seed(1, "voip", "a.wav", 0)
    assert len({item_seed(1, "voip", "a.wav", 0), item_seed(2, "voip", "a.wav", 0),
                item_seed(1, "cellular", "a.wav", 0), item_seed(1, "voip", "a.wav", 1)}) == 4
    assert output_rel("x/a.flac", "voip", 0, with_profile=False, num_variants=1) == "x/a.wav"
    assert output_rel("x/a.flac", "voip", 2, with_profile=True, num_variants=3) == "voip/x/a-v2.wav"
