"""Training task of ``freq_expansion``: regress the log power of the missing band.

The regression phase needs no waveform: the loss is the mean squared difference of log10
power between the prediction and the full-band reference over the bins above each frame's
detected cutoff, which is the square of the log-spectral distance (LSD) restricted to the
band being generated, and below each item's ``top_hz`` (the band its reference is known in:
a 44.1 kHz source says nothing about 20-24 kHz; with the recipe's ``data.known_band: false`` the
whole band up to 24 kHz, for material whose empty top is what it should have). Validation runs the whole stage path
(expansion, inverse STFT) and scores the LSD of the output and of the input against the
reference within the same band (:mod:`aural.metrics.spectral`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aural.errors import ConfigError
from aural.stages.freq_expansion.model import LOG_FLOOR, BandwidthExtender, FreqExpansionConfig
from aural.train.recipe import Recipe
from aural.train.task import OptimizerConfig, adam_with_schedule, unpack_pair

STAGE = "freq_expansion"
SAMPLE_RATE = 48000
ITEMS_PER_FILE = 200
VAL_ITEMS = 48
VAL_SEGMENT_S = 4.0


def missing_band_mse(predicted: torch.Tensor, reference_power: torch.Tensor, cutoff: torch.Tensor,
                     top_bin: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared log10-power error over the bins at or above each frame's cutoff of
    ``(B, T, bins)`` spectra (and below each item's ``top_bin``, ``(B,)``, when given)."""
    bins = torch.arange(predicted.shape[-1], device=predicted.device)
    mask = bins >= cutoff.unsqueeze(-1)
    if top_bin is not None:
        mask = mask & (bins < top_bin.reshape(-1, 1, 1))
    mask = mask.to(predicted.dtype)
    error = (predicted - torch.log10(reference_power + LOG_FLOOR)).pow(2)
    return (error * mask).sum() / mask.sum().clamp_min(1.0)


@dataclass
class FreqExpansionTask:
    """The trainer's view of :class:`BandwidthExtender`: batches of ``(band-limited, full band)``
    crops, the missing-band loss, LSD in validation, Adam with the recipe's schedule."""

    model: BandwidthExtender
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    model_config: dict[str, Any] = field(default_factory=dict)

    def to(self, device: torch.device) -> "FreqExpansionTask":
        self.model.to(device)
        return self

    @property
    def network(self) -> BandwidthExtender:
        return getattr(self.model, "module", self.model)

    def _band_loss(self, limited: torch.Tensor, reference: torch.Tensor, top_hz: torch.Tensor | None) -> torch.Tensor:
        net = self.network
        spec, _, _ = net.analyse(limited)
        reference_spec, _, _ = net.analyse(reference)
        cutoff = net.settled_cutoff(net.track_cutoff(spec))
        power = spec.real.pow(2) + spec.imag.pow(2)
        predicted = self.model_predict(torch.log10(power + LOG_FLOOR), cutoff)
        reference_power = reference_spec.real.pow(2) + reference_spec.imag.pow(2)
        top_bin = None if top_hz is None else torch.floor(top_hz.to(limited.device) / self.bin_hz) + 1
        return missing_band_mse(predicted, reference_power, cutoff, top_bin)

    @property
    def bin_hz(self) -> float:
        return self.network.config.sample_rate / self.network.config.n_fft

    def model_predict(self, log_power: torch.Tensor, cutoff: torch.Tensor) -> torch.Tensor:
        return self.model(log_power=log_power, cutoff=cutoff)  # the wrapper's forward: DDP syncs

    def training_step(self, batch: Any) -> dict[str, torch.Tensor]:
        limited, reference = unpack_pair(batch)
        loss = self._band_loss(limited.flatten(0, 1), reference.flatten(0, 1), known_top(batch, limited))
        return {"loss": loss}

    @torch.no_grad()
    def validation_step(self, batch: Any) -> dict[str, torch.Tensor]:
        from aural.metrics.spectral import log_spectral_distance

        limited, reference = unpack_pair(batch)
        top_hz = known_top(batch, limited)
        limited, reference = limited.flatten(0, 1).float(), reference.flatten(0, 1).float()
        loss = self._band_loss(limited, reference, top_hz)
        expanded = self.network(limited)
        tops = [None] * limited.shape[0] if top_hz is None else top_hz.tolist()
        output, before = [], []
        for est, inp, ref, top in zip(expanded.cpu().numpy(), limited.cpu().numpy(), reference.cpu().numpy(), tops):
            output.append(log_spectral_distance(ref, est, SAMPLE_RATE, max_frequency_hz=top))
            before.append(log_spectral_distance(ref, inp, SAMPLE_RATE, max_frequency_hz=top))
        lsd = torch.tensor(output, dtype=torch.float64)
        lsd_input = torch.tensor(before, dtype=torch.float64)
        return {"loss": loss.detach(), "lsd": lsd, "lsd_input": lsd_input, "lsd_gain": lsd_input - lsd}

    def configure_optimizers(self):
        return adam_with_schedule(self.model.parameters(), self.optimizer)

    def grad_norm_groups(self) -> dict[str, list[nn.Parameter]]:
        net = self.network
        return {"input": list(net.input.parameters()), "blocks": list(net.blocks.parameters()),
                "output": list(net.output.parameters())}


