"""Degradations of a phone recording: band, microphone, clipping, packet loss, AGC, level.

Noise, reverberation and codecs live in :mod:`aural.degrade.noise`,
:mod:`aural.degrade.reverb` and :mod:`aural.degrade.codecs`.

Every transform keeps the input's shape and sample alignment: filters are zero-phase,
room impulse responses are shifted so their direct path lands on sample 0, resampling is
soxr's linear-phase VHQ. Parameters that depend on the signal level (noise gain, clipping
drive) are fixed at draw time from the clean input's active speech level, so ``apply`` is a
pure function of the audio and the recorded parameters.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import scipy.signal
import torch

from aural.degrade.base import (TRANSFORMS, DrawContext, Params, Transform, choice, db_to_gain, fit_length,
                                log_uniform, uniform)
from aural.degrade.impulse import DIRECT_WINDOW_S, convolve_aligned, measured_ir, to_numpy, to_tensor
from aural.dsp import filters
from aural.dsp.resample import resample


# -- band limiting ------------------------------------------------------------------------------
@TRANSFORMS.register("band_limit")
class BandLimit(Transform):
    """Resample down to ``band_rate`` and back: the band of a narrow-band channel."""

    name = "band_limit"

    def __init__(self, band_rates: Sequence[int] | dict[int, float] = (8000, 11025, 16000, 22050)):
        self.band_rates = band_rates

    def draw(self, rng: np.random.Generator, context: DrawContext) -> Params:
        return {"band_rate": int(choice(rng, self.band_rates))}

    def apply(self, audio, sample_rate, params, *, offset_samples=0, resources=None):
        band_rate = int(params["band_rate"])
        if band_rate >= sample_rate:
            return audio
        low = resample(audio, sample_rate, band_rate)
        return fit_length(resample(low, band_rate, sample_rate), audio.shape[-1])

    def context_samples(self, params, sample_rate):
        pad = int(math.ceil(0.05 * sample_rate))
        return pad, pad


# -- microphone / device frequency response -----------------------------------------------------
MAX_MIC_IR_S = 0.05


def response_fir(params: Params, sample_rate: int) -> np.ndarray:
    """A zero-phase (odd, centred) FIR with the magnitude of the parametric response."""
    nyquist = sample_rate / 2.0
    lowest = max(20.0, float(params.get("highpass_hz") or 100.0))
    num_taps = min(8191, int(6 * sample_rate / lowest)) | 1
    n_grid = 1 << int(math.ceil(math.log2(4 * num_taps)))
    freqs = np.arange(n_grid // 2 + 1) * sample_rate / n_grid
    sections = []
    if params.get("highpass_hz") and params["highpass_hz"] < nyquist * 0.95:
        sections.append(scipy.signal.butter(int(params["highpass_order"]), params["highpass_hz"],
                                            "highpass", fs=sample_rate, output="sos"))
    if params.get("lowpass_hz") and params["lowpass_hz"] < nyquist * 0.95:
        sections.append(scipy.signal.butter(int(params["lowpass_order"]), params["lowpass_hz"],
                                            "lowpass", fs=sample_rate, output="sos"))
    for peak in params.get("peaks", ()):
        if peak["freq_hz"] < nyquist * 0.95:
            sections.append(filters.peaking(peak["freq_hz"], peak["gain_db"], sample_rate, peak["q"]))
    magnitude = np.ones(len(freqs))
    if sections:
        _, h = scipy.signal.sosfreqz(np.concatenate(sections), worN=freqs, fs=sample_rate)
        magnitude = np.abs(h)
    impulse = np.fft.irfft(magnitude, n_grid)
    half = num_taps // 2
    kernel = np.concatenate([impulse[-half:], impulse[:half + 1]]) * np.hanning(num_taps + 2)[1:-1]
    return kernel


@TRANSFORMS.register("mic_response")
class MicResponse(Transform):
    """A phone or laptop microphone: high-pass, presence peaks, optional low-pass.

    With a folder of measured microphone impulse responses (``resources.mic_ir``), a
    measured response is used with probability ``measured_probability``.
    """

    name = "mic_response"

    def __init__(self, highpass_hz: Sequence[float] = (100.0, 400.0), highpass_orders=(2, 4),
                 num_peaks: Sequence[int] = (1, 2), peak_hz: Sequence[float] = (1500.0, 5000.0),
                 peak_gain_db: Sequence[float] = (2.0, 8.0), peak_q: Sequence[float] = (0.7, 2.5),
                 lowpass_probability: float = 0.5, lowpass_hz: Sequence[float] = (5000.0, 9000.0),
                 lowpass_orders=(2, 4), measured_probability: float = 0.5):
        self.highpass_hz = highpass_hz
        self.highpass_orders = highpass_orders
        self.num_peaks = num_peaks
        self.peak_hz = peak_hz
        self.peak_gain_db = peak_gain_db
        self.peak_q = peak_q
        self.lowpass_probability = lowpass_probability
        self.lowpass_hz = lowpass_hz
        self.lowpass_orders = lowpass_orders
        self.measured_probability = measured_probability

    def draw(self, rng, context):
        bank = context.resources.mic_ir
        if bank is not None and rng.random() < self.measured_probability:
            rel = choice(rng, bank.files)
            channel = int(rng.integers(bank.info(rel).num_channels))
            return {"kind": "measured", "file": rel, "channel": channel}
        peaks = [{"freq_hz": log_uniform(rng, self.peak_hz), "gain_db": uniform(rng, self.peak_gain_db, 2),
                  "q": uniform(rng, self.peak_q, 2)}
                 for _ in range(int(rng.integers(self.num_peaks[0], self.num_peaks[1] + 1)))]
        lowpass = rng.random() < self.lowpass_probability
        return {"kind": "parametric",
                "highpass_hz": log_uniform(rng, self.highpass_hz),
                "highpass_order": int(choice(rng, self.highpass_orders)),
                "peaks": peaks,
                "lowpass_hz": log_uniform(rng, self.lowpass_hz) if lowpass else None,
                "lowpass_order": int(choice(rng, self.lowpass_orders))}

    def apply(self, audio, sample_rate, params, *, offset_samples=0, resources=None):
        if params["kind"] == "measured":
            kernel, _, delay = measured_ir(resources, params["file"], int(params["channel"]),
                                            sample_rate, MAX_MIC_IR_S)
            at_1k = abs(np.sum(kernel * np.exp(-2j * np.pi * 1000.0 / sample_rate
                                               * (np.arange(len(kernel)) - delay))))
            return convolve_aligned(audio, kernel / max(at_1k, 1e-6), delay)
        kernel = response_fir(params, sample_rate)
        return convolve_aligned(audio, kernel, len(kernel) // 2)

    def context_samples(self, params, sample_rate):
        if params["kind"] == "measured":
            return (int(math.ceil(MAX_MIC_IR_S * sample_rate)),
                    int(math.ceil((0.001 + DIRECT_WINDOW_S) * sample_rate)) + 1)
        half = len(response_fir(params, sample_rate)) // 2
        return half, half


# -- clipping -------------------------------------------------------------------------------
@TRANSFORMS.register("clipping")
class Clipping(Transform):
    """Hard or soft (tanh) clipping, with the level restored after the clip.

    ``headroom_db``: how far full scale sits above the active speech level when it clips
    (speech peaks run 12-20 dB above its active level, so 6 dB clips hard, 18 dB barely).
    """

    name = "clipping"
    MAX_DRIVE_DB = 60.0

    def __init__(self, headroom_db: Sequence[float] = (6.0, 18.0),
                 modes: Sequence[str] | dict[str, float] = ("hard", "soft")):
        self.headroom_db = headroom_db
        self.modes = modes

    def draw(self, rng, context):
        headroom = uniform(rng, self.headroom_db, 2)
        drive = min(self.MAX_DRIVE_DB, -headroom - context.speech_level_db)
        return {"mode": str(choice(rng, self.modes)), "headroom_db": headroom, "drive_db": round(drive, 3)}

    def apply(self, audio, sample_rate, params, *, offset_samples=0, resources=None):
        drive = db_to_gain(params["drive_db"])
        if params["mode"] == "soft":
            return torch.tanh(audio * drive) / drive
        return (audio * drive).clamp(-1.0, 1.0) / drive


# -- packet loss ----------------------------------------------------------------------------
MAX_REPEATS = 4


def gilbert_losses(rng: np.random.Generator, num_packets: int, loss_rate: float,
                   mean_burst_packets: float) -> list[int]:
    """Lost packet indices from a two-state (Gilbert) model with the given mean loss and burst."""
    if loss_rate <= 0 or num_packets <= 0:
        return []
    p_recover = 1.0 / max(1.0, mean_burst_packets)
    p_lose = min(1.0, loss_rate * p_recover / max(1e-9, 1.0 - loss_rate))
    lost, pos = [], int(rng.geometric(p_lose)) - 1
    while pos < num_packets:
        burst = int(rng.geometric(p_recover))
        lost.extend(range(pos, min(pos + burst, num_packets)))
        pos += burst + int(rng.geometric(p_lose))
    return lost


def _bursts(lost: np.ndarray) -> list[tuple[int, int]]:
    if lost.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(lost) != 1)
    starts = np.concatenate([[lost[0]], lost[breaks + 1]])
    ends = np.concatenate([lost[breaks], [lost[-1]]]) + 1
    return list(zip(starts.tolist(), ends.tolist()))


@TRANSFORMS.register("packet_loss")
class PacketLoss(Transform):
    """Lost 20 ms packets with simple concealment.

    ``repeat``: the last good packet is repeated, halved in level with each further loss
    and muted after four, each copy faded in and out over ``fade_ms``. ``zero``: silence,
    with the neighbouring good packets faded out and in over ``fade_ms``.
    """

    name = "packet_loss"

    def __init__(self, loss_rate: Sequence[float] = (0.0, 0.05), mean_burst_packets: Sequence[float] = (1.0, 3.0),
                 concealment: Sequence[str] | dict[str, float] = ("repeat", "zero"),
                 packet_ms: float = 20.0, fade_ms: Sequence[float] = (1.0, 5.0)):
        self.loss_rate = loss_rate
        self.mean_burst_packets = mean_burst_packets
        self.concealment = concealment
        self.packet_ms = packet_ms
        self.fade_ms = fade_ms

    def draw(self, rng, context):
        packet = int(round(self.packet_ms * context.sample_rate / 1000.0))
        num_packets = -(-context.num_samples // packet)
        loss_rate = uniform(rng, self.loss_rate, 4)
        burst = uniform(rng, self.mean_burst_packets, 2)
        return {"packet_ms": self.packet_ms, "loss_rate": loss_rate, "mean_burst_packets": burst,
                "concealment": str(choice(rng, self.concealment)), "fade_ms": uniform(rng, self.fade_ms, 2),
                "lost_packets": gilbert_losses(rng, num_packets, loss_rate, burst)}

    def apply(self, audio, sample_rate, params, *, offset_samples=0, resources=None):
        lost = np.asarray(params["lost_packets"], dtype=np.int64)
        if lost.size == 0:
            return audio
        packet = int(round(params["packet_ms"] * sample_rate / 1000.0))
        fade = max(1, min(packet // 2, int(round(params["fade_ms"] * sample_rate / 1000.0))))
        n = audio.shape[-1]
        first, last = offset_samples // packet - MAX_REPEATS - 1, (offset_samples + n) // packet + 1
        lost = lost[(lost >= first) & (lost <= last)]
        x = to_numpy(audio)
        y = x.copy()
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)  # 0 -> 1
        for k0, k1 in _bursts(lost):
            start, stop = k0 * packet - offset_samples, k1 * packet - offset_samples
            if params["concealment"] == "zero":
                y[:, max(0, start):max(0, min(n, stop))] = 0.0
                _fade(y, start - fade, ramp[::-1])
                _fade(y, stop, ramp)
                continue
            src = start - packet
            source = x[:, src:start] if src >= 0 else np.zeros((x.shape[0], packet), np.float32)
            copy = source.copy()
            copy[:, :fade] *= ramp
            copy[:, -fade:] *= ramp[::-1]
            for j in range(k1 - k0):
                at = start + j * packet
                level = 0.5 ** j if j < MAX_REPEATS else 0.0
                lo, hi = max(0, at), min(n, at + packet)
                if lo < hi:
                    y[:, lo:hi] = copy[:, lo - at:hi - at] * level
        return to_tensor(y)

    def context_samples(self, params, sample_rate):
        packet = int(round(params["packet_ms"] * sample_rate / 1000.0))
        return (MAX_REPEATS + 2) * packet, 2 * packet


def _fade(y: np.ndarray, at: int, ramp: np.ndarray) -> None:
    """Multiply ``y[:, at:at+len(ramp)]`` by ``ramp``, clipped to the array."""
    lo, hi = max(0, at), min(y.shape[1], at + len(ramp))
    if lo < hi:
        y[:, lo:hi] *= ramp[lo - at:hi - at]


# -- automatic gain control ---------------------------------------------------------------
@TRANSFORMS.register("agc")
class AutomaticGainControl(Transform):
    """Phone AGC: gain riding towards ``target_db`` with fast attack and slow release.

    The gain follows the level of a ``window_ms`` moving RMS every millisecond, boosting
    up to ``max_gain_db`` in pauses (the noise floor pumps up) and clamping down within
    ``attack_ms`` when speech returns.
    """

    name = "agc"

    def __init__(self, target_db: Sequence[float] = (-22.0, -14.0), max_gain_db: Sequence[float] = (6.0, 20.0),
                 max_cut_db: float = 30.0, attack_ms: Sequence[float] = (2.0, 20.0),
                 release_ms: Sequence[float] = (150.0, 1000.0), window_ms: Sequence[float] = (5.0, 20.0)):
        self.target_db = target_db
        self.max_gain_db = max_gain_db
        self.max_cut_db = max_cut_db
        self.attack_ms = attack_ms
        self.release_ms = release_ms
        self.window_ms = window_ms

    def draw(self, rng, context):
        return {"target_db": uniform(rng, self.target_db, 2), "max_gain_db": uniform(rng, self.max_gain_db, 2),
                "max_cut_db": self.max_cut_db, "attack_ms": log_uniform(rng, self.attack_ms, 2),
                "release_ms": log_uniform(rng, self.release_ms, 1), "window_ms": uniform(rng, self.window_ms, 1)}

    def gain_db(self, audio: torch.Tensor, sample_rate: int, params: Params, offset_samples: int) -> np.ndarray:
        """Per-sample gain in dB."""
        n = audio.shape[-1]
        hop = max(1, int(round(sample_rate / 1000.0)))
        window = max(1, int(round(params["window_ms"] * sample_rate / 1000.0)))
        power = audio.detach().double().pow(2).mean(dim=0).numpy()
        cumulative = np.concatenate([[0.0], np.cumsum(power)])
        first = (-offset_samples) % hop  # frames on the absolute 1 ms grid
        centres = np.arange(first, n, hop)
        hi = np.minimum(centres + window // 2 + 1, n)
        lo = np.maximum(centres - window // 2, 0)
        level = (cumulative[hi] - cumulative[lo]) / np.maximum(hi - lo, 1)
        level_db = 10.0 * np.log10(level + 1e-12)
        desired = np.clip(params["target_db"] - level_db, -params["max_cut_db"], params["max_gain_db"]).tolist()
        hop_ms = hop * 1000.0 / sample_rate
        attack = 1.0 - math.exp(-hop_ms / params["attack_ms"])
        release = 1.0 - math.exp(-hop_ms / params["release_ms"])
        gains, g = [], 0.0
        for d in desired:
            g += (d - g) * (attack if d < g else release)
            gains.append(g)
        if len(centres) == 0:
            return np.zeros(n)
        return np.interp(np.arange(n), centres, np.asarray(gains))

    def apply(self, audio, sample_rate, params, *, offset_samples=0, resources=None):
        gain = 10.0 ** (self.gain_db(audio, sample_rate, params, offset_samples) / 20.0)
        return audio * torch.from_numpy(gain.astype(np.float32))[None, :]

    def context_samples(self, params, sample_rate):
        return int(math.ceil(5 * params["release_ms"] * sample_rate / 1000.0)), 0


# -- level changes --------------------------------------------------------------------------
@TRANSFORMS.register("level")
class LevelChange(Transform):
    """A static gain plus level steps (the talker moving, the phone changing hands).

    ``changes`` lists ``[time_s, gain_db]``: from ``time_s`` on, the gain ramps to
    ``gain_db`` over ``ramp_ms``.
    """

    name = "level"
    MAX_CHANGES = 1000

    def __init__(self, gain_db: Sequence[float] = (-6.0, 6.0), changes_per_minute: float = 2.0,
                 change_db: Sequence[float] = (-8.0, 4.0), ramp_ms: Sequence[float] = (20.0, 300.0)):
        self.gain_db = gain_db
        self.changes_per_minute = changes_per_minute
        self.change_db = change_db
        self.ramp_ms = ramp_ms

    def draw(self, rng, context):
        duration_s = context.num_samples / context.sample_rate
        count = min(self.MAX_CHANGES, int(rng.poisson(self.changes_per_minute * duration_s / 60.0)))
        times = np.sort(rng.uniform(0.0, duration_s, count))
        base = uniform(rng, self.gain_db, 2)
        changes = [[round(float(t), 3), round(base + uniform(rng, self.change_db, 2), 2)] for t in times]
        return {"gain_db": base, "changes": changes, "ramp_ms": uniform(rng, self.ramp_ms, 1)}

    def apply(self, audio, sample_rate, params, *, offset_samples=0, resources=None):
        n = audio.shape[-1]
        ramp = params["ramp_ms"] * sample_rate / 1000.0
        xs, ys, level = [0.0], [params["gain_db"]], params["gain_db"]
        for time_s, gain_db in params["changes"]:
            at = time_s * sample_rate
            xs += [max(at, xs[-1]), max(at + ramp, xs[-1])]
            ys += [level, gain_db]
            level = gain_db
        positions = np.arange(offset_samples, offset_samples + n, dtype=np.float64)
        gain = 10.0 ** (np.interp(positions, xs, ys) / 20.0)
        return audio * torch.from_numpy(gain.astype(np.float32))[None, :]


def describe(records: Sequence[Params]) -> dict[str, Any]:
    """The headline facts of a drawn chain (for manifests): noise file, RIR, codec, ..."""
    summary: dict[str, Any] = {"transforms": [r["transform"] for r in records]}
    for record in records:
        p = record["params"]
        if record["transform"] == "noise":
            summary.update(noise=p.get("file") or f"synthetic {p['colour']}",
                           noise_offset_frames=p.get("offset_frames"), snr_db=p["snr_db"])
        elif record["transform"] == "reverb":
            summary["rir"] = p.get("file") or f"synthetic rt60 {p['rt60_s']} s"
        elif record["transform"] == "codec":
            summary["codec"] = p["codec"]
            if "replaces" in p:
                summary["codec_replaces"] = p["replaces"]
        elif record["transform"] == "band_limit":
            summary["band_rate"] = p["band_rate"]
        elif record["transform"] == "packet_loss":
            summary["packets_lost"] = len(p["lost_packets"])
    return summary
