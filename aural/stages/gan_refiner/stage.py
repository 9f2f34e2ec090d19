"""GanRefinerStage: :class:`SpectralRefiner` on a streamed STFT (16 kHz; higher bands bypass it).

Meant after a masking denoiser (``mel_unet``, ``noise_reduction``, ``deepfilter``), or alone
on lightly damaged speech. STFT as ``mel_unet`` (periodic Hann, ``n_fft`` 512, hop 128),
chunks of ``chunk_frames`` with ``context_frames`` each side, so streaming equals
whole-signal processing. ``strength`` is the dry/wet control.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aural.params import param
from aural.stages import register_stage
from aural.stages.base import IOContract, LearnedStage

if TYPE_CHECKING:  # the network loads with the stage: importing this module stays cheap
    from torch import nn

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class GanRefinerParams:
    strength: float = param(1.0, help="dry/wet mix: 0 returns the input unchanged, 1 the refined signal",
                            min=0.0, max=1.0)


@register_stage
class GanRefinerStage(LearnedStage):
    """Adversarially trained refinement: remove musical noise and codec swirl, restore texture."""

    name = "gan_refiner"
    summary = "Learned GAN-trained complex residual on the compressed STFT: natural texture after denoising."
    Params = GanRefinerParams
    contract = IOContract(sample_rate=SAMPLE_RATE, keep_high_band=True)
    model_module = "aural.stages.gan_refiner.model"
    task_module = "aural.stages.gan_refiner.task"

    def __init__(self, params: Any = None, *, weights: str | None = "default", model: nn.Module | None = None,
                 **param_values: Any):
        from aural.nn.streaming import spectral_stream

        super().__init__(params, **param_values)
        self.model = self._resolve_model(weights, model)
        self._transform, self._engine = spectral_stream(self.model.refine, self.model.config,
                                                        strength=self.params.strength)
