"""VoiceFusion: a learned per-bin share between two voice estimates of one mixture.

The separation network and DeepFilterNet3 err in different places: on the held-out mixtures
choosing the better of the two in every STFT bin (an oracle) would reach 10.4 dB SI-SDRi where
the better of the two alone reaches 6.8 and their fixed 30 / 70 blend 7.5. This small network
learns that choice from what both estimates and the mixture look like, bin by bin:

    fused = deepfilter + share * (network - deepfilter),   share in [0, 1] per bin

so the fused estimate always lies between the two (it cannot invent a third). Features per bin
(all level-invariant): each estimate's log ratio to the mixture, the cosine of their phase
difference, how far apart they are, and the mixture's level relative to its frame's loudest bin.
Four dilated 3x3 convolutions (over frames and bins) with per-frame normalisation, so a chunk
with ``context_frames`` (the layers' time dilations summed) of context each side gives what the
whole file gives:
the stage streams it as it streams the separation network, the convolutions run by onnxruntime
where it can. With ``gain`` a second head also scales the fused estimate by a gain in [0, 1] per bin
(what both estimates left of the background can still be lowered).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping

import torch
from torch import nn

from aural.nn.config import ModelConfig
from aural.nn.spectral import hann_window, istft, stft
from aural.nn.streaming import DelayLine

NETWORK = "voice_fusion"
INITIAL_SHARE = 0.3  # the network's share in the fixed blend that measured best (deepfilter_share 0.7)
MAGNITUDE_FLOOR = 1e-5
LEVEL_FLOOR = -8.0  # log10 power below the frame's loudest bin
INITIAL_GAIN_LOGIT = 6.0
FUSION_BATCH = 16  # windows per network call (bounds memory on long blocks)
Logits = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class VoiceFusionConfig(ModelConfig):
    """Framing and size of :class:`VoiceFusion` (stored as JSON next to its weights)."""

    architecture: ClassVar[str] = "VoiceFusion"

    network: str = NETWORK   # how the separation model factory tells it from a voice network
    sample_rate: int = 16000
    n_fft: int = 512
    hop_length: int = 128
    channels: int = 16
    dilations: tuple[int, ...] = (1, 2, 4, 8)  # over bins, one per layer
    time_dilations: tuple[int, ...] = ()  # over frames, one per layer; empty: 1 for every layer
    chunk_frames: int = 32
    gain: bool = False  # a second head: a gain in [0, 1] per bin on the fused estimate (residual suppression)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dilations", tuple(int(d) for d in self.dilations))
        time_dilations = tuple(int(d) for d in self.time_dilations) or (1,) * len(self.dilations)
        object.__setattr__(self, "time_dilations", time_dilations)
        if len(time_dilations) != len(self.dilations) or min(time_dilations) < 1:
            raise ValueError("time_dilations needs one dilation of at least 1 per layer of dilations")
        if self.n_fft % self.hop_length:
            raise ValueError("n_fft must be a multiple of hop_length")

    @property
    def context_frames(self) -> int:
        """Frames each side that one output frame reads (a layer with time dilation d reads d)."""
        return sum(self.time_dilations)


class FrameNorm(nn.Module):
    """Normalise each frame over channels and bins, then scale and shift per channel."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 3), keepdim=True)
        variance = (x - mean).pow(2).mean(dim=(1, 3), keepdim=True)
        return (x - mean) / (variance + 1e-5).sqrt() * self.weight + self.bias


def fusion_features(mixture: torch.Tensor, network: torch.Tensor, deepfilter: torch.Tensor) -> torch.Tensor:
    """Complex ``(batch, frames, bins)`` spectra -> ``(batch, 5, frames, bins)`` features."""
    mixture_mag = mixture.abs() + MAGNITUDE_FLOOR
    network_mag, deepfilter_mag = network.abs() + MAGNITUDE_FLOOR, deepfilter.abs() + MAGNITUDE_FLOOR
    level = torch.log10(mixture_mag.square())
    level = (level - level.amax(dim=-1, keepdim=True)).clamp_min(LEVEL_FLOOR)
    return torch.stack([torch.log(network_mag / mixture_mag), torch.log(deepfilter_mag / mixture_mag),
                        torch.cos(network.angle() - deepfilter.angle()),
                        (network - deepfilter).abs() / (network_mag + deepfilter_mag),
                        level / 4.0], dim=1)


