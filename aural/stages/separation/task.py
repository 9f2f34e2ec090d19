"""Training task of ``separation``: mixture in, the voice as it sits in the mixture out.

``aural train separation --data DIR`` takes a folder holding ``voice`` and ``background``
(each a folder of audio or a ``.txt`` list of files, e.g. ``voice.txt``), or a folder of
speech with ``--noise`` naming the backgrounds (noise, ambience, music beds); then a fixed
10 % of each (by name hash) validates unless ``--val-data`` gives another such folder.
Mixtures are made on the fly (:class:`~aural.stages.separation.data.MixtureDataset`);
validation mixes at -5 to +5 dB, as the evaluation does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aural.errors import UsageError
from aural.losses import build_loss
from aural.stages.mel_unet.model import MelUNet
from aural.stages.mel_unet.task import MelUNetTask
from aural.stages.separation.model import build_model
from aural.train.datasets import split_of
from aural.train.recipe import Recipe
from aural.train.task import EnhancementTask

STAGE = "separation"
SAMPLE_RATE = 16000
ITEMS_PER_VOICE = 100
VAL_ITEMS = 64
VAL_SEGMENT_S = 4.0
VAL_FRACTION = 0.1
TAKES_AUGMENT = True  # recipe data.augment: speed and EQ of the training mixtures' sources


def build_task(recipe: Recipe) -> EnhancementTask:
    """The network ``recipe.model`` names (:func:`build_model`); the MelUNet's task also logs
    its encoder / bottleneck / decoder gradient norms."""
    model = build_model(recipe.model)
    task = MelUNetTask if isinstance(model, MelUNet) else EnhancementTask
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
    """Voices and backgrounds -> on-the-fly mixtures for training and validation."""
    from aural.stages.separation.data import EVAL_SNR_DB, MixtureDataset

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
