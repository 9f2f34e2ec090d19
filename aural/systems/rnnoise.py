"""``rnnoise``: Xiph RNNoise through the ``pyrnnoise`` package (optional extra ``baselines``).

``pyrnnoise`` ships ``librnnoise`` with its model compiled in. We call the C library through
ctypes rather than the package's Python front end: that front end needs ``audiolab`` (FFmpeg)
for resampling and rounds its output to int16 without clipping, so loud frames wrap around.

- 48 kHz, frames of 480 samples (10 ms), ``float`` samples on the int16 scale (x 32768 in,
  / 32768 out, no clipping); other rates are resampled with :func:`aural.dsp.resample`.
- ``rnnoise_process_frame(state, out, in)`` returns the frame's voice probability.
- Delay: 960 samples at 48 kHz (20 ms), measured by cross-correlation with a chirp, a voiced
  probe and an impulse train (:func:`aural.systems.probe.measure_latency`); compensated.
- One fresh state per channel per call, created ahead by :meth:`RNNoiseSystem.prepare`.
"""

from __future__ import annotations

import ctypes
import importlib.util
import sys
from pathlib import Path

import numpy as np

from aural.systems import SYSTEMS
from aural.systems.base import NativeStateSystem, StatePool, package_version

SAMPLE_RATE = 48000
FRAME_SAMPLES = 480
LATENCY_SAMPLES = 960
INT16_SCALE = 32768.0


def library_path() -> Path | None:
    """Where pyrnnoise keeps librnnoise, found without importing pyrnnoise (whose package
    ``__init__`` needs audiolab)."""
    spec = importlib.util.find_spec("pyrnnoise")
    if spec is None or not spec.submodule_search_locations:
        return None
    name = {"darwin": "librnnoise.dylib", "win32": "rnnoise.dll"}.get(sys.platform, "librnnoise.so")
    path = Path(list(spec.submodule_search_locations)[0]) / name
    return path if path.is_file() else None


def _load_library(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    float_p = ctypes.POINTER(ctypes.c_float)
    lib.rnnoise_create.argtypes = [ctypes.c_void_p]
    lib.rnnoise_create.restype = ctypes.c_void_p
    lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
    lib.rnnoise_destroy.restype = None
    lib.rnnoise_get_frame_size.argtypes = []
    lib.rnnoise_get_frame_size.restype = ctypes.c_int
    lib.rnnoise_process_frame.argtypes = [ctypes.c_void_p, float_p, float_p]
    lib.rnnoise_process_frame.restype = ctypes.c_float
    return lib


@SYSTEMS.register("rnnoise")
class RNNoiseSystem(NativeStateSystem):
    name = "rnnoise"
    summary = "Xiph RNNoise (pyrnnoise's librnnoise, built-in model), 48 kHz"
    native_sample_rate = SAMPLE_RATE
    latency_samples = LATENCY_SAMPLES
    frame_samples = FRAME_SAMPLES

    def __init__(self) -> None:
        self._lib: ctypes.CDLL | None = None
        self._pool: StatePool[int] | None = None

    @classmethod
    def available(cls) -> tuple[bool, str]:
        if importlib.util.find_spec("pyrnnoise") is None:
            return False, "the pyrnnoise package is not installed (pip install pyrnnoise)"
        if library_path() is None:
            return False, f"pyrnnoise has no native librnnoise for {sys.platform}"
        return True, ""

    def versions(self) -> dict[str, str]:
        return {"pyrnnoise": package_version("pyrnnoise"), "model": "rnnoise built-in"}

    def load(self) -> None:
        if self._lib is not None:
            return
        lib = _load_library(library_path())
        frame = lib.rnnoise_get_frame_size()
        if frame != FRAME_SAMPLES:
            raise RuntimeError(f"librnnoise uses {frame}-sample frames, expected {FRAME_SAMPLES}")
        self._lib = lib
        self._pool = StatePool(self._create, lib.rnnoise_destroy)

    def _create(self) -> int:
        state = self._lib.rnnoise_create(None)
        if not state:
            raise MemoryError("rnnoise_create failed")
        return state

    def process_channel(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        x = np.ascontiguousarray(audio * INT16_SCALE, dtype=np.float32)
        y = np.empty_like(x)
        float_p = ctypes.POINTER(ctypes.c_float)
        x_ptr = x.ctypes.data_as(ctypes.c_void_p).value
        y_ptr = y.ctypes.data_as(ctypes.c_void_p).value
        step = FRAME_SAMPLES * x.itemsize
        state = self._pool.take()
        try:
            for offset in range(0, x.nbytes, step):
                self._lib.rnnoise_process_frame(state, ctypes.cast(y_ptr + offset, float_p),
                                                ctypes.cast(x_ptr + offset, float_p))
        finally:
            self._pool.release(state)
        return y / INT16_SCALE
