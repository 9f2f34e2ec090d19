"""STFT framing and mel filterbanks in torch (no torchaudio).

Conventions: ``stft`` frames with ``center=False``; callers pad the signal themselves, so
whole-signal and streamed analysis produce the same frames. Spectra are
``(..., num_frames, n_fft // 2 + 1)`` complex tensors (frames before bins).
"""

from __future__ import annotations



import torch


def hann_window(length: int, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Periodic Hann window: overlapping copies at ``length // 2`` hop sum to exactly one."""
    return torch.hann_window(length, periodic=True, dtype=dtype)


def stft(audio: torch.Tensor, n_fft: int, hop_length: int, window: torch.Tensor) -> torch.Tensor:
    """``(..., samples)`` -> complex ``(..., num_frames, n_fft // 2 + 1)``; no centre padding."""
    shape = audio.shape[:-1]
    flat = audio.reshape(-1, audio.shape[-1])
    spec = torch.stft(flat, n_fft, hop_length=hop_length, win_length=n_fft, window=window.to(flat),
                      center=False, return_complex=True)
    return spec.transpose(-1, -2).reshape(*shape, spec.shape[-1], spec.shape[-2])


def stft_frames(frames: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Windowed rfft of already cut ``(..., n_fft)`` frames (the same numbers ``stft`` gives)."""
    if frames.numel() == 0:  # MKL refuses empty transforms
        return torch.zeros(*frames.shape[:-1], frames.shape[-1] // 2 + 1, dtype=torch.complex64)
    return torch.fft.rfft(frames * window.to(frames), dim=-1)


def overlap_add(frames: torch.Tensor, hop_length: int) -> torch.Tensor:
    """Sum ``(..., num_frames, frame_length)`` frames placed every ``hop_length`` samples."""
    *lead, num_frames, frame_length = frames.shape
    total = (num_frames - 1) * hop_length + frame_length
    flat = frames.reshape(-1, num_frames, frame_length).transpose(1, 2)  # (B, frame_length, F)
    out = torch.nn.functional.fold(flat, output_size=(1, total), kernel_size=(1, frame_length),
                                   stride=(1, hop_length))
    return out.reshape(*lead, total)


def istft(spec: torch.Tensor, n_fft: int, hop_length: int, window: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`stft` by windowed overlap-add normalised by the summed squared window.

    Samples covered by fewer frames than the steady state (the first and last
    ``n_fft - hop_length``) are divided by their own window sum, so they are exact too
    wherever that sum is non-zero.
    """
    frames = torch.fft.irfft(spec, n=n_fft, dim=-1) * window.to(spec.real)
    out = overlap_add(frames, hop_length)
    norm = overlap_add((window.to(spec.real) ** 2).expand(spec.shape[-2], n_fft), hop_length)
    return out / norm.clamp_min(1e-8)


def through_stft(audio: torch.Tensor, n_fft: int, hop_length: int, window: torch.Tensor,
                 transform) -> torch.Tensor:
    """``(..., samples)`` -> the same shape: framed (``n_fft - hop_length`` zeros before, enough
    after for whole frames), ``transform`` applied to the complex ``(B, frames, bins)`` spectrum,
    inverse transformed and cropped back: the whole-signal path of the spectral networks."""
    shape, length = audio.shape, audio.shape[-1]
    pre_roll = n_fft - hop_length
    padded = torch.nn.functional.pad(audio.reshape(-1, length), (pre_roll, pre_roll + (-length % hop_length)))
    out = istft(transform(stft(padded, n_fft, hop_length, window)), n_fft, hop_length, window)
    return out[:, pre_roll:pre_roll + length].reshape(shape)


def hz_to_mel(hz: torch.Tensor | float) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(hz, dtype=torch.float64) / 700.0)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(n_freqs: int, n_mels: int, sample_rate: int, *, f_min: float = 0.0,
                   f_max: float | None = None, norm: str | None = "slaney") -> torch.Tensor:
    """Triangular HTK-mel filters, ``(n_mels, n_freqs)`` float32.

    ``norm="slaney"`` scales each filter to unit area (constant energy per band);
    ``None`` leaves peak-one triangles.
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    freqs = torch.linspace(0.0, sample_rate / 2, n_freqs, dtype=torch.float64)
    mels = torch.linspace(float(hz_to_mel(f_min)), float(hz_to_mel(f_max)), n_mels + 2, dtype=torch.float64)
    points = mel_to_hz(mels)
    lower, centre, upper = points[:-2, None], points[1:-1, None], points[2:, None]
    rising = (freqs[None] - lower) / (centre - lower)
    falling = (upper - freqs[None]) / (upper - centre)
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)
    if norm == "slaney":
        weights = weights * (2.0 / (upper - lower))
    elif norm is not None:
        raise ValueError(f"unknown mel norm {norm!r}")
    return weights.to(torch.float32)


def mel_to_linear_weights(filterbank: torch.Tensor) -> torch.Tensor:
    """``(n_freqs, n_mels)`` weights that spread per-band values back onto linear bins.

    Each bin takes the filter-weighted mean of the bands covering it (rows sum to one); a
    bin no filter covers takes its nearest band.
    """
    peaks = filterbank / filterbank.amax(dim=1, keepdim=True).clamp_min(1e-12)
    weights = peaks.T.clone()  # (n_freqs, n_mels)
    total = weights.sum(dim=1, keepdim=True)
    empty = total.squeeze(1) <= 1e-6
    if empty.any():
        centres = (peaks * torch.arange(peaks.shape[1], dtype=peaks.dtype)).sum(1) / peaks.sum(1).clamp_min(1e-12)
        bins = torch.nonzero(empty).squeeze(1).to(peaks.dtype)
        nearest = (bins[:, None] - centres[None]).abs().argmin(dim=1)
        weights[empty] = 0.0
        weights[torch.nonzero(empty).squeeze(1), nearest] = 1.0
        total = weights.sum(dim=1, keepdim=True)
    return weights / total


def log_compress(power: torch.Tensor, floor: float = 1e-8) -> torch.Tensor:
    """``log10`` of a power spectrum with a floor (no ``-inf`` on silence)."""
    return torch.log10(power.clamp_min(floor))


__all__ = ["hann_window", "hz_to_mel", "istft", "log_compress", "mel_filterbank", "mel_to_hz",
           "mel_to_linear_weights", "overlap_add", "stft", "stft_frames", "through_stft"]

