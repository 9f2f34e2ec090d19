"""Training tasks: what the trainer asks of a learned thing (Lightning-style method names).

A task owns its ``model`` and losses and answers three questions: the loss of a training
batch, the metrics of a validation batch, and its optimizer and schedule. The trainer knows
nothing else about it. :class:`EnhancementTask` covers every stage that maps degraded
audio to clean audio of the same length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol, runtime_checkable

import torch
from torch import nn

from aural.errors import UsageError
from aural.losses import WeightedLoss
from aural.losses.intelligibility import STOILoss
from aural.losses.time import si_sdr
from aural.train.checkpoint import read_checkpoint


@runtime_checkable
class TrainingTask(Protocol):
    """The protocol; ``grad_norm_groups`` and ``model_config`` are optional extras."""

    model: nn.Module

    def training_step(self, batch: Any) -> dict[str, torch.Tensor]:
        """Forward one batch; ``"loss"`` (with a graph) is minimised, other entries are logged."""

    def validation_step(self, batch: Any) -> dict[str, torch.Tensor]:
        """Metrics of one batch: scalars, or ``(batch,)`` tensors averaged per item."""

    def configure_optimizers(self) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
        """The optimizer over ``model`` and its learning-rate schedule (stepped every step)."""


@dataclass(frozen=True)
class OptimizerConfig:
    """Adam with linear warm-up and cosine (or no) decay to ``min_lr_ratio * lr``."""

    lr: float = 3e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    warmup_steps: int = 200
    decay: str = "cosine"
    min_lr_ratio: float = 0.05
    total_steps: int = 10000

    def __post_init__(self) -> None:
        if self.decay not in ("cosine", "constant"):
            raise ValueError(f"decay must be 'cosine' or 'constant', got {self.decay!r}")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))


class LRSchedule:
    """``step -> lr factor``; plain fields only, so LambdaLR's state stays JSON-able."""

    def __init__(self, config: OptimizerConfig):
        self.warmup_steps = config.warmup_steps
        self.decay = config.decay
        self.min_lr_ratio = config.min_lr_ratio
        self.total_steps = config.total_steps

    def __call__(self, step: int) -> float:
        if self.warmup_steps and step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.decay == "constant":
            return 1.0
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def adam_with_schedule(parameters: Iterable[nn.Parameter], config: OptimizerConfig):
    optimizer = torch.optim.Adam(parameters, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, LRSchedule(config))
    return optimizer, scheduler


METRIC_CAP_DB = 40.0  # an exact (or noise-free) item would score +inf and swamp every mean


