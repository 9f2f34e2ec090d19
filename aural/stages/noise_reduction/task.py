"""Training task of ``noise_reduction``: the trainer's view of :class:`ConvAutoencoder`.

Training cuts every ``(batch, channels, samples)`` segment into the 2048-sample windows the
stage runs on and applies the recipe's losses per window; validation runs the stage's
Hann overlap-add over whole segments, so ``snr/val`` is what the stage delivers.
"""

from __future__ import annotations

from typing import Any

import torch

from aural.losses import build_loss
from aural.stages.noise_reduction.model import ConvAutoencoder, ConvAutoencoderConfig, overlap_add_forward
from aural.train.recipe import Recipe
from aural.train.task import EnhancementTask, unpack_pair

STAGE = "noise_reduction"
SAMPLE_RATE = 16000


class WindowedEnhancementTask(EnhancementTask):
    """:class:`EnhancementTask` whose model runs on fixed windows (overlap-added when validating)."""

    @property
    def window_samples(self) -> int:
        return int(self.model_config["window_samples"])

    def _windows(self, audio: torch.Tensor) -> torch.Tensor:
        samples = audio.shape[-1]
        if samples % self.window_samples:
            raise ValueError(f"segments of {samples} samples do not split into {self.window_samples}-sample "
                             "windows; set segment_samples to a multiple of it")
        return audio.reshape(-1, 1, self.window_samples)

    def training_step(self, batch: Any) -> dict[str, torch.Tensor]:
        noisy, clean = unpack_pair(batch)
        total, parts = self.loss(self.model(self._windows(noisy)), self._windows(clean))
        return {"loss": total, **parts}

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        batch, channels, samples = noisy.shape
        out = overlap_add_forward(self.model, noisy.reshape(batch * channels, samples), self.window_samples)
        return out.reshape(batch, channels, samples)


def build_task(recipe: Recipe) -> WindowedEnhancementTask:
    """The task for ``recipe`` (its ``model`` section overrides the default architecture)."""
    config = ConvAutoencoderConfig.from_dict({**recipe.model, "sample_rate": SAMPLE_RATE})
    return WindowedEnhancementTask(ConvAutoencoder(config), build_loss(recipe.losses, sample_rate=SAMPLE_RATE),
                                   recipe.optimizer_config(), model_config=config.to_dict())


def weights_config(task: EnhancementTask) -> dict[str, Any]:
    """The JSON config shipped beside the weights."""
    return {"stage": STAGE, "architecture": "ConvAutoencoder", "sample_rate": SAMPLE_RATE,
            "model": dict(task.model_config)}
