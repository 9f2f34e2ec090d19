"""DNSMOS P.835 (non-intrusive speech quality) through the ``speechmos`` package.

speechmos ships Microsoft's DNSMOS ONNX models inside the wheel
(``speechmos/dnsmos_models/sig_bak_ovr.onnx`` and ``model_v8.onnx``); nothing is downloaded.
aural reuses speechmos' feature code and P.835 polynomial mapping but opens the two ONNX
sessions itself: CPU provider only and one thread each, so a process pool does not
oversubscribe the CPU and repeated runs give identical numbers.

The estimate is mixed to mono, resampled to 16 kHz and clipped to [-1, 1] (as a PCM file
would be). DNSMOS scores 9 s windows every second and averages them; speechmos repeats
shorter clips to 9 s, so clips under 1 s are refused. One model run gives all three
scores (signal, background, overall, each 1 .. 5); they are cached per clip.

DNSMOS does not normalise its input, and louder playback scores lower
(``benchmarks/dnsmos_level.py``). The ``*_norm`` variants first scale the clip to
:data:`NORM_LEVEL_DBFS` RMS (as the DNS Challenge prepared its test clips), so recordings
and systems at different levels are compared on what they sound like, not how loud.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict

import numpy as np

from aural.metrics.base import SILENCE_RMS_DB, MetricError, register_metric, rms_db

SAMPLE_RATE = 16000
MIN_DURATION_S = 1.0
NORM_LEVEL_DBFS = -25.0
_REQUIRES = ("speechmos", "onnxruntime", "librosa", "requests")  # speechmos declares none of them
_model = None
_cache: OrderedDict[str, dict[str, float]] = OrderedDict()
_CACHE_SIZE = 4


def _load_model():
    global _model
    if _model is None:
        import onnxruntime
        from speechmos import dnsmos as speechmos_dnsmos

        folder = os.path.join(os.path.dirname(os.path.abspath(speechmos_dnsmos.__file__)), "dnsmos_models")
        primary_path = os.path.join(folder, "sig_bak_ovr.onnx")
        p808_path = os.path.join(folder, "model_v8.onnx")
        for path in (primary_path, p808_path):
            if not os.path.isfile(path):
                raise MetricError(f"unavailable: speechmos model file missing: {path}")

        class _SingleThreadDNSMOS(speechmos_dnsmos.DNSMOS):
            def __init__(self, primary_model_path: str, p808_model_path: str) -> None:
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                providers = ["CPUExecutionProvider"]
                self.primary_model_path = primary_model_path
                self.onnx_sess = onnxruntime.InferenceSession(primary_model_path, options, providers=providers)
                self.p808_onnx_sess = onnxruntime.InferenceSession(p808_model_path, options, providers=providers)

        _model = _SingleThreadDNSMOS(primary_path, p808_path)
    return _model


def dnsmos_scores(audio: np.ndarray) -> dict[str, float]:
    """``{"sig", "bak", "ovrl"}`` DNSMOS P.835 scores of mono 16 kHz ``audio``."""
    audio = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    key = hashlib.sha1(audio.tobytes()).hexdigest()
    if key in _cache:
        return _cache[key]
    try:
        result = _load_model()(audio, SAMPLE_RATE, False)
    except MetricError:
        raise
    except Exception as exc:  # the model or its feature code failed on this clip
        raise MetricError(f"dnsmos failed: {type(exc).__name__}: {exc}") from None
    scores = {"sig": float(result["sig_mos"]), "bak": float(result["bak_mos"]),
              "ovrl": float(result["ovrl_mos"])}
    if not all(np.isfinite(value) for value in scores.values()):
        raise MetricError("dnsmos gave a value that is not finite (silent clip?)")
    _cache[key] = scores
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return scores


def at_level(audio: np.ndarray, level_dbfs: float = NORM_LEVEL_DBFS) -> np.ndarray:
    """``audio`` scaled to ``level_dbfs`` RMS (a silent clip is an error)."""
    level = rms_db(audio)
    if level < SILENCE_RMS_DB:
        raise MetricError(f"undefined: silent (below {SILENCE_RMS_DB:g} dBFS RMS)")
    return np.asarray(audio) * 10.0 ** ((level_dbfs - level) / 20.0)


def _register(name: str, key: str, label: str, normalise: bool) -> None:
    def compute(reference: np.ndarray | None, estimate: np.ndarray, sample_rate: int) -> float:
        return dnsmos_scores(at_level(estimate) if normalise else estimate)[key]

    level = f", scaled to {NORM_LEVEL_DBFS:g} dBFS RMS first" if normalise else ""
    compute.__doc__ = f"DNSMOS P.835 {label} quality (1 .. 5), non-intrusive, at 16 kHz{level}."
    register_metric(name, intrusive=False, higher_is_better=True, package="speechmos",
                    sample_rate=SAMPLE_RATE, unit="MOS", min_duration_s=MIN_DURATION_S,
                    requires=_REQUIRES, extra="dnsmos",
                    rate_note=f"level-matched: {NORM_LEVEL_DBFS:g} dBFS RMS" if normalise else "")(compute)


for _normalise in (False, True):
    _suffix = "_norm" if _normalise else ""
    _register(f"dnsmos_sig{_suffix}", "sig", "speech signal", _normalise)
    _register(f"dnsmos_bak{_suffix}", "bak", "background", _normalise)
    _register(f"dnsmos_ovrl{_suffix}", "ovrl", "overall", _normalise)
