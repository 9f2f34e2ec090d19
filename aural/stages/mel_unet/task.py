"""Training task of ``mel_unet``: waveform in, waveform out through STFT gains."""

from __future__ import annotations

from typing import Any

from torch import nn

from aural.losses import build_loss
from aural.stages.mel_unet.model import MelUNet, MelUNetConfig
from aural.train.recipe import Recipe
from aural.train.task import EnhancementTask

STAGE = "mel_unet"
SAMPLE_RATE = 16000
_GROUPS = {"encoder": "encoder", "down": "encoder", "bottleneck": "bottleneck",
           "up": "decoder", "decoder": "decoder", "head": "decoder"}


class MelUNetTask(EnhancementTask):
    """Logs gradient norms of both U-Nets' encoders, bottlenecks and decoders together."""

    def grad_norm_groups(self) -> dict[str, list[nn.Parameter]]:
        model = getattr(self.model, "module", self.model)
        groups: dict[str, list[nn.Parameter]] = {}
        for name, parameter in model.named_parameters():
            part = name.split(".")[1] if name.count(".") >= 1 else name
            groups.setdefault(_GROUPS.get(part, "other"), []).append(parameter)
        return groups


def build_task(recipe: Recipe) -> MelUNetTask:
    config = MelUNetConfig.from_dict({**recipe.model, "sample_rate": SAMPLE_RATE})
    return MelUNetTask(MelUNet(config), build_loss(recipe.losses, sample_rate=SAMPLE_RATE),
                       recipe.optimizer_config(), model_config=config.to_dict(),
                       adversarial=recipe.adversarial_loss(), **recipe.task)


def weights_config(task: EnhancementTask) -> dict[str, Any]:
    return {"stage": STAGE, "architecture": "MelUNet", "sample_rate": SAMPLE_RATE,
            "model": dict(task.model_config)}
