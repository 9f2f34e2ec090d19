"""Effective bandwidth of audio: where the content of a (possibly upsampled) signal stops.

A file's sample rate says little about its content: a phone call saved at 48 kHz still stops
at 4 kHz, an MP3 at 16 kHz. :class:`CutoffTracker` follows the cutoff frame by frame from
power spectra, causally, so the same code serves streaming, whole files and training batches.

Per bin it keeps a peak-hold level in dB that decays by ``decay_db_per_s``; the cutoff is one
bin above the highest bin whose held level is within ``range_db`` of the loudest held bin.
Anti-alias filters, codecs and resamplers leave the stop band 60-100 dB or more below the
pass band, while natural full-band recordings stay within that range up to their top octave.
A cutoff below ``min_cutoff_hz`` (a pure tone, a low-passed hum) or at or above
``max_cutoff_hz`` (already full band) means there is nothing to expand: the tracker reports
the Nyquist bin. Digital silence has no peak and reports Nyquist too. The first
``warmup_frames`` frames of a stream (``n_fft / hop_length - 1``) reach back before its start:
cut off sharply by the zeros there, their spectra spread over the whole band, so they report
Nyquist and stay out of the peak hold. (A stream's mirrored lead-in never reaches the tracker:
:class:`~aural.nn.streaming.ChunkedSpectralProcessor` keeps it out.)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

POWER_FLOOR = 1e-14  # -140 dB: below 24-bit quantisation noise


@dataclass(frozen=True)
class CutoffConfig:
    range_db: float = 60.0
    decay_db_per_s: float = 20.0
    min_cutoff_hz: float = 3500.0
    max_cutoff_hz: float = 19500.0


class CutoffTracker:
    """Causal per-frame cutoff bins from ``(channels, frames, bins)`` power spectra.

    Channels are tracked jointly (the loudest channel decides), so stereo stays linked.
    """

    def __init__(self, sample_rate: int, n_fft: int, hop_length: int, config: CutoffConfig = CutoffConfig()):
        self.num_bins = n_fft // 2 + 1
        self.bin_hz = sample_rate / n_fft
        self.decay_db = config.decay_db_per_s * hop_length / sample_rate
        self.range_db = config.range_db
        self.warmup_frames = n_fft // hop_length - 1
        self.min_bin = int(round(config.min_cutoff_hz / self.bin_hz))
        self.max_bin = int(round(config.max_cutoff_hz / self.bin_hz))
        self.reset()

    @property
    def pad_value(self) -> int:
        """The value of frames before a stream's start: no cutoff."""
        return self.num_bins

    def reset(self) -> None:
        self._held: torch.Tensor | None = None
        self._frames_seen = 0

    def __call__(self, power: torch.Tensor) -> torch.Tensor:
        """``(..., frames, bins)`` power -> ``(frames,)`` cutoff bins (``num_bins``: none)."""
        level = 10.0 * torch.log10(power.detach().float().clamp_min(POWER_FLOOR))
        level = level.reshape(-1, *level.shape[-2:]).amax(dim=0)        # (frames, bins), channels linked
        warming = (self._frames_seen + torch.arange(level.shape[0], device=level.device)) < self.warmup_frames
        level = torch.where(warming.unsqueeze(-1), torch.full_like(level, -1e9), level)
        previous = self._held if self._held is not None else torch.full_like(level[0], -1e9)
        held = decaying_peak_hold(level, previous, self.decay_db)
        self._held = held[-1].clone() if level.shape[0] else self._held
        cutoff = cutoff_bins(held, self.range_db, self.min_bin, self.max_bin, self.num_bins)
        self._frames_seen += cutoff.shape[0]
        return torch.where(warming, torch.full_like(cutoff, self.num_bins), cutoff)


def decaying_peak_hold(level_db: torch.Tensor, previous_db: torch.Tensor, decay_db: float) -> torch.Tensor:
    """``held[t] = max(level[t], held[t - 1] - decay_db)`` over ``(frames, bins)``, ``held[-1]``
    being ``previous_db``, without a loop over frames: adding ``t * decay_db`` turns the
    recursion into a running maximum (computed in float64, so rounding stays far below a dB)."""
    frames = level_db.shape[0]
    ramp = torch.arange(-1, frames, dtype=torch.float64, device=level_db.device).unsqueeze(-1) * decay_db
    lifted = torch.cat([previous_db.unsqueeze(0), level_db]).double() + ramp
    return (lifted.cummax(dim=0).values - ramp)[1:].to(level_db.dtype)


