"""Codec round trips: G.711 and bit-depth reduction in process, GSM/AMR/Opus/AAC/MP3 via ffmpeg.

Each round trip resamples to the codec's rate, encodes, decodes and resamples back, and
the output stays sample-aligned with the input: the containers used (Ogg, MP3 with its
LAME header, MP4) carry the encoder priming that ffmpeg's decoders trim, and a
cross-correlation check corrects any remaining integer delay at the codec rate.

Where ffmpeg (or one encoder) is missing, the codec is replaced when parameters are drawn:
AMR by GSM, the others by ``spectral``, an in-process lossy approximation (20 ms STFT
frames keeping as many quantised coefficients as the bitrate pays for). The replacement
is recorded in the parameters (``replaces``, ``reason``) and the missing ffmpeg is logged
once per process.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from typing import Callable, Sequence

import numpy as np
import torch

from aural.degrade.base import TRANSFORMS, Params, Transform, choice, fit_length, uniform
from aural.dsp.resample import resample
from aural.errors import StageError, warn_once

logger = logging.getLogger("aural.degrade")

COMMON_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
FFMPEG_CODECS: dict[str, dict] = {
    "gsm": {"encoder": "libgsm", "rates": (8000,), "mono": True, "format": "gsm", "suffix": ".gsm",
            "bitrate_kbps": None},
    "amr_nb": {"encoder": "libopencore_amrnb", "rates": (8000,), "mono": True, "format": "amr",
               "suffix": ".amr", "bitrate_kbps": (4.75, 5.15, 5.9, 6.7, 7.4, 7.95, 10.2, 12.2)},
    "opus": {"encoder": "libopus", "rates": (8000, 12000, 16000, 24000, 48000), "mono": False,
             "format": "ogg", "suffix": ".ogg", "bitrate_kbps": (6.0, 24.0),
             "options": ["-application", "voip", "-frame_duration", "20", "-vbr", "on"]},
    "aac": {"encoder": "aac", "rates": COMMON_RATES, "mono": False, "format": "ipod", "suffix": ".m4a",
            "bitrate_kbps": (24.0, 96.0)},
    "mp3": {"encoder": "libmp3lame", "rates": COMMON_RATES, "mono": False, "format": "mp3",
            "suffix": ".mp3", "bitrate_kbps": (32.0, 128.0)},
}
IN_PROCESS_CODECS = ("mulaw", "alaw", "bit_depth", "spectral")
CODECS = tuple(FFMPEG_CODECS) + IN_PROCESS_CODECS
MAX_LAG_S = 0.1
FINE_LAG_S = 0.0005
SPECTRAL_BITRATE_KBPS = (8.0, 64.0)


class CodecError(StageError):
    """An ffmpeg round trip that failed."""


# -- finding ffmpeg -----------------------------------------------------------------------
def find_ffmpeg() -> str | None:
    """The ffmpeg binary (``$AURAL_FFMPEG`` or ``ffmpeg`` on the PATH), or ``None``."""
    return shutil.which(os.environ.get("AURAL_FFMPEG", "ffmpeg"))


MISSING_FFMPEG = ("ffmpeg not found: GSM, AMR, Opus, AAC and MP3 codec steps are replaced by in-process "
                  "approximations (recorded in the manifest); install ffmpeg for the real codecs")


def warn_missing_ffmpeg(emit: Callable[[str], None] | None = None) -> None:
    """The one warning per process that ffmpeg is missing (``emit``: how to show it)."""
    warn_once("ffmpeg", MISSING_FFMPEG, emit or logger.warning)


@lru_cache(maxsize=8)
def ffmpeg_encoders(ffmpeg: str) -> frozenset[str]:
    """The audio encoders this ffmpeg build offers."""
    try:
        out = subprocess.run([ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True,
                             timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0].startswith("A"):
            names.add(parts[1])
    return frozenset(names)


@lru_cache(maxsize=8)
def ffmpeg_version(ffmpeg: str) -> str:
    try:
        out = subprocess.run([ffmpeg, "-hide_banner", "-version"], capture_output=True, text=True,
                             timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    first = out.splitlines()[0] if out else ""
    return first.split()[2] if first.startswith("ffmpeg version") and len(first.split()) > 2 else first


def unavailable(codec: str, ffmpeg: str | None) -> str | None:
    """Why ``codec`` cannot run here, or ``None`` when it can."""
    if codec not in FFMPEG_CODECS:
        return None
    if ffmpeg is None:
        return "ffmpeg not found"
    encoder = FFMPEG_CODECS[codec]["encoder"]
    if encoder not in ffmpeg_encoders(ffmpeg):
        return f"ffmpeg has no {encoder} encoder"
    return None


def codec_rate(codec: str, sample_rate: int) -> int:
    """The rate a codec runs at for audio at ``sample_rate``: the lowest allowed rate not below it."""
    if codec in ("mulaw", "alaw", "gsm", "amr_nb"):
        return 8000
    if codec == "bit_depth":
        return sample_rate
    rates = FFMPEG_CODECS[codec]["rates"] if codec in FFMPEG_CODECS else COMMON_RATES
    above = [r for r in rates if r >= sample_rate]
    return min(above) if above else max(rates)


# -- alignment ------------------------------------------------------------------------------
def estimate_lag(output: np.ndarray, reference: np.ndarray, max_lag: int, fine_lag: int = 0) -> int:
    """Delay of ``output`` behind ``reference`` (samples), by cross-correlation.

    The correlation peak within ``fine_lag`` of 0 always counts (a resampler inside a codec
    can leave a few samples); a farther lag only when its correlation beats lag 0 by half
    again, so periodic or silent material never shifts a correctly aligned output far.
    """
    y, x = output.mean(axis=0).astype(np.float64), reference.mean(axis=0).astype(np.float64)
    n = min(len(x), len(y))
    if n == 0 or max_lag <= 0:
        return 0
    x, y = x[:n], y[:n]
    size = 1 << int(math.ceil(math.log2(2 * n + 1)))
    corr = np.fft.irfft(np.fft.rfft(y, size) * np.conj(np.fft.rfft(x, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    values = corr[lags % size]
    near = np.abs(lags) <= fine_lag
    base = int(lags[near][np.argmax(values[near])]) if values[near].max() > 0 else 0
    base_value = values[lags == base][0]
    best = int(np.argmax(values))
    if values[best] > 0 and values[best] > 1.5 * max(base_value, 0.0):
        return int(lags[best])
    return base


def shift(audio: np.ndarray, lag: int) -> np.ndarray:
    """Advance ``audio`` by ``lag`` samples (negative: delay), zero-filling."""
    if lag == 0:
        return audio
    out = np.zeros_like(audio)
    if lag > 0:
        out[:, :audio.shape[1] - lag] = audio[:, lag:]
    else:
        out[:, -lag:] = audio[:, :audio.shape[1] + lag]
    return out


# -- ffmpeg round trip ----------------------------------------------------------------------
def ffmpeg_round_trip(audio: np.ndarray, sample_rate: int, codec: str, bitrate_kbps: float | None,
                      ffmpeg: str) -> np.ndarray:
    """Encode and decode ``(channels, samples)`` float32 audio at ``sample_rate``; aligned output."""
    spec = FFMPEG_CODECS[codec]
    if spec["mono"] and audio.shape[0] > 1:
        return np.concatenate([ffmpeg_round_trip(audio[c:c + 1], sample_rate, codec, bitrate_kbps, ffmpeg)
                               for c in range(audio.shape[0])])
    channels, n = audio.shape
    timeout = 60.0 + 10.0 * n / sample_rate
    quiet = [ffmpeg, "-hide_banner", "-loglevel", "error", "-threads", "1"]
    with tempfile.TemporaryDirectory(prefix="aural-codec-") as folder:
        coded = os.path.join(folder, "coded" + spec["suffix"])
        encode = [*quiet, "-y", "-f", "f32le", "-ar", str(sample_rate), "-ac", str(channels), "-i", "pipe:0",
                  "-c:a", spec["encoder"]]
        if bitrate_kbps is not None:
            encode += ["-b:a", f"{int(round(bitrate_kbps * 1000))}"]
        encode += [*spec.get("options", []), "-f", spec["format"], coded]
        raw_in = np.ascontiguousarray(np.clip(audio, -1.0, 1.0).T, dtype="<f4").tobytes()
        _run(encode, raw_in, timeout, codec)
        decode = [*quiet, "-nostdin"]
        if spec["format"] == "gsm":
            decode += ["-f", "gsm", "-ar", str(sample_rate)]
        decode += ["-i", coded, "-f", "f32le", "-ac", str(channels), "-ar", str(sample_rate), "pipe:1"]
        raw_out = _run(decode, None, timeout, codec)
    decoded = np.frombuffer(raw_out, dtype="<f4").reshape(-1, channels).T.astype(np.float32)
    if decoded.shape[1] < n:
        decoded = np.pad(decoded, ((0, 0), (0, n - decoded.shape[1])))
    lag = estimate_lag(decoded, audio, int(MAX_LAG_S * sample_rate), int(round(FINE_LAG_S * sample_rate)))
    return np.ascontiguousarray(shift(decoded, lag)[:, :n])


def _run(command: list[str], stdin: bytes | None, timeout: float, codec: str) -> bytes:
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CodecError(f"ffmpeg {codec} round trip took longer than {timeout:.0f} s") from None
    except OSError as exc:
        raise CodecError(f"cannot run ffmpeg for {codec}: {exc}") from None
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        raise CodecError(f"ffmpeg {codec} round trip failed: {detail[-1] if detail else done.returncode}")
    return done.stdout


# -- in-process codecs ----------------------------------------------------------------------
MU = 255.0
A_LAW = 87.6


def g711(audio: np.ndarray, law: str) -> np.ndarray:
    """8-bit companding round trip (continuous mu-law or A-law curves, 8-bit codes)."""
    x = np.clip(audio.astype(np.float64), -1.0, 1.0)
    magnitude = np.abs(x)
    if law == "mulaw":
        y = np.log1p(MU * magnitude) / math.log1p(MU)
    else:
        small = magnitude < 1.0 / A_LAW
        y = np.where(small, A_LAW * magnitude, 1.0 + np.log(np.maximum(A_LAW * magnitude, 1.0)))
        y /= 1.0 + math.log(A_LAW)
    y = np.round(y * 127.0) / 127.0
    if law == "mulaw":
        magnitude = np.expm1(y * math.log1p(MU)) / MU
    else:
        scaled = y * (1.0 + math.log(A_LAW))
        magnitude = np.where(scaled < 1.0, scaled / A_LAW, np.exp(scaled - 1.0) / A_LAW)
    return (np.sign(x) * magnitude).astype(np.float32)


def reduce_bit_depth(audio: np.ndarray, bits: int) -> np.ndarray:
    """Round to ``bits``-bit integers without dither (the truncation distortion is the point)."""
    steps = float(2 ** (bits - 1))
    return (np.clip(np.round(audio.astype(np.float64) * steps), -steps, steps - 1) / steps).astype(np.float32)


BITS_PER_COEFFICIENT = 6.0
MAGNITUDE_STEP_DB = 1.5
PHASE_LEVELS = 16


def spectral_lossy(audio: np.ndarray, sample_rate: int, bitrate_kbps: float) -> np.ndarray:
    """An in-process stand-in for a lossy codec at ``bitrate_kbps``.

    20 ms STFT frames (sqrt-Hann, half overlap: perfect reconstruction); per frame only the
    strongest coefficients the bitrate pays for survive (at ``BITS_PER_COEFFICIENT`` each),
    with magnitudes quantised in 1.5 dB steps and phases to 16 levels. The spectral holes
    and quantisation give the warbling of low-bitrate codecs; timing is unchanged.
    """
    n_fft = 2 * max(8, int(round(0.01 * sample_rate)))
    hop_length = n_fft // 2
    window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64).sqrt()
    x = torch.from_numpy(audio.astype(np.float64))
    spec = torch.stft(x, n_fft, hop_length, window=window, center=True, return_complex=True)
    num_bins = spec.shape[-2]
    keep = int(np.clip(bitrate_kbps * 1000.0 * hop_length / sample_rate / BITS_PER_COEFFICIENT, 1, num_bins))
    magnitude = spec.abs()
    threshold = magnitude.topk(keep, dim=-2).values[..., -1:, :]
    mask = magnitude >= threshold
    level_db = 20.0 * torch.log10(magnitude.clamp_min(1e-9))
    magnitude_q = 10.0 ** (torch.round(level_db / MAGNITUDE_STEP_DB) * MAGNITUDE_STEP_DB / 20.0)
    phase_step = 2.0 * math.pi / PHASE_LEVELS
    phase_q = torch.round(spec.angle() / phase_step) * phase_step
    coded = torch.polar(magnitude_q * mask, phase_q)
    out = torch.istft(coded, n_fft, hop_length, window=window, center=True, length=x.shape[-1])
    return out.numpy().astype(np.float32)


def fallback(codec: str, bitrate_kbps: float | None, sample_rate: int) -> Params:
    """In-process parameters standing in for an ffmpeg codec."""
    if codec in ("gsm", "amr_nb"):
        return {"codec": "spectral", "codec_rate": 8000, "bitrate_kbps": float(bitrate_kbps or 13.0)}
    rate = codec_rate(codec, sample_rate)
    if codec == "opus":  # Opus at these rates runs narrow-, wide- or super-wideband
        band = 8000 if bitrate_kbps < 9 else 16000 if bitrate_kbps < 16 else 24000
        rate = min(rate, band)
    return {"codec": "spectral", "codec_rate": rate, "bitrate_kbps": float(bitrate_kbps)}


@TRANSFORMS.register("codec")
class Codec(Transform):
    """A codec round trip drawn from ``codecs`` (a name -> weight mapping or a list).

    ``bitrate_kbps`` maps codec names to a range (or, for AMR, the list of its modes);
    ``bits`` is the range of ``bit_depth``; ``codec_rates`` overrides a codec's rate (an
    8-bit mu-law file at 11.025 kHz, say; the ffmpeg codecs keep to the rates they allow).
    """

    name = "codec"

    def __init__(self, codecs: Sequence[str] | dict[str, float] = ("mulaw",),
                 bitrate_kbps: dict[str, Sequence[float]] | None = None, bits: Sequence[int] = (8, 12),
                 codec_rates: dict[str, int] | None = None):
        for codec in codecs:
            if codec not in CODECS:
                raise ValueError(f"unknown codec {codec!r}; known: {', '.join(CODECS)}")
        self.codecs = codecs
        self.bitrate_kbps = bitrate_kbps or {}
        self.bits = bits
        self.codec_rates = codec_rates or {}
        for codec in self.codec_rates:
            if codec not in IN_PROCESS_CODECS or codec == "bit_depth":
                raise ValueError(f"codec_rates may set mulaw, alaw or spectral, not {codec!r}")

    def _bitrate(self, rng: np.random.Generator, codec: str) -> float | None:
        default = SPECTRAL_BITRATE_KBPS if codec == "spectral" else FFMPEG_CODECS.get(codec, {}).get("bitrate_kbps")
        bounds = self.bitrate_kbps.get(codec, default)
        if bounds is None:
            return None
        if codec == "amr_nb":
            return float(choice(rng, list(bounds)))
        return round(uniform(rng, bounds, 1), 1)

    def draw(self, rng, context):
        codec = str(choice(rng, self.codecs))
        if codec == "bit_depth":
            return {"codec": codec, "codec_rate": context.sample_rate,
                    "bits": int(rng.integers(self.bits[0], self.bits[1] + 1))}
        bitrate = self._bitrate(rng, codec)
        ffmpeg = context.resources.ffmpeg
        reason = unavailable(codec, ffmpeg)
        if reason and codec == "amr_nb" and unavailable("gsm", ffmpeg) is None:
            # common: most ffmpeg builds lack the AMR encoder; GSM full rate is the nearest
            warn_once(reason, f"{reason}: AMR-NB steps use GSM 06.10 instead", logger.info)
            return {"codec": "gsm", "codec_rate": 8000, "bitrate_kbps": None, "replaces": codec,
                    "reason": reason}
        if reason:
            if ffmpeg is None:
                warn_missing_ffmpeg()
            else:
                warn_once(reason, f"{reason}: {codec} steps are replaced by an in-process approximation",
                          logger.warning)
            return {**fallback(codec, bitrate, context.sample_rate), "replaces": codec, "reason": reason}
        rate = codec_rate(codec, context.sample_rate)
        if codec in self.codec_rates:
            rate = min(int(self.codec_rates[codec]), context.sample_rate)
        params: Params = {"codec": codec, "codec_rate": rate}
        if codec in FFMPEG_CODECS or codec == "spectral":
            params["bitrate_kbps"] = bitrate
        return params

    def apply(self, audio, sample_rate, params, *, offset_samples=0, resources=None):
        codec, rate = params["codec"], int(params["codec_rate"])
        x = audio if rate == sample_rate else resample(audio, sample_rate, rate)
        x_np = x.detach().cpu().numpy().astype(np.float32)
        if codec in FFMPEG_CODECS:
            ffmpeg = resources.ffmpeg if resources is not None else find_ffmpeg()
            reason = unavailable(codec, ffmpeg)
            if reason:
                raise CodecError(f"these parameters need the {codec} codec, but {reason}")
            y = ffmpeg_round_trip(x_np, rate, codec, params.get("bitrate_kbps"), ffmpeg)
        elif codec in ("mulaw", "alaw"):
            y = g711(x_np, codec)
        elif codec == "bit_depth":
            y = reduce_bit_depth(x_np, int(params["bits"]))
        elif codec == "spectral":
            y = spectral_lossy(x_np, rate, float(params["bitrate_kbps"]))
        else:
            raise ValueError(f"unknown codec {codec!r}")
        out = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))
        if rate != sample_rate:
            out = resample(out, rate, sample_rate)
        return fit_length(out, audio.shape[-1])

    def context_samples(self, params, sample_rate):
        pad = int(math.ceil((MAX_LAG_S + 0.05) * sample_rate))
        return pad, pad
