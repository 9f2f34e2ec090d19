"""Training datasets: aligned crops, a stable split, and items independent of worker count."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader

from aural.degrade.noise import synthetic_noise
from aural.dsp.resample import resample
from aural.errors import UsageError
from aural.signal import Signal
from aural.train.datasets import OnTheFlyDataset, PairedFolderDataset, crop_step, split_of
from helpers import speech_like, write_audio


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """A reference at 48 kHz and the same audio at 16 kHz as the 'degraded' side."""
    root = tmp_path_factory.mktemp("pairs")
    for i, rel in enumerate(["a.wav", "sub/b.flac", "sub/c.wav", "d.wav", "e.wav", "f.wav"]):
        reference = speech_like(1.5 + 0.25 * i, 48000, seed=i)
        noise = torch.from_numpy(np.random.default_rng(i).standard_normal(reference.audio.shape).astype(np.float32))
        reference = reference.replace(reference.audio + 0.01 * noise)  # broadband, so misalignment shows
        write_audio(root / "ref" / rel, reference, subtype="FLOAT" if rel.endswith(".wav") else "PCM_24")
        degraded = reference.replace(resample(reference.audio, 48000, 16000), 16000)
        write_audio((root / "deg" / rel).with_suffix(".flac"), degraded, subtype="PCM_24")
    write_audio(root / "deg" / "orphan.wav", speech_like(0.5, 16000))
    return root


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().flatten(), b.double().flatten()
    return float((a * b).sum() / (a.norm() * b.norm() + 1e-12))


def test_paired_crops_are_aligned_across_rates(pairs):
    data = PairedFolderDataset(pairs / "deg", pairs / "ref", segment_s=0.5, sample_rate=16000, seed=1)
    assert len(data) == 6  # the orphan has no reference
    for index in range(len(data)):
        degraded, clean = data[index]
        assert degraded.shape == clean.shape == (1, 8000) and degraded.dtype == torch.float32
        assert correlation(degraded, clean) > 0.999
        assert correlation(degraded[:, 1:], clean[:, :-1]) < correlation(degraded, clean) - 1e-4
    # at the reference's rate the 16 kHz side is band-limited, but still aligned
    wide = PairedFolderDataset(pairs / "deg", pairs / "ref", segment_s=0.5, sample_rate=48000, seed=1)
    degraded, clean = wide[0]
    low = resample(resample(clean, 48000, 16000), 16000, 48000)
    assert correlation(degraded[:, 1000:-1000], low[:, 1000:-1000]) > 0.999


def test_crops_change_with_the_epoch_and_not_for_validation(pairs):
    train = PairedFolderDataset(pairs / "deg", pairs / "ref", segment_s=0.25, sample_rate=16000, seed=3)
    first = train[2][1]
    assert torch.equal(first, train[2][1])
    train.set_epoch(1)
    assert not torch.equal(first, train[2][1])
    val = PairedFolderDataset(pairs / "deg", pairs / "ref", segment_s=0.25, sample_rate=16000, seed=3,
                              split="val", val_fraction=0.5)
    before = [val[i][1] for i in range(len(val))]
    val.set_epoch(5)
    assert all(torch.equal(b, val[i][1]) for i, b in enumerate(before))


def test_split_is_a_stable_hash_of_the_relative_path(pairs):
    kwargs = dict(segment_s=0.25, sample_rate=16000, val_fraction=0.5)
    train = PairedFolderDataset(pairs / "deg", pairs / "ref", split="train", seed=0, **kwargs)
    val = PairedFolderDataset(pairs / "deg", pairs / "ref", split="val", seed=99, **kwargs)
    train_keys, val_keys = {i["key"] for i in train.items}, {i["key"] for i in val.items}
    assert train_keys.isdisjoint(val_keys) and len(train_keys | val_keys) == 6
    assert val_keys == {k for k in train_keys | val_keys if split_of(k, 0.5) == "val"}
    assert split_of("speaker1/take3", 0.1) == split_of("speaker1/take3", 0.1)
    share = np.mean([split_of(f"file{i}", 0.2) == "val" for i in range(2000)])
    assert share == pytest.approx(0.2, abs=0.03)


def test_whole_files_and_short_files(pairs):
    whole = PairedFolderDataset(pairs / "deg", pairs / "ref", segment_s=None, sample_rate=16000)
    degraded, clean = whole[0]
    assert degraded.shape == clean.shape == (1, 24000)
    padded = PairedFolderDataset(pairs / "deg", pairs / "ref", segment_s=5.0, sample_rate=16000)
    degraded, clean = padded[0]
    assert degraded.shape == (1, 80000) and torch.all(clean[:, 24000:] == 0)


def test_manifest_pairs_share_a_split_per_source(tmp_path, pairs):
    lines = []
    for variant in range(2):
        for rel in ["a", "sub/b", "sub/c", "d", "e", "f"]:
            ext = ".flac" if rel == "sub/b" else ".wav"
            lines.append({"phone": f"../deg/{rel}.flac", "studio": f"../ref/{rel}{ext}", "source_rel": f"{rel}.wav",
                          "profile": "voip", "variant": variant})
    folder = pairs / "manifests"
    folder.mkdir(exist_ok=True)
    (folder / "manifest.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    val = PairedFolderDataset(manifest=folder / "manifest.jsonl", segment_s=0.25, sample_rate=16000,
                              split="val", val_fraction=0.5)
    counts = {}
    for item in val.items:
        counts[item["key"]] = counts.get(item["key"], 0) + 1
    assert counts and all(count == 2 for count in counts.values())
    (folder / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(UsageError, match="bad.jsonl:1"):
        PairedFolderDataset(manifest=folder / "bad.jsonl")


def test_paired_dataset_bad_input(tmp_path, pairs):
    with pytest.raises(UsageError, match="does not exist"):
        PairedFolderDataset(tmp_path / "nope", pairs / "ref")
    with pytest.raises(UsageError):
        PairedFolderDataset(pairs / "deg")
    with pytest.raises(UsageError, match="split"):
        PairedFolderDataset(pairs / "deg", pairs / "ref", split="test")


def test_crop_step_lands_on_whole_samples():
    step = crop_step(16000, 44100, 48000)
    assert all((step * r) % 16000 == 0 for r in (44100, 48000))


@pytest.fixture(scope="module")
def clean_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("otf")
    write_audio(root / "clean" / "a.wav", speech_like(2.0, 16000, seed=1))
    write_audio(root / "clean" / "b.flac", speech_like(1.5, 22050, seed=2, num_channels=2))
    write_audio(root / "clean" / "c.wav", speech_like(0.4, 16000, seed=3))
    (root / "noise").mkdir()
    sf.write(root / "noise" / "n.wav", (0.05 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32), 16000)
    return root


def otf(folder, **kwargs) -> OnTheFlyDataset:
    options = dict(noise_dir=folder / "noise", profiles=["archival", "laptop_mic", "cellular"], segment_s=0.5,
                   sample_rate=16000, seed=4, num_items=6)
    options.update(kwargs)
    return OnTheFlyDataset(folder / "clean", **options)


def test_on_the_fly_items_are_reproducible(clean_folder):
    data = otf(clean_folder)
    items = [data.item(i) for i in range(len(data))]
    for degraded, clean, record in items:
        assert degraded.shape == clean.shape == (1, 8000)
        assert degraded.dtype == clean.dtype == torch.float32
        assert torch.isfinite(degraded).all() and float(degraded.abs().max()) <= 1.0
        json.dumps(record)
    assert {r["profile"] for _, _, r in items} <= {"archival", "laptop_mic", "cellular"}
    fresh = otf(clean_folder)
    assert all(torch.equal(fresh[i][0], items[i][0]) for i in range(len(items)))
    fresh.set_epoch(1)
    assert not torch.equal(fresh[0][0], items[0][0])
    # 6 items over 3 files: each file twice, in an order drawn per pass
    assert sorted(r["source"].rsplit("/", 1)[1] for _, _, r in items) == ["a.wav", "a.wav", "b.flac", "b.flac",
                                                                          "c.wav", "c.wav"]
    # a crop of a file shorter than the segment is zero-padded (an early reference rings on for 55 ms)
    short = [c for _, c, r in items if r["source"].endswith("c.wav")][0]
    assert float(short[:, 6400 + 100 + 880:].abs().max()) < 1e-9


def test_loader_workers_give_the_same_items(clean_folder):
    data = otf(clean_folder)
    serial = list(DataLoader(data, batch_size=2, num_workers=0))
    parallel = list(DataLoader(data, batch_size=2, num_workers=2))
    assert len(serial) == len(parallel) == 3
    for (d0, c0), (d1, c1) in zip(serial, parallel):
        assert torch.equal(d0, d1) and torch.equal(c0, c1)


def test_on_the_fly_bad_input(tmp_path, clean_folder):
    with pytest.raises(UsageError, match="does not exist"):
        OnTheFlyDataset(tmp_path / "nope")
    with pytest.raises(UsageError, match="unknown degradation profile"):
        otf(clean_folder, profiles=["studio"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no clean audio"):
        OnTheFlyDataset(tmp_path / "empty")


def test_an_unreadable_pair_is_reported_once_and_skipped(tmp_path, caplog):
    for name in ("a", "b", "c"):
        write_audio(tmp_path / "ref" / f"{name}.wav", speech_like(1.0, 16000, seed=1))
        write_audio(tmp_path / "deg" / f"{name}.wav", speech_like(1.0, 16000, seed=2), subtype="FLOAT")
    audio = speech_like(1.0, 16000, seed=2).audio.clone()
    audio[0, 100] = float("nan")
    sf.write(str(tmp_path / "deg" / "b.wav"), audio.numpy().T, 16000, subtype="FLOAT")
    data = PairedFolderDataset(tmp_path / "deg", tmp_path / "ref", segment_s=None, sample_rate=16000)
    with caplog.at_level("WARNING", logger="aural.train"):
        items = [data[i] for i in range(3)] + [data[1]]
    assert torch.equal(items[1][0], items[2][0])  # b is replaced by the next readable pair, c
    assert torch.equal(items[3][0], items[2][0])
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "b.wav: contains NaN or infinite samples" in messages[0]


def test_on_the_fly_skips_an_unreadable_clean_file(tmp_path, caplog):
    (tmp_path / "clean").mkdir()
    write_audio(tmp_path / "clean" / "good.wav", speech_like(1.0, 16000, seed=1))
    (tmp_path / "clean" / "broken.wav").write_bytes(b"RIFF garbage")
    data = OnTheFlyDataset(tmp_path / "clean", profiles=["cellular"], segment_s=0.25, sample_rate=16000,
                           seed=1, num_items=4)
    with caplog.at_level("WARNING", logger="aural.train"):
        records = [data.item(i)[2] for i in range(4)]
    assert {Path(r["source"]).name for r in records} == {"good.wav"}
    assert sum("broken.wav" in r.getMessage() for r in caplog.records) == 1


def test_no_readable_file_at_all_is_a_usage_error(tmp_path):
    (tmp_path / "clean").mkdir()
    (tmp_path / "clean" / "broken.wav").write_bytes(b"RIFF garbage")
    data = OnTheFlyDataset(tmp_path / "clean", profiles=["cellular"], segment_s=0.25, sample_rate=16000, num_items=2)
    with pytest.raises(UsageError, match="none of the 1 training files is readable"):
        data.item(0)


def test_on_the_fly_speed_change_keeps_target_and_degraded_aligned(tmp_path):
    (tmp_path / "clean").mkdir()
    write_audio(tmp_path / "clean" / "a.wav", speech_like(3.0, 16000, seed=2))
    plain = OnTheFlyDataset(tmp_path / "clean", profiles=["additive_noise"], segment_s=1.0, sample_rate=16000,
                            seed=3, num_items=8)
    sped = OnTheFlyDataset(tmp_path / "clean", profiles=["additive_noise"], segment_s=1.0, sample_rate=16000,
                           seed=3, num_items=8, speed_probability=1.0, speed_bounds=(1.1, 1.1))
    for index in range(3):
        degraded, clean, record = sped.item(index)
        assert record["speed"] == 1.1 and clean.shape == degraded.shape == (1, 16000)
        noise = record["steps"][0]["params"]
        assert noise == plain.item(index)[2]["steps"][0]["params"]  # the chain's draws are unchanged
        assert torch.isfinite(degraded).all() and torch.isfinite(clean).all()
    assert plain.item(0)[2]["speed"] == 1.0
    # a 1 kHz tone comes out at 1.1 kHz in the target, and the degraded side is target + noise
    tone = np.sin(2 * np.pi * 1000.0 * np.arange(3 * 16000) / 16000) * 0.1
    write_audio(tmp_path / "clean" / "a.wav", Signal(torch.from_numpy(tone.astype(np.float32))[None], 16000))
    degraded, clean, record = sped.item(0)
    spectrum = np.abs(np.fft.rfft(clean[0].numpy() * np.hanning(16000)))
    assert int(np.argmax(spectrum)) == 1100
    noise = record["steps"][0]["params"]
    expected = synthetic_noise(noise["colour"], noise["seed"], 0, 16000) \
        * 10 ** ((noise["gain_db"] + record["pair_gain_db"]) / 20)
    np.testing.assert_allclose((degraded - clean)[0].numpy(), expected, atol=2e-6)


def test_on_the_fly_reference_early_or_dry(clean_folder):
    early = otf(clean_folder, profiles=["voice_memo", "archival"], num_items=8)
    dry = otf(clean_folder, profiles=["voice_memo", "archival"], num_items=8, reference="dry")
    rooms = 0
    for index in range(8):
        (degraded, target, record), (dry_degraded, dry_target, dry_record) = early.item(index), dry.item(index)
        assert torch.equal(degraded, dry_degraded) and record["steps"] == dry_record["steps"]
        assert (record["reference"], dry_record["reference"]) == ("early", "dry")
        has_room = any(step["transform"] == "reverb" for step in record["steps"])
        rooms += has_room
        assert torch.equal(target, dry_target) != has_room
    assert 0 < rooms < 8  # both kinds of chain were drawn
    with pytest.raises(UsageError, match="expected one of early, dry"):
        otf(clean_folder, reference="wet")


def test_build_datasets_passes_the_reference_on(clean_folder):
    from aural.train.sources import DataOptions, build_datasets

    options = DataOptions(sample_rate=16000, segment_samples=8000, profiles=("voice_memo",), reference="dry")
    train, val, description = build_datasets(clean_folder / "clean", clean_folder / "clean", options)
    assert train.reference == val.reference == "dry" and "targets dry" in description["degradation"]
    train, _, description = build_datasets(clean_folder / "clean", clean_folder / "clean",
                                           DataOptions(sample_rate=16000, segment_samples=8000))
    assert (train.reference, train.early_reflections_ms) == ("early", 50.0)
    assert "first 50 ms of the room" in description["degradation"]
