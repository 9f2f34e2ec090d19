"""Impulse responses: aligned convolution and measured responses read from a folder."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import scipy.signal
import torch

from aural.degrade.base import Resources
from aural.dsp.resample import resample
from aural.errors import UsageError

DIRECT_THRESHOLD = 0.3  # the direct path: the first arrival within -10.5 dB of the strongest
DIRECT_WINDOW_S = 0.0025  # a measured direct sound: up to 2.5 ms after the direct path


def to_numpy(audio: torch.Tensor) -> np.ndarray:
    return audio.detach().cpu().numpy().astype(np.float32, copy=False)


def to_tensor(audio: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))


def convolve_aligned(audio: torch.Tensor, kernel: np.ndarray, delay: int) -> torch.Tensor:
    """Convolve every channel with ``kernel`` and drop ``delay`` samples: same length out."""
    x = to_numpy(audio).astype(np.float64)
    full = scipy.signal.oaconvolve(x, kernel[None, :].astype(np.float64), mode="full", axes=1)
    return to_tensor(full[:, delay:delay + x.shape[1]])


def needs(resources: Resources | None, attr: str, transform: str):
    bank = getattr(resources, attr, None) if resources is not None else None
    if bank is None:
        raise UsageError(f"{transform}: these parameters read a file from the {attr} folder, "
                         f"but no {attr} folder was given")
    return bank


_IR_CACHE: OrderedDict[tuple, tuple[np.ndarray, int, int]] = OrderedDict()


def measured_ir(resources: Resources | None, rel: str, channel: int, sample_rate: int,
                 max_length_s: float, what: str = "mic_ir") -> tuple[np.ndarray, int, int]:
    """A measured impulse response at ``sample_rate``, cut to start 1 ms before its direct path.

    Returns ``(kernel, direct, delay)``: ``direct`` indexes the direct path (the largest
    sample within 1 ms of the first one reaching ``DIRECT_THRESHOLD`` of the peak);
    ``delay`` the sample a microphone response aligns on, the peak of the direct sound in
    the speech band (150-3000 Hz, zero-phase) up to 2.5 ms after the direct path (a
    measured direct sound is a wavelet whose low frequencies can trail its first spike).
    The kernel's sign is flipped if needed so the direct path is positive (measurement
    chains invert).
    """
    bank = needs(resources, what, "mic_response" if what == "mic_ir" else "reverb")
    key = (what, str(bank.root), rel, channel, sample_rate, max_length_s)
    if key in _IR_CACHE:
        _IR_CACHE.move_to_end(key)
        return _IR_CACHE[key]
    signal = bank.read(rel)
    h = signal.audio[min(channel, signal.num_channels - 1):][:1]
    h = to_numpy(resample(h, signal.sample_rate, sample_rate))[0].astype(np.float64)
    magnitude = np.abs(h)
    first = int(np.argmax(magnitude >= DIRECT_THRESHOLD * magnitude.max()))
    window = max(1, int(round(0.001 * sample_rate)))
    direct = first + int(np.argmax(magnitude[first:first + window]))
    pre = min(direct, window)
    max_len = max(pre + 1, int(round(max_length_s * sample_rate)))
    h = h[direct - pre:direct - pre + max_len].copy()
    if h[pre] < 0:  # a measurement's polarity is arbitrary: keep the direct sound upright
        h = -h
    fade = max(1, len(h) // 10)
    if len(h) == max_len:  # cut short: fade the cut out
        h[-fade:] *= np.hanning(2 * fade)[fade:]
    window_end = pre + int(round(DIRECT_WINDOW_S * sample_rate)) + 1
    delay = int(np.argmax(np.abs(speech_band(h[:2 * window_end], sample_rate)[:window_end])))
    _IR_CACHE[key] = (h, pre, delay)
    if len(_IR_CACHE) > 32:
        _IR_CACHE.popitem(last=False)
    return h, pre, delay


def speech_band(h: np.ndarray, sample_rate: int) -> np.ndarray:
    """``h`` band-passed to 150-3000 Hz without phase shift."""
    if len(h) < 16:
        return h
    high = min(3000.0, 0.45 * sample_rate)
    sos = scipy.signal.butter(2, [150.0, high], "bandpass", fs=sample_rate, output="sos")
    padded = np.concatenate([np.zeros(len(h)), h, np.zeros(len(h))])
    return scipy.signal.sosfiltfilt(sos, padded)[len(h):2 * len(h)]