def cutoff_bins(held_db: torch.Tensor, range_db: float, min_bin: int, max_bin: int, num_bins: int) -> torch.Tensor:
    """``(frames, bins)`` held levels -> ``(frames,)`` cutoff bins (see the module docstring)."""
    peak = held_db.amax(dim=-1, keepdim=True)
    active = held_db > peak - range_db
    index = torch.arange(held_db.shape[-1], device=held_db.device)
    top = torch.where(active, index, torch.full_like(index, -1)).amax(dim=-1)
    cutoff = top + 1
    silent = peak.squeeze(-1) <= 10.0 * torch.log10(torch.tensor(POWER_FLOOR)) + 1e-3
    none = (cutoff < min_bin) | (cutoff >= max_bin) | silent
    return torch.where(none, torch.full_like(cutoff, num_bins), cutoff)


class FullBandShare:
    """How much of a stream is full band: the share of its sounding frames whose content reaches
    ``max_cutoff_hz`` (:class:`CutoffTracker`), streamed in constant memory. Frames of digital
    silence and the tracker's warm-up do not count; a frame whose content stops below
    ``min_cutoff_hz`` (a tone, a hum) counts as full band, as the tracker reports it."""

    def __init__(self, sample_rate: int, n_fft: int = 1024, hop_length: int = 256,
                 config: CutoffConfig = CutoffConfig()):
        from aural.nn.spectral import hann_window
        from aural.nn.streaming import FrameCutter

        self.n_fft = n_fft
        self._window = hann_window(n_fft)
        self._frames = FrameCutter(n_fft, hop_length)
        self._tracker = CutoffTracker(sample_rate, n_fft, hop_length, config)
        self.reset()

    def reset(self) -> None:
        self._tracker.reset()
        self._frames.reset(0)
        self._frames_seen = 0
        self.frames = 0
        self.full_band_frames = 0

    def push(self, audio: torch.Tensor) -> None:
        """The next ``(channels, n)`` samples (channels linked, as the tracker links them)."""
        frames = self._frames.cut(torch.atleast_2d(audio).float())
        count = frames.shape[1]
        if count == 0:
            return
        spectrum = torch.fft.rfft(frames * self._window, dim=-1)
        power = spectrum.real.pow(2) + spectrum.imag.pow(2)                # (channels, frames, bins)
        warming = max(0, self._tracker.warmup_frames - self._frames_seen)
        self._frames_seen += count
        cutoff = self._tracker(power)[warming:]
        sounding = power.amax(dim=0).sum(dim=-1)[warming:] > POWER_FLOOR * self.n_fft  # not digital silence
        self.frames += int(sounding.sum())
        self.full_band_frames += int((sounding & (cutoff >= self._tracker.max_bin)).sum())

    @property
    def share(self) -> float | None:
        """Full-band frames over sounding frames; None before the first sounding frame."""
        return self.full_band_frames / self.frames if self.frames else None


def cutoff_track_hz(audio: torch.Tensor, sample_rate: int, n_fft: int = 1024, hop_length: int = 256,
                    config: CutoffConfig = CutoffConfig()) -> torch.Tensor:
    """Per-frame cutoffs in Hz of ``(channels, samples)`` audio (``sample_rate / 2``: none)."""
    from aural.nn.spectral import hann_window, stft

    spec = stft(audio.float(), n_fft, hop_length, hann_window(n_fft))
    tracker = CutoffTracker(sample_rate, n_fft, hop_length, config)
    bins = tracker(spec.real.pow(2) + spec.imag.pow(2))
    return bins.clamp(max=n_fft // 2).float() * sample_rate / n_fft


def detect_cutoff_hz(audio: torch.Tensor, sample_rate: int, n_fft: int = 1024, hop_length: int = 256,
                     config: CutoffConfig = CutoffConfig()) -> float:
    """The cutoff in Hz at the end of ``(channels, samples)`` audio (``sample_rate / 2``: full band)."""
    track = cutoff_track_hz(audio, sample_rate, n_fft, hop_length, config)
    return float(track[-1]) if track.numel() else sample_rate / 2
