"""Training task of ``noise_reduction``: the trainer's view of :class:`ConvAutoencoder`.

Training and validation both run the stage's own inference path on whole segments: Hann
windowed 2048-sample frames at 50 % overlap, overlap-added (:func:`overlap_add_forward`),
so the losses see exactly what the stage outputs. (Losses on separate 2048-sample windows
were dominated by near-silent windows, where relative losses such as SI-SDR and spectral
convergence blow up, and the model learned little else.)
"""

from __future__ import annotations

from typing import Any

import torch

from aural.losses import build_loss
from aural.stages.noise_reduction.model import ConvAutoencoder, ConvAutoencoderConfig, overlap_add_forward
from aural.train.recipe import Recipe
from aural.train.task import EnhancementTask

STAGE = "noise_reduction"
SAMPLE_RATE = 16000


class WindowedEnhancementTask(EnhancementTask):
    """:class:`EnhancementTask` whose model runs on fixed windows, overlap-added as in the stage."""

    @property
    def window_samples(self) -> int:
        return int(self.model_config["window_samples"])

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        batch, channels, samples = noisy.shape
        out = overlap_add_forward(self.model, noisy.reshape(batch * channels, samples), self.window_samples)
        return out.reshape(batch, channels, samples)


def build_task(recipe: Recipe) -> WindowedEnhancementTask:
    """The task for ``recipe`` (its ``model`` section overrides the default architecture)."""
    config = ConvAutoencoderConfig.from_dict({**recipe.model, "sample_rate": SAMPLE_RATE})
    return WindowedEnhancementTask(ConvAutoencoder(config), build_loss(recipe.losses, sample_rate=SAMPLE_RATE),
                                   recipe.optimizer_config(), model_config=config.to_dict(),
                                   adversarial=recipe.adversarial_loss(), **recipe.task)


def weights_config(task: EnhancementTask) -> dict[str, Any]:
    """The JSON config shipped beside the weights."""
    return {"stage": STAGE, "architecture": "ConvAutoencoder", "sample_rate": SAMPLE_RATE,
            "model": dict(task.model_config)}
