"""Training task of ``separation``: mixture in, the voice as it sits in the mixture out.

``aural train separation --data DIR`` takes a folder holding ``voice`` and ``background``
(each a folder of audio or a ``.txt`` list of files, e.g. ``voice.txt``), or a folder of
speech with ``--noise`` naming the backgrounds (noise, ambience, music beds); then a fixed
10 % of each (by name hash) validates unless ``--val-data`` gives another such folder.
Mixtures are made on the fly (:class:`~aural.stages.separation.data.MixtureDataset`);
validation mixes at -5 to +5 dB, as the evaluation does.

A folder of fusion material (``fusion.json`` in it: :mod:`aural.stages.separation.fusion_data`)
with a recipe whose model is ``network: voice_fusion`` trains the ``deepfilter_fusion`` network
instead (:class:`FusionTask`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from aural.errors import UsageError
from aural.losses import build_loss
from aural.losses.time import si_sdr
from aural.stages.mel_unet.model import MelUNet
from aural.stages.mel_unet.task import MelUNetTask
from aural.stages.separation.model import build_model
from aural.train.datasets import split_of
from aural.train.recipe import Recipe
from aural.train.task import METRIC_CAP_DB, EnhancementTask

STAGE = "separation"
SAMPLE_RATE = 16000
ITEMS_PER_VOICE = 100
ITEMS_PER_FUSION_FILE = 10  # random crops of each material file per epoch
VAL_ITEMS = 64
VAL_SEGMENT_S = 4.0
VAL_FRACTION = 0.1


def build_task(recipe: Recipe) -> EnhancementTask:
    """The network ``recipe.model`` names (:func:`build_model`); the MelUNet's task also logs
    its encoder / bottleneck / decoder gradient norms, the VoiceFusion's is :class:`FusionTask`."""
    from aural.stages.separation.fusion import VoiceFusion

    model = build_model(recipe.model)
    task = MelUNetTask if isinstance(model, MelUNet) else FusionTask if isinstance(model, VoiceFusion) \
        else EnhancementTask
    return task(model, build_loss(recipe.losses, sample_rate=SAMPLE_RATE), recipe.optimizer_config(),
                model_config=model.config.to_dict(), adversarial=recipe.adversarial_loss(), **recipe.task)


def weights_config(task: EnhancementTask) -> dict[str, Any]:
    model = getattr(task.model, "module", task.model)
    return {"stage": STAGE, "architecture": type(model.config).architecture, "sample_rate": SAMPLE_RATE,
            "model": dict(task.model_config)}