class VoiceFusion(nn.Module):
    """:meth:`share` and :meth:`fuse` on STFT spectra (streamed inference); ``forward`` on
    ``(batch, 3, samples)`` waveforms (mixture, network voice, DeepFilterNet3 voice) gives the
    fused ``(batch, 1, samples)`` voice (training)."""

    def __init__(self, config: VoiceFusionConfig | None = None):
        super().__init__()
        self.config = config = config or VoiceFusionConfig()
        layers: list[nn.Module] = []
        channels_in = 5
        for time_dilation, dilation in zip(config.time_dilations, config.dilations):
            layers += [nn.Conv2d(channels_in, config.channels, 3, padding=(time_dilation, dilation),
                                 dilation=(time_dilation, dilation)),
                       FrameNorm(config.channels), nn.PReLU(config.channels)]
            channels_in = config.channels
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(config.channels, 1, 1)
        nn.init.zeros_(self.head.weight)  # starts as the fixed blend
        nn.init.constant_(self.head.bias, math.log(INITIAL_SHARE / (1.0 - INITIAL_SHARE)))
        self.gain_head: nn.Conv2d | None = None
        if config.gain:
            self.gain_head = nn.Conv2d(config.channels, 1, 1)
            nn.init.zeros_(self.gain_head.weight)
            nn.init.constant_(self.gain_head.bias, INITIAL_GAIN_LOGIT)  # starts at a gain of 1 (0.998)
        self.register_buffer("window", hann_window(config.n_fft), persistent=False)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """``(batch, 5, frames, bins)`` features -> ``(batch, heads, frames, bins)`` logits: the
        share's, then (with ``config.gain``) the gain's."""
        hidden = self.body(features)
        if self.gain_head is None:
            return self.head(hidden)
        return torch.cat([self.head(hidden), self.gain_head(hidden)], dim=1)

    def inference_logits(self, frames: int, cache_key: tuple[Any, ...] | None = None) -> Logits:
        """:meth:`logits` for windows of ``frames`` frames, run by onnxruntime where it can
        (:func:`aural.nn.onnx_runtime.onnx_function`; other shapes run here)."""
        from aural.nn.onnx_runtime import BoundMethod, config_cache_key, onnx_function

        generator = torch.Generator().manual_seed(0)  # features of about the real ones' range
        example = torch.randn(1, 5, frames, self.config.n_fft // 2 + 1, generator=generator)
        return onnx_function(BoundMethod(self, "logits"), (example,), label="VoiceFusion",
                             cache_key=config_cache_key(cache_key, self.config))

    def share(self, mixture: torch.Tensor, network: torch.Tensor, deepfilter: torch.Tensor) -> torch.Tensor:
        """The network estimate's share per bin, ``(batch, frames, bins)`` in [0, 1]."""
        return self.share_and_gain(mixture, network, deepfilter)[0]

    def share_and_gain(self, mixture: torch.Tensor, network: torch.Tensor, deepfilter: torch.Tensor,
                       logits: Logits | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The share and (with ``config.gain``) the gain per bin, each ``(batch, frames, bins)``;
        ``logits``: what computes them (default :meth:`logits`; :meth:`inference_logits`)."""
        compute = self.logits if logits is None else logits
        values = torch.sigmoid(compute(fusion_features(mixture, network, deepfilter)))
        return values[:, 0], values[:, 1] if values.shape[1] > 1 else None

    def fuse(self, mixture: torch.Tensor, network: torch.Tensor, deepfilter: torch.Tensor,
             logits: Logits | None = None) -> torch.Tensor:
        share, gain = self.share_and_gain(mixture, network, deepfilter, logits)
        fused = deepfilter + share * (network - deepfilter)
        return fused if gain is None else gain * fused

    def forward(self, estimates: torch.Tensor) -> torch.Tensor:
        config = self.config
        padded = nn.functional.pad(estimates, (config.n_fft, config.n_fft))  # whole frames over every sample
        spectra = stft(padded, config.n_fft, config.hop_length, self.window)  # (batch, 3, frames, bins)
        fused = istft(self.fuse(spectra[:, 0], spectra[:, 1], spectra[:, 2]), config.n_fft, config.hop_length,
                      self.window)
        return fused[:, config.n_fft:config.n_fft + estimates.shape[-1]].unsqueeze(1)


def build_fusion(config: Mapping[str, Any] | None = None) -> VoiceFusion:
    return VoiceFusion(VoiceFusionConfig.from_dict(dict(config or {})))


class FusedVoice:
    """:class:`VoiceFusion` streamed over aligned ``(channels, n)`` blocks of the mixture, the
    network's voice and DeepFilterNet3's voice: ``push`` returns the voice
    ``(1 - share) * network + share * fused`` and the mixture, both ``latency_samples`` later;
    ``finish`` the rest. ``model``: a VoiceFusion, else the shipped preset ``fusion``."""

    def __init__(self, model: VoiceFusion | None = None, *, share: float):
        from aural.nn.streaming import chunk_window_frames, spectral_stream

        if model is None:
            from aural.weights import load_model

            model, _, self.weights_info = load_model("separation", "fusion", build_fusion)
        else:
            self.weights_info = {"weights": "<model object>"}
        self.model = model.eval()
        sha256 = self.weights_info.get("sha256")
        self._logits = model.inference_logits(chunk_window_frames(model.config),
                                              ("separation fusion", sha256) if sha256 else None)
        self.inference_engine = getattr(self._logits, "engine", "torch")
        self.share = float(share)
        self._transform, self._engine = spectral_stream(self._fuse_rows, model.config, strength=1.0,
                                                        max_batch=1 << 30)

    @property
    def latency_samples(self) -> int:
        return self._engine.latency_samples

    def reset(self, num_channels: int) -> None:
        self._channels = num_channels
        self._engine.reset(3 * num_channels)
        self._transform.reset(3 * num_channels)
        self._mixture = DelayLine(num_channels, self.latency_samples)

    def push(self, mixture: torch.Tensor, network: torch.Tensor, deepfilter: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
        voice = self._engine.push(torch.cat([network, deepfilter, mixture]))[:self._channels]
        return voice, self._mixture(mixture)

    def finish(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._engine.finish()[:self._channels], self._mixture.held

    def _fuse_rows(self, windows: torch.Tensor) -> torch.Tensor:
        """``(3 * channels * chunks, frames, bins)`` windows, network rows first, then
        DeepFilterNet3's, then the mixture's -> the voice in the network rows (zeros elsewhere)."""
        network, deepfilter, mixture = windows.reshape(3, -1, *windows.shape[1:])
        batches = zip(mixture.split(FUSION_BATCH), network.split(FUSION_BATCH), deepfilter.split(FUSION_BATCH))
        fused = torch.cat([self.model.fuse(*parts, logits=self._logits) for parts in batches])
        voice = network + self.share * (fused - network)
        return torch.cat([voice, torch.zeros_like(deepfilter), torch.zeros_like(mixture)])
