"""A differentiable short-time objective intelligibility (STOI) loss.

STOI (Taal et al., 2011) correlates the temporal envelopes of clean and processed speech in
one-third octave bands over short segments (384 ms). The metric itself (``pystoi``) is not
differentiable; this loss follows its steps in torch so a model can be trained towards it:

1. STFT (Hann, about 25.6 ms frames, half overlapping) of estimate and target;
2. 15 one-third octave bands from 150 Hz: band envelopes ``sqrt(sum |X|^2)``;
3. segments of ``segment_frames`` consecutive frames, one starting at every frame;
4. per band and segment, the estimate's envelope scaled to the target's norm and clipped at
   ``(1 + 10^(-beta/20))`` times the target's (STOI's lower bound on the signal-to-distortion
   ratio, ``beta = -15`` dB);
5. the correlation of the two envelopes over the segment, averaged over bands and over the
   segments where the target speaks.

STOI drops frames more than 40 dB below the target's loudest before it cuts segments; here
such frames are masked out of each segment's statistics instead, and each segment weighted by
its share of active frames, so silent stretches do not count yet the frame grid stays fixed.
The loss is ``1 - mean correlation``: 0 at the target, about 1 for unrelated signals.
"""

from __future__ import annotations

import torch
from torch import nn

from aural.losses import LOSSES
from aural.nn.spectral import hann_window, stft

BANDS = 15
LOWEST_CENTRE_HZ = 150.0


def third_octave_bands(n_fft: int, sample_rate: int, bands: int = BANDS,
                       lowest_centre_hz: float = LOWEST_CENTRE_HZ) -> torch.Tensor:
    """``(bands, n_fft // 2 + 1)`` 0/1 matrix: FFT bins within each one-third octave band
    (centres ``lowest_centre_hz * 2^(k/3)``, edges a sixth of an octave either side)."""
    bin_hz = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sample_rate / n_fft
    centres = lowest_centre_hz * 2.0 ** (torch.arange(bands, dtype=torch.float64) / 3)
    low, high = centres * 2.0 ** (-1 / 6), centres * 2.0 ** (1 / 6)
    if high[-1] > sample_rate / 2:
        raise ValueError(f"{bands} one-third octave bands from {lowest_centre_hz} Hz need a sample rate "
                         f"above {2 * float(high[-1]):.0f} Hz, got {sample_rate}")
    matrix = (bin_hz >= low[:, None]) & (bin_hz < high[:, None])
    return matrix.float()


@LOSSES.register("stoi")
class STOILoss(nn.Module):
    """``1 -`` the STOI-style envelope correlation of ``estimate`` with ``target``."""

    def __init__(self, sample_rate: int = 16000, frame_ms: float = 25.6, segment_ms: float = 384.0,
                 beta_db: float = -15.0, dynamic_range_db: float = 40.0):
        super().__init__()
        if frame_ms <= 0 or segment_ms < 2 * frame_ms:
            raise ValueError("frame_ms must be > 0 and segment_ms at least two frames")
        self.win_length = max(2, round(frame_ms * sample_rate / 1000))
        self.n_fft = 1 << (self.win_length - 1).bit_length()
        self.hop_length = self.win_length // 2
        self.segment_frames = max(2, round(segment_ms / (frame_ms / 2)))
        self.clip_ratio = 1.0 + 10.0 ** (-beta_db / 20.0)
        self.dynamic_range_db = dynamic_range_db
        window = torch.zeros(self.n_fft)
        start = (self.n_fft - self.win_length) // 2
        window[start:start + self.win_length] = hann_window(self.win_length)
        self.register_buffer("window", window, persistent=False)
        self.register_buffer("bands", third_octave_bands(self.n_fft, sample_rate), persistent=False)

    def _envelopes(self, audio: torch.Tensor) -> torch.Tensor:
        """``(..., samples)`` -> ``(..., frames, bands)`` band magnitudes."""
        spec = stft(audio.float(), self.n_fft, self.hop_length, self.window)
        power = spec.real.pow(2) + spec.imag.pow(2)
        return (power @ self.bands.T).clamp_min(1e-12).sqrt()

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (1.0 - self.score(estimate, target)).mean()

    def score(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The STOI-style score of each signal: ``(..., samples)`` -> ``(...)``, in [-1, 1]."""
        minimum = self.n_fft + (self.segment_frames - 1) * self.hop_length
        if target.shape[-1] < minimum:
            pad = minimum - target.shape[-1]
            estimate, target = nn.functional.pad(estimate, (0, pad)), nn.functional.pad(target, (0, pad))
        active = self._active_frames(target)                              # (..., frames)
        mask = active.unfold(-1, self.segment_frames, 1).unsqueeze(-2)    # (..., segments, 1, segment_frames)
        count = mask.sum(-1)
        # band envelopes in segments: (..., segments, bands, segment_frames), silent frames out
        est = self._envelopes(estimate).unfold(-2, self.segment_frames, 1) * mask
        ref = self._envelopes(target).unfold(-2, self.segment_frames, 1) * mask
        scale = ref.norm(dim=-1, keepdim=True) / est.norm(dim=-1, keepdim=True).clamp_min(1e-8)
        est = torch.minimum(est * scale, ref * self.clip_ratio)
        est = (est - est.sum(-1, keepdim=True) / count.clamp_min(1).unsqueeze(-1)) * mask
        ref = (ref - ref.sum(-1, keepdim=True) / count.clamp_min(1).unsqueeze(-1)) * mask
        correlation = (est * ref).sum(-1) / (est.norm(dim=-1) * ref.norm(dim=-1)).clamp_min(1e-8)
        correlation = correlation.mean(dim=-1)                            # (..., segments)
        weights = (count.squeeze(-1) >= 2).to(correlation) * count.squeeze(-1) / self.segment_frames
        return (correlation * weights).sum(-1) / weights.sum(-1).clamp_min(1e-8)

    def _active_frames(self, target: torch.Tensor) -> torch.Tensor:
        """1 for frames of ``target`` within ``dynamic_range_db`` of its loudest, else 0."""
        frames = target.detach().float().unfold(-1, self.n_fft, self.hop_length) * self.window
        energy_db = 10 * torch.log10(frames.pow(2).sum(-1).clamp_min(1e-20))
        return (energy_db >= energy_db.amax(dim=-1, keepdim=True) - self.dynamic_range_db).float()