def known_top(batch: Any, limited: torch.Tensor) -> torch.Tensor | None:
    """Per row of ``limited.flatten(0, 1)``, the band its reference is known in (Hz), if the batch says."""
    if isinstance(batch, (tuple, list)) and len(batch) > 2:
        return batch[2].reshape(-1, 1).expand(-1, limited.shape[1]).reshape(-1).float()
    return None


def build_task(recipe: Recipe) -> FreqExpansionTask:
    """The task of ``recipe``; its own loss (:func:`missing_band_mse`), so a recipe that names
    ``losses`` or an ``adversarial`` phase is refused rather than silently trained without them."""
    if recipe.adversarial:
        raise ConfigError(f"{recipe.source} adversarial: freq_expansion has no GAN phase (it trains on the "
                          "missing band's log power); remove the key")
    if recipe.losses != Recipe.__dataclass_fields__["losses"].default:
        raise ConfigError(f"{recipe.source} losses: freq_expansion trains on its own missing-band loss; "
                          "remove the key")
    config = FreqExpansionConfig.from_dict({**recipe.model, "sample_rate": SAMPLE_RATE})
    return FreqExpansionTask(BandwidthExtender(config), recipe.optimizer_config(), model_config=config.to_dict())


def weights_config(task: FreqExpansionTask) -> dict[str, Any]:
    return {"stage": STAGE, "architecture": "BandwidthExtender", "sample_rate": SAMPLE_RATE,
            "model": dict(task.model_config)}


def build_datasets(data: Path, val_data: Path | None, options: Any):
    """Full-band files (a folder or a ``.txt`` list) -> band-limited training and validation sets."""
    from aural.stages.freq_expansion.data import BandLimitDataset, list_files

    files = list_files(data)
    val_segment = int(VAL_SEGMENT_S * SAMPLE_RATE)
    if val_data is None:
        train = BandLimitDataset(files, segment_samples=options.segment_samples, seed=options.seed,
                                 split="train", val_fraction=0.1, known_band=options.known_band)
        train.num_items = len(train.files) * ITEMS_PER_FILE
        val = BandLimitDataset(files, segment_samples=val_segment, seed=options.seed + 1, split="val",
                               val_fraction=0.1, damage=False, num_items=VAL_ITEMS, known_band=options.known_band)
        where = f"{data}: a fixed 10 % of the files (by name hash)"
    else:
        train = BandLimitDataset(files, segment_samples=options.segment_samples, seed=options.seed,
                                 known_band=options.known_band)
        train.num_items = len(train.files) * ITEMS_PER_FILE
        val = BandLimitDataset(list_files(val_data), segment_samples=val_segment, seed=options.seed + 1,
                               damage=False, num_items=VAL_ITEMS, known_band=options.known_band)
        where = str(val_data)
    unique = len(set(train.files))
    repeats = f", {len(train.files)} list entries" if unique != len(train.files) else ""
    description = {"training data": f"{data} ({unique} full-band files{repeats}, band-limited on the fly)",
                   "degradation": "cutoffs 4/5.5/8/11.025/12/16 kHz (x0.95-1.03); soxr, Butterworth, Chebyshev I, "
                                  "elliptic and FIR low-passes; 45 % noise, mu-law or lossy-codec damage before",
                   "scored band": ("each source's known band (known_top_hz)" if options.known_band
                                   else "up to 24 kHz, whatever the source holds (data.known_band: false)"),
                   "validation data": where, "training items": len(train), "validation items": len(val)}
    return train, val, description
