"""Training task of ``gan_refiner``: (output of a frozen front stage) -> studio reference.

The refiner learns what a denoiser leaves, so its input is the degraded audio passed
through the front stage named by the recipe's ``task.front`` (default ``mel_unet``; ``none``
trains on the degraded audio itself) with the weights ``task.front_weights`` (a preset or a
file; default ``default``). The front runs frozen, in inference mode, inside every step.
Regression losses first, then the recipe's ``adversarial`` phase (:mod:`aural.losses.adversarial`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from aural.losses import build_loss
from aural.stages.gan_refiner.model import RefinerConfig, SpectralRefiner
from aural.train.recipe import Recipe
from aural.train.task import EnhancementTask

STAGE = "gan_refiner"
SAMPLE_RATE = 16000


@dataclass
class RefinerTask(EnhancementTask):
    front: nn.Module | None = None

    def pair(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        degraded, target = super().pair(batch)
        if self.front is None:
            return degraded, target
        with torch.inference_mode():
            shape = degraded.shape
            restored = self.front(degraded.reshape(-1, 1, shape[-1])).reshape(shape)
        return restored.clone(), target

    def to(self, device: torch.device) -> "RefinerTask":
        super().to(device)
        if self.front is not None:
            self.front.to(device)
        return self


def front_model(name: str | None, weights_name: str = "default") -> nn.Module | None:
    """The frozen front stage's network with ``weights_name`` (a preset or a file; ``None``/``"none"``:
    no front)."""
    if name in (None, "none"):
        return None
    from aural import weights
    from aural.stages import get_stage

    stage_cls = get_stage(name)
    model, _, _ = weights.load_model(name, weights_name, stage_cls.model_factory)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model.eval()


def build_task(recipe: Recipe) -> RefinerTask:
    options = dict(recipe.task)
    front = options.pop("front", "mel_unet")
    front_weights = options.pop("front_weights", "default")
    config = RefinerConfig.from_dict({**recipe.model, "sample_rate": SAMPLE_RATE})
    return RefinerTask(SpectralRefiner(config), build_loss(recipe.losses, sample_rate=SAMPLE_RATE),
                       recipe.optimizer_config(), model_config=config.to_dict(),
                       adversarial=recipe.adversarial_loss(), front=front_model(front, front_weights), **options)


def weights_config(task: RefinerTask) -> dict[str, Any]:
    return {"stage": STAGE, "architecture": "SpectralRefiner", "sample_rate": SAMPLE_RATE,
            "model": dict(task.model_config)}