def snr_db(estimate: torch.Tensor, target: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """SNR of ``estimate`` against ``target`` in dB over the last two axes, one value per item."""
    dims = tuple(range(1, target.ndim))
    signal = target.pow(2).sum(dim=dims)
    error = (estimate - target).pow(2).sum(dim=dims)
    return 10.0 * torch.log10((signal + eps) / (error + eps))


def unpack_pair(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``{"noisy", "clean"}`` mapping or ``(noisy, clean)`` -> ``(batch, channels, samples)`` each."""
    if isinstance(batch, Mapping):
        noisy, clean = batch["noisy"], batch["clean"]
    else:
        noisy, clean = batch[0], batch[1]
    if noisy.ndim == 2:
        noisy, clean = noisy.unsqueeze(1), clean.unsqueeze(1)
    return noisy, clean


def match_level(noisy: torch.Tensor, clean: torch.Tensor, limits: tuple[float, float] = (0.1, 10.0)) -> torch.Tensor:
    """``clean`` scaled per item and channel to its level inside ``noisy`` (least-squares gain).

    Training on such targets teaches a model to remove degradations without changing the
    loudness (the pipeline's mastering stage sets that); silent references keep gain one.
    """
    energy = clean.pow(2).sum(dim=-1, keepdim=True)
    gain = (noisy * clean).sum(dim=-1, keepdim=True) / energy.clamp_min(1e-12)
    gain = torch.where(energy > 1e-8, gain.clamp(*limits), torch.ones_like(gain))
    return clean * gain


@dataclass
class EnhancementTask:
    """Degraded -> clean waveform regression for a model mapping ``(B, C, T)`` to ``(B, C, T)``.

    ``forward`` adapts batches to the model (e.g. folding channels into the batch); the
    loss is a :class:`~aural.losses.WeightedLoss`. With ``match_level`` every reference is first
    scaled to its level in the degraded input (:func:`match_level`), for training and
    validation alike. Validation reports ``loss`` and, per item,
    ``snr`` and ``si_sdr`` of the output, of the input (``*_input``) and their difference
    (``*_gain``), in dB, each capped at ``METRIC_CAP_DB`` (40 dB: items whose input is
    already clean would otherwise score infinity); with a ``sample_rate`` in ``model_config``,
    also ``stoi_approx`` (and ``*_input``, ``*_gain``): the differentiable STOI of
    :mod:`aural.losses.intelligibility`, which tracks ``pystoi`` closely and costs little.
    With ``trainable`` (parameter name prefixes, e.g. ``["deep_filter"]``) only those parameters
    train and the rest of the model is frozen (no gradients are computed for it).
    """

    model: nn.Module
    loss: WeightedLoss
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    model_config: dict[str, Any] = field(default_factory=dict)
    match_level: bool = False
    adversarial: Any = None  # an AdversarialLoss: a GAN phase from its start_step on
    trainable: tuple[str, ...] = ()
    step: int = 0

    def pair(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """``(degraded, target)``; with ``match_level`` the target takes the input's level."""
        noisy, clean = unpack_pair(batch)
        return noisy, (match_level(noisy, clean) if self.match_level else clean)

    def to(self, device: torch.device) -> "EnhancementTask":
        self.model.to(device)
        self.loss.to(device)
        if self.adversarial is not None:
            self.adversarial.to(device)
        return self

    def set_step(self, step: int) -> None:
        """The trainer's step before each ``training_step`` (switches the adversarial phase on)."""
        self.step = step

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        batch, channels, samples = noisy.shape
        out = self.model(noisy.reshape(batch * channels, 1, samples))
        return out.reshape(batch, channels, samples)

    def training_step(self, batch: Any) -> dict[str, torch.Tensor]:
        noisy, clean = self.pair(batch)
        estimate = self.matching(self.forward(noisy), clean)
        total, parts = self.loss(estimate, clean)
        if self.adversarial is not None and self.adversarial.active(self.step):
            parts.update(self.adversarial.discriminator_step(estimate, clean))
            generator = self.adversarial.generator_losses(estimate, clean)
            total = total + self.adversarial.total(generator)
            parts.update(generator)
        return {"loss": total, **parts}

    def state_tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """What a checkpoint keeps besides the model: the discriminators and their optimizer."""
        if self.adversarial is None:
            return {}, {}
        tensors, info = self.adversarial.state_tensors()
        return {f"adversarial.{k}": v for k, v in tensors.items()}, {"adversarial": info}

    def load_state_tensors(self, tensors: Mapping[str, torch.Tensor], info: Mapping[str, Any]) -> None:
        if self.adversarial is None or "adversarial" not in info:
            return
        own = {k[len("adversarial."):]: v for k, v in tensors.items() if k.startswith("adversarial.")}
        self.adversarial.load_state_tensors(own, info["adversarial"])

    def carry_discriminators(self, checkpoint: Path) -> bool:
        """Start the GAN phase with the discriminators of another run's training checkpoint
        (``--init`` from a GAN run), so a fine-tune does not meet fresh critics: True when the
        file holds discriminators of this run's architecture, else False (they start fresh)."""
        if self.adversarial is None:
            return False
        try:
            tensors, _ = read_checkpoint(checkpoint)
        except UsageError:  # exported weights: a generator only
            return False
        prefix = "aux.adversarial."
        return self.adversarial.load_discriminators({k[len(prefix):]: v for k, v in tensors.items()
                                                     if k.startswith(prefix)})

    @staticmethod
    def matching(estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``estimate``, if it has the target's shape; else the error that says the data does
        not suit the model (e.g. fusion material with a voice network's recipe)."""
        if estimate.shape != target.shape:
            raise UsageError(f"the model gives {tuple(estimate.shape)} for a target of {tuple(target.shape)}: "
                             "the training data does not suit this model (check the recipe's model)")
        return estimate

    @torch.no_grad()
    def validation_step(self, batch: Any) -> dict[str, torch.Tensor]:
        noisy, clean = self.pair(batch)
        estimate = self.matching(self.forward(noisy), clean).float()
        total, _ = self.loss(estimate, clean)
        cap = METRIC_CAP_DB
        output_snr = snr_db(estimate, clean).clamp(max=cap)
        input_snr = snr_db(noisy, clean).clamp(max=cap)
        sdr = si_sdr(estimate.flatten(1), clean.flatten(1)).clamp(max=cap)
        input_sdr = si_sdr(noisy.float().flatten(1), clean.flatten(1)).clamp(max=cap)
        metrics = {"loss": total.detach(), "snr": output_snr, "snr_input": input_snr,
                   "snr_gain": output_snr - input_snr, "si_sdr": sdr, "si_sdr_input": input_sdr,
                   "si_sdr_gain": sdr - input_sdr}
        sample_rate = self.model_config.get("sample_rate")
        if sample_rate:
            intelligibility = self._intelligibility(int(sample_rate), clean.device)
            output_stoi = intelligibility.score(estimate, clean.float()).mean(dim=-1)
            input_stoi = intelligibility.score(noisy.float(), clean.float()).mean(dim=-1)
            metrics.update(stoi_approx=output_stoi, stoi_approx_input=input_stoi,
                           stoi_approx_gain=output_stoi - input_stoi)
        return metrics

    def _intelligibility(self, sample_rate: int, device: torch.device) -> STOILoss:
        cached = getattr(self, "_stoi", None)
        if cached is None or cached.window.device != device:
            cached = self._stoi = STOILoss(sample_rate).to(device)
        return cached

    def configure_optimizers(self):
        return adam_with_schedule(self.trained_parameters(), self.optimizer)

    def trained_parameters(self) -> list[nn.Parameter]:
        """All parameters, or with ``trainable`` only those under its prefixes (the others
        stop requiring gradients)."""
        if not self.trainable:
            return list(self.model.parameters())
        prefixes = tuple(str(prefix) for prefix in self.trainable)
        named = list(self.model.named_parameters())
        unmatched = [p for p in prefixes if not any(name.startswith(p) for name, _ in named)]
        if unmatched:
            raise UsageError(f"task.trainable: no parameters named {', '.join(unmatched)}*")
        for name, parameter in named:
            parameter.requires_grad_(name.startswith(prefixes))
        return [parameter for name, parameter in named if name.startswith(prefixes)]

    def grad_norm_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by top-level child of the model, for ``grad_norm/<child>`` logs."""
        model = getattr(self.model, "module", self.model)
        return {name: list(child.parameters()) for name, child in model.named_children()
                if any(True for _ in child.parameters())}
