"""The adversarial loss as one object: discriminators, their optimizer and their step.

A task that trains adversarially holds an :class:`AdversarialLoss` and, once the recipe's
``start_step`` is reached (after a regression phase: never GAN from scratch), calls it from
``training_step``: :meth:`AdversarialLoss.discriminator_step` updates the discriminators on
the detached output and the reference, :meth:`AdversarialLoss.generator_losses` returns the
generator's adversarial and feature-matching terms. The trainer keeps one loop and never
sees a discriminator; checkpoints carry the discriminators and their optimizer through
:meth:`state_tensors` / :meth:`load_state_tensors` (safetensors + JSON, no pickle).

Losses: ``hinge`` (``relu(1 - D(real)) + relu(1 + D(fake))``; generator ``-D(fake)``) or
``lsgan`` (``(D(real) - 1)^2 + D(fake)^2``; generator ``(D(fake) - 1)^2``), each averaged
over sub-discriminators; feature matching is the L1 distance of every intermediate feature
map of fake and real, relative to the real map's mean magnitude (MelGAN).
Under ``torchrun`` the discriminators start from rank 0's weights and their gradients are
averaged across ranks before each step, as DistributedDataParallel would do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

import torch
import torch.distributed as dist
from torch import nn

from aural.nn.discriminators import CombinedDiscriminator, DiscriminatorConfig, Judgement

LOSS_KINDS = ("hinge", "lsgan")


@dataclass(frozen=True)
class AdversarialConfig:
    """Recipe section ``adversarial:``."""

    start_step: int = 1000
    weight: float = 1.0
    feature_matching_weight: float = 2.0
    loss: str = "hinge"
    lr: float = 2e-4
    betas: tuple[float, float] = (0.8, 0.99)
    grad_clip: float | None = 10.0
    discriminators: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)

    def __post_init__(self) -> None:
        if self.loss not in LOSS_KINDS:
            raise ValueError(f"adversarial.loss must be one of {', '.join(LOSS_KINDS)}, got {self.loss!r}")
        if self.start_step < 1:
            raise ValueError("adversarial.start_step must be >= 1: the GAN phase follows a regression phase")
        if self.weight < 0 or self.feature_matching_weight < 0 or self.lr <= 0:
            raise ValueError("adversarial: weight and feature_matching_weight must be >= 0, lr > 0")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "AdversarialConfig":
        values = dict(values)
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"adversarial: unknown keys {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        discriminators = values.pop("discriminators", None) or {}
        disc_known = {f.name for f in fields(DiscriminatorConfig)}
        if not isinstance(discriminators, Mapping) or set(discriminators) - disc_known:
            raise ValueError(f"adversarial.discriminators: expected a mapping of {', '.join(sorted(disc_known))}")
        disc = DiscriminatorConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in discriminators.items()})
        return cls(**values, discriminators=disc)


def _hinge_disc(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return nn.functional.relu(1 - real).mean() + nn.functional.relu(1 + fake).mean()


def _lsgan_disc(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return (real - 1).pow(2).mean() + fake.pow(2).mean()


class AdversarialLoss(nn.Module):
    """Discriminators + optimizer + step; generator-side losses for the task's total."""

    def __init__(self, config: AdversarialConfig | None = None):
        super().__init__()
        self.config = config or AdversarialConfig()
        self.discriminator = CombinedDiscriminator(self.config.discriminators)
        self.optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=self.config.lr,
                                          betas=self.config.betas)
        self._synced = False

    def active(self, step: int) -> bool:
        return step >= self.config.start_step

    # -- discriminator ---------------------------------------------------------------------------
    def discriminator_step(self, fake: torch.Tensor, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """One update of the discriminators; returns ``loss/disc`` and ``grad_norm/discriminator``."""
        self._sync_from_rank0()
        self._set_trainable(True)
        fake_judgements = self.discriminator(_as_batch(fake.detach()))
        real_judgements = self.discriminator(_as_batch(real.detach()))
        judge = _hinge_disc if self.config.loss == "hinge" else _lsgan_disc
        loss = sum(judge(r, f) for (r, _), (f, _) in zip(real_judgements, fake_judgements)) / len(real_judgements)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self._average_gradients()
        clip = self.config.grad_clip if self.config.grad_clip else math.inf
        norm = torch.nn.utils.clip_grad_norm_(self.discriminator.parameters(), clip)
        if torch.isfinite(norm):
            self.optimizer.step()
        return {"loss/disc": loss.detach(), "grad_norm/discriminator": norm.detach()}

    # -- generator -----------------------------------------------------------------------------------
    def generator_losses(self, fake: torch.Tensor, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """``loss/gen_adv`` and ``loss/feature_matching`` (with graphs into the generator)."""
        self._set_trainable(False)
        fake_judgements = self.discriminator(_as_batch(fake))
        with torch.no_grad():
            real_judgements = self.discriminator(_as_batch(real))
        if self.config.loss == "hinge":
            adversarial = sum(-logits.mean() for logits, _ in fake_judgements)
        else:
            adversarial = sum((logits - 1).pow(2).mean() for logits, _ in fake_judgements)
        adversarial = adversarial / len(fake_judgements)
        return {"loss/gen_adv": adversarial, "loss/feature_matching": feature_matching(fake_judgements, real_judgements)}

    def total(self, parts: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The generator's weighted adversarial contribution."""
        return self.config.weight * parts["loss/gen_adv"] + \
            self.config.feature_matching_weight * parts["loss/feature_matching"]

    # -- checkpoints ---------------------------------------------------------------------------------
    def state_tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Tensors (``discriminator.*``, ``optim.*``) and JSON info for a checkpoint."""
        from aural.train.checkpoint import flatten_optimizer

        tensors = {f"discriminator.{k}": v for k, v in self.discriminator.state_dict().items()}
        optim_tensors, optim_info = flatten_optimizer(self.optimizer)
        tensors.update(optim_tensors)
        return tensors, {"optimizer": optim_info}

    def load_state_tensors(self, tensors: Mapping[str, torch.Tensor], info: Mapping[str, Any]) -> None:
        from aural.train.checkpoint import unflatten_optimizer

        self.discriminator.load_state_dict(_discriminator_state(tensors), strict=True)
        optim = {k: v for k, v in tensors.items() if k.startswith("optim.")}
        self.optimizer.load_state_dict(unflatten_optimizer(optim, info["optimizer"]))
        self._synced = True

    def load_discriminators(self, tensors: Mapping[str, torch.Tensor]) -> bool:
        """Take the discriminators (``discriminator.*``) of another run, not its optimizer: True
        when they have this run's architecture, else False and the discriminators stay as they are."""
        state = _discriminator_state(tensors)
        own = self.discriminator.state_dict()
        if state.keys() != own.keys() or any(state[k].shape != own[k].shape for k in own):
            return False
        self.discriminator.load_state_dict(state, strict=True)
        return True

    # -- internals -----------------------------------------------------------------------------------
    def _set_trainable(self, trainable: bool) -> None:
        for parameter in self.discriminator.parameters():
            parameter.requires_grad_(trainable)

    def _distributed(self) -> bool:
        return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1

    def _sync_from_rank0(self) -> None:
        if self._synced:
            return
        self._synced = True
        if self._distributed():
            for tensor in self.discriminator.state_dict().values():
                dist.broadcast(tensor, src=0)

    def _average_gradients(self) -> None:
        if not self._distributed():
            return
        world = dist.get_world_size()
        for parameter in self.discriminator.parameters():
            if parameter.grad is not None:
                dist.all_reduce(parameter.grad)
                parameter.grad /= world


def _discriminator_state(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The discriminators' own keys of a checkpoint part (``discriminator.*``, prefix removed)."""
    return {k[len("discriminator."):]: v for k, v in tensors.items() if k.startswith("discriminator.")}


def feature_matching(fake: list[Judgement], real: list[Judgement]) -> torch.Tensor:
    """Mean over every feature map of ``|fake - real| / mean|real|``."""
    terms = []
    for (_, fake_maps), (_, real_maps) in zip(fake, real):
        for f, r in zip(fake_maps, real_maps):
            terms.append((f - r).abs().mean() / r.abs().mean().clamp_min(1e-5))
    return torch.stack(terms).mean()


def _as_batch(audio: torch.Tensor) -> torch.Tensor:
    """``(B, C, T)`` or ``(B, T)`` -> ``(B * C, 1, T)``."""
    return audio.reshape(-1, 1, audio.shape[-1])
