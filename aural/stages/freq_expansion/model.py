"""BandwidthExtender: predict the missing high band of a band-limited STFT, additively.

Per STFT frame (48 kHz, ``n_fft`` 1024, hop 256) the network sees the log power of the band
below the cutoff (relative to the frame's mean in-band level), a mask of the missing bins
and the frame level, and predicts the log power of every bin above the cutoff. The missing
band is then *added* to the input spectrum:

    Y = X + w * sqrt(max(P_hat - |X|^2, 0)) * e^{j phase}

- ``w`` is 0 below the cutoff (the existing band's STFT bins pass unchanged) and ramps to 1 over
  ``crossfade_hz`` above it; ``P_hat - |X|^2`` adds only the power that is missing, so content
  that is already there (a filter's transition band, a misjudged cutoff) is not doubled.
- the phase comes from the band below, translated upwards by a whole number of 4-bin steps
  (spectral band replication): at hop ``n_fft / 4`` such a shift keeps every partial's phase
  advancing coherently from frame to frame, so the new band has the timing of the old one.
- the predicted level is bounded to ``max_level_db`` above the in-band mean bin power, and
  silence (no in-band power) stays silent;
- the generated band's total power is bounded by the in-band power outside its
  ``STRONGEST_BINS`` strongest bins: at most ``band_limit_db_at_4khz`` above it at a 4 kHz
  cutoff, ``band_limit_db_per_octave`` less per octave higher (the most that held-out speech
  and music reach, plus about 1.5 dB). A sibilant, whose band below 4 kHz is faint but broad,
  keeps its whole generated band; a pure tone or a fax whistle, whose power sits in a few bins,
  gets next to none instead of a burst of hiss.

A mask could not do this: there is nothing in an empty band to scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import torch
from torch import nn

from aural.nn.blocks import DilatedResidualBlock
from aural.nn.config import ModelConfig
from aural.nn.spectral import hann_window, istft, stft
from aural.stages.freq_expansion.cutoff import CutoffConfig, CutoffTracker

LOG_FLOOR = 1e-10
FEATURE_FLOOR = -6.0   # masked (missing) bins and very quiet ones, in log10 units below the frame level
REFERENCE_LOW_HZ = 200.0
STRONGEST_BINS = 9     # a steady tone's Hann main lobe holds 3-4 bins; two tones about twice that


@dataclass(frozen=True)
class FreqExpansionConfig(ModelConfig):
    """Architecture, framing and cutoff tracking of :class:`BandwidthExtender` (JSON beside the weights)."""

    architecture: ClassVar[str] = "BandwidthExtender"

    sample_rate: int = 48000
    n_fft: int = 1024
    hop_length: int = 256
    channels: int = 192
    dilations: tuple[int, ...] = (1, 2, 4, 1, 2, 4)
    kernel_size: int = 3
    crossfade_hz: float = 375.0
    max_level_db: float = 10.0
    band_limit_db_at_4khz: float = 38.0     # generated band vs the in-band power beyond its strongest bins
    band_limit_db_per_octave: float = 14.0  # ... less per octave of cutoff above 4 kHz
    lookahead_frames: int = 8  # a frame's cutoff is the highest the tracker reports this far ahead
    chunk_frames: int = 160    # streaming: frames per network call (context is recomputed per chunk)
    context_frames: int = 16   # streaming: frames of context each side (>= the receptive radius)
    range_db: float = 60.0
    decay_db_per_s: float = 20.0
    min_cutoff_hz: float = 3500.0
    max_cutoff_hz: float = 19500.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "dilations", tuple(int(d) for d in self.dilations))
        if self.n_fft != 4 * self.hop_length:
            raise ValueError("n_fft must be 4 * hop_length (phase-coherent band replication)")
        if self.lookahead_frames > self.context_frames:
            raise ValueError("lookahead_frames must not exceed context_frames")
        if self.receptive_radius > self.context_frames:
            raise ValueError(f"context_frames ({self.context_frames}) must cover the receptive radius "
                             f"({self.receptive_radius})")

    @property
    def receptive_radius(self) -> int:
        return sum(d * (self.kernel_size // 2) for d in self.dilations)

    @property
    def cutoff(self) -> CutoffConfig:
        return CutoffConfig(range_db=self.range_db, decay_db_per_s=self.decay_db_per_s,
                            min_cutoff_hz=self.min_cutoff_hz, max_cutoff_hz=self.max_cutoff_hz)



class BandwidthExtender(nn.Module):
    """Waveform in, waveform out for training (:meth:`forward`); :meth:`expand` on STFT frames."""

    def __init__(self, config: FreqExpansionConfig | None = None):
        super().__init__()
        self.config = config = config or FreqExpansionConfig()
        num_bins = config.n_fft // 2 + 1
        self.num_bins = num_bins
        self.register_buffer("window", hann_window(config.n_fft), persistent=False)
        self.input = nn.Conv1d(2 * num_bins + 1, config.channels, 1)
        self.blocks = nn.Sequential(*(DilatedResidualBlock(config.channels, config.kernel_size, d)
                                      for d in config.dilations))
        self.output = nn.Conv1d(config.channels, num_bins, 1)
        nn.init.zeros_(self.output.weight)
        nn.init.constant_(self.output.bias, -3.0)  # an untrained model adds a faint band
        bin_hz = config.sample_rate / config.n_fft
        self.reference_low_bin = int(round(REFERENCE_LOW_HZ / bin_hz))
        self.crossfade_bins = max(1, int(round(config.crossfade_hz / bin_hz)))

    def cutoff_tracker(self) -> CutoffTracker:
        c = self.config
        return CutoffTracker(c.sample_rate, c.n_fft, c.hop_length, c.cutoff)

    # -- the network ----------------------------------------------------------------------------
    def predict_log_power(self, log_power: torch.Tensor, cutoff: torch.Tensor,
                          power: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, bins)`` log10 power and ``(B, T)`` cutoff bins -> predicted log10 power
        (``power``: the linear power of ``log_power``, when the caller has it)."""
        bins = torch.arange(self.num_bins, device=log_power.device)
        missing = bins >= cutoff.unsqueeze(-1)                                     # (B, T, bins)
        in_band = (~missing) & (bins >= self.reference_low_bin)
        power = torch.pow(10.0, log_power) if power is None else power
        mean_power = (power * in_band).sum(-1) / in_band.sum(-1).clamp_min(1)
        reference = torch.log10(mean_power + LOG_FLOOR)                              # (B, T)
        relative = (log_power - reference.unsqueeze(-1)).clamp(FEATURE_FLOOR, 3.0)
        relative = torch.where(missing, torch.full_like(relative, FEATURE_FLOOR), relative)
        features = torch.cat([relative / 3.0, missing.to(relative.dtype), ((reference + 5.0) / 3.0).unsqueeze(-1)],
                             dim=-1)
        hidden = self.blocks(self.input(features.transpose(1, 2)))
        raw = self.output(hidden).transpose(1, 2)                                    # (B, T, bins)
        ceiling = self.config.max_level_db / 10.0
        bounded = ceiling - nn.functional.softplus(ceiling - raw)
        return bounded + reference.unsqueeze(-1)

    # -- spectra -----------------------------------------------------------------------------------
    def settled_cutoff(self, tracked: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` tracker output -> the cutoff each frame uses: the highest in the next
        ``lookahead_frames`` (an onset's first frames hold little of the band yet, and
        generating over a band about to appear would change it)."""
        ahead = self.config.lookahead_frames
        if ahead == 0:
            return tracked
        padded = torch.cat([tracked, tracked[..., -1:].expand(*tracked.shape[:-1], ahead)], dim=-1)
        return padded.unfold(-1, ahead + 1, 1).amax(dim=-1)

    def expand(self, spec: torch.Tensor, tracked: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Complex ``(B, T, bins)`` and tracked cutoffs -> (expanded spectrum, predicted log10 power)."""
        cutoff = self.settled_cutoff(tracked)
        power = spec.real.pow(2) + spec.imag.pow(2)
        predicted = self.predict_log_power(torch.log10(power + LOG_FLOOR), cutoff, power + LOG_FLOOR)
        missing_power = (torch.pow(10.0, predicted) - power).clamp_min(0.0)
        bins = torch.arange(self.num_bins, device=spec.device)
        offset = bins - cutoff.unsqueeze(-1)                                         # (B, T, bins)
        weight = ((offset + 1).to(power.dtype) / self.crossfade_bins).clamp(0.0, 1.0)
        generated_power = weight.square() * missing_power
        scale = self.band_limit_scale(power, cutoff, generated_power)
        added = (scale * weight) * missing_power.sqrt() * replicated_phase(spec, cutoff)
        return spec + added, predicted

    def band_limit_scale(self, power: torch.Tensor, cutoff: torch.Tensor,
                         generated_power: torch.Tensor) -> torch.Tensor:
        """``(B, T, 1)`` amplitude factors that hold each frame's generated band to the limit
        set by the in-band power beyond its ``STRONGEST_BINS`` strongest bins (module docstring)."""
        bins = torch.arange(self.num_bins, device=power.device)
        in_band = (bins < cutoff.unsqueeze(-1)) & (bins >= self.reference_low_bin)
        in_power = torch.where(in_band, power, torch.zeros_like(power))
        strongest = in_power.topk(STRONGEST_BINS, dim=-1).values.sum(-1)
        broad_power = (in_power.sum(-1) - strongest).clamp_min(0.0)
        cutoff_hz = cutoff.to(power.dtype) * (self.config.sample_rate / self.config.n_fft)
        octaves = torch.log2(cutoff_hz.clamp_min(1.0) / 4000.0)
        limit_db = self.config.band_limit_db_at_4khz - self.config.band_limit_db_per_octave * octaves
        limit = broad_power * torch.pow(10.0, limit_db / 10.0)
        total = generated_power.sum(-1)
        ratio = limit / total.clamp_min(torch.finfo(power.dtype).tiny)
        return ratio.clamp(max=1.0).sqrt().unsqueeze(-1)

    def forward(self, audio: torch.Tensor | None = None, *, log_power: torch.Tensor | None = None,
                cutoff: torch.Tensor | None = None) -> torch.Tensor:
        """``(..., samples)`` at 48 kHz -> the same shape, expanded (each row tracked on its own).

        Given ``log_power`` and ``cutoff`` instead, the predicted log power
        (:meth:`predict_log_power`): training calls it so, through the module's own forward,
        which DistributedDataParallel needs to synchronise gradients."""
        if log_power is not None:
            return self.predict_log_power(log_power, cutoff)
        spec, length, pre_roll = self.analyse(audio)
        cutoff = self.track_cutoff(spec)
        expanded, _ = self.expand(spec, cutoff)
        return self.synthesise(expanded, length, pre_roll, audio.shape)

    def analyse(self, audio: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        flat = audio.reshape(-1, audio.shape[-1])
        n_fft, hop = self.config.n_fft, self.config.hop_length
        pre_roll = n_fft - hop
        length = flat.shape[-1]
        padded = nn.functional.pad(flat, (pre_roll, pre_roll + (-length % hop)))
        return stft(padded, n_fft, hop, self.window), length, pre_roll

    def track_cutoff(self, spec: torch.Tensor) -> torch.Tensor:
        """Per-item causal cutoff tracks of ``(B, T, bins)`` spectra -> ``(B, T)``."""
        power = spec.real.pow(2) + spec.imag.pow(2)
        tracks = []
        for item in power:
            tracker = self.cutoff_tracker()
            tracks.append(tracker(item.unsqueeze(0)))
        return torch.stack(tracks)

    def synthesise(self, spec: torch.Tensor, length: int, pre_roll: int, shape: torch.Size) -> torch.Tensor:
        out = istft(spec, self.config.n_fft, self.config.hop_length, self.window)
        return out[:, pre_roll:pre_roll + length].reshape(shape)


def replicated_phase(spec: torch.Tensor, cutoff: torch.Tensor) -> torch.Tensor:
    """Unit phasors for every bin: above the cutoff, those of the band below shifted up.

    The source band is the top half of the existing band, ``shift`` bins wide (a multiple of
    four), repeated upwards as often as needed; below the cutoff the bins' own phase.
    """
    num_bins = spec.shape[-1]
    bins = torch.arange(num_bins, device=spec.device)
    valid = cutoff.clamp(max=num_bins - 1)
    shift = ((valid // 2) // 4 * 4).clamp_min(4).unsqueeze(-1)                       # (B, T, 1)
    above = bins >= valid.unsqueeze(-1)
    source = valid.unsqueeze(-1) - shift + torch.remainder(bins - valid.unsqueeze(-1), shift)
    source = torch.where(above, source, bins.expand_as(source)).clamp(0, num_bins - 1)
    picked = torch.gather(spec, -1, source)
    magnitude = picked.abs()  # sgn() would give inf for subnormal bins (a decay into silence)
    return torch.where(magnitude > 1e-12, picked / magnitude.clamp_min(1e-12), torch.ones_like(picked))


def build_model(config: Mapping[str, Any] | None = None) -> BandwidthExtender:
    """The model factory: a :class:`BandwidthExtender` from its JSON config."""
    return BandwidthExtender(FreqExpansionConfig.from_dict(config or {}))