def _entry(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.txt"):
        if candidate.exists():
            return candidate
    return None


def _sources(data: Path, noise_dir: Path | None) -> tuple[list[Path], list[Path], bool]:
    """``(voices, backgrounds, has_own_layout)`` of a data folder."""
    from aural.stages.freq_expansion.data import list_files

    voice, background = _entry(data, "voice"), _entry(data, "background")
    if voice is not None and background is not None:
        return list_files(voice), list_files(background), True
    if noise_dir is None:
        raise UsageError(f"{data}: separation data needs voice/ and background/ (folders or .txt lists) "
                         "inside it, or speech in it and --noise naming the backgrounds")
    return list_files(data), list_files(noise_dir), False


def _split(files: list[Path], split: str) -> list[Path]:
    chosen = [f for f in files if split_of(f.name, VAL_FRACTION) == split]
    if not chosen:
        raise UsageError(f"no file falls in the {split} split of {len(files)}; pass --val-data")
    return chosen


def build_datasets(data: Path, val_data: Path | None, options: Any):
    """Voices and backgrounds -> on-the-fly mixtures for training and validation; a folder of
    fusion material (:mod:`aural.stages.separation.fusion_data`) -> crops of it."""
    from aural.stages.separation.data import EVAL_SNR_DB, MixtureDataset
    from aural.stages.separation.fusion_data import is_material

    if is_material(Path(data)):
        return _fusion_datasets(Path(data), val_data, options)
    voices, backgrounds, _ = _sources(Path(data), options.noise_dir)
    if val_data is None:
        val_voices, val_backgrounds = _split(voices, "val"), _split(backgrounds, "val")
        voices, backgrounds = _split(voices, "train"), _split(backgrounds, "train")
        where = f"{data}: a fixed {VAL_FRACTION:.0%} of the voices and backgrounds (by name hash)"
    else:
        val_voices, val_backgrounds, _ = _sources(Path(val_data), None)
        where = str(val_data)
    train = MixtureDataset(voices, backgrounds, segment_samples=options.segment_samples, seed=options.seed,
                           num_items=len(voices) * ITEMS_PER_VOICE, augment=options.augment)
    val = MixtureDataset(val_voices, val_backgrounds, segment_samples=int(VAL_SEGMENT_S * SAMPLE_RATE),
                         seed=options.seed + 1, num_items=VAL_ITEMS, snr_db=EVAL_SNR_DB, voice_only=False)
    description = {"training data": f"{data} ({len(voices)} voices, {len(backgrounds)} backgrounds, mixed on the fly)",
                   "mixing": "voice-to-background -8 to +12 dB, 30 % of voices in a synthetic room (RT60 0.15-1 s), "
                             "25 % two backgrounds, 4 % voice only; mixture level -38 to -16 dBFS"
                             + ("; each voice and background sped up or slowed down (voices 0.88-1.12, "
                                "backgrounds 0.8-1.25) and equalised, each with probability 0.5"
                                if options.augment else ""),
                   "validation data": f"{where}: mixtures at -5 to +5 dB",
                   "training items": len(train), "validation items": len(val)}
    return train, val, description


def _fusion_datasets(data: Path, val_data: Path | None, options: Any):
    from aural.stages.separation.fusion_data import FusionMaterial, describe, material_split

    files, val_files = material_split(data, VAL_FRACTION)
    if val_data is not None:
        files, val_files = files + val_files, material_split(Path(val_data), 0.0)[0]
    if not val_files:
        raise UsageError(f"{data}: no material file falls in the validation split; pass --val-data")
    train = FusionMaterial(files, segment_samples=options.segment_samples, seed=options.seed,
                           num_items=len(files) * ITEMS_PER_FUSION_FILE)
    made = describe(data)
    whole_item = int(describe(Path(val_data) if val_data else data)["segment_s"] * SAMPLE_RATE)
    val = FusionMaterial(val_files, segment_samples=whole_item, fixed_offset=True)
    description = {"training data": f"{data}: {len(files)} mixtures with the separation network's and "
                                    f"DeepFilterNet3's voice (made from {made['voices']} voices and "
                                    f"{made['backgrounds']} backgrounds, seed {made['seed']})",
                   "validation data": f"{val_data or data}: {len(val_files)} mixtures"
                                      + ("" if val_data else f" (a fixed {VAL_FRACTION:.0%}, by name hash)"),
                   "training items": len(train), "validation items": len(val)}
    return train, val, description


class FusionTask(EnhancementTask):
    """Training of :class:`~aural.stages.separation.fusion.VoiceFusion`: batches of
    ``(mixture / network / deepfilter (B, 3, T), voice (B, 1, T))``. Validation reports the
    fused voice's ``si_sdr`` and its gain over the mixture, and the same for each estimate
    alone (``si_sdr_network``, ``si_sdr_deepfilter``), so a run shows what fusing adds."""

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        return self.model(noisy)

    @torch.no_grad()
    def validation_step(self, batch: Any) -> dict[str, torch.Tensor]:
        estimates, voice = self.pair(batch)
        fused = self.matching(self.forward(estimates), voice).float()
        total, _ = self.loss(fused, voice)
        cap = METRIC_CAP_DB

        def sdr(estimate: torch.Tensor) -> torch.Tensor:
            return si_sdr(estimate.flatten(1), voice.flatten(1)).clamp(max=cap)

        scores = {"si_sdr": sdr(fused), "si_sdr_input": sdr(estimates[:, :1]),
                  "si_sdr_network": sdr(estimates[:, 1:2]), "si_sdr_deepfilter": sdr(estimates[:, 2:3])}
        gains = {f"{name}_gain": value - scores["si_sdr_input"] for name, value in scores.items()
                 if name != "si_sdr_input"}
        return {"loss": total.detach(), **scores, **gains}
