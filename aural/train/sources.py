"""From ``aural train --data PATH`` to datasets: paired folders, simulate output or clean speech.

``PATH`` may be

- a folder written by ``aural data simulate`` (``manifest.jsonl``) or that manifest itself;
- a folder with paired subfolders ``phone/`` + ``studio/``, ``noisy/`` + ``clean/`` or
  ``degraded/`` + ``reference/`` (files matched by relative path);
- any other folder: clean recordings, degraded on the fly by the phone simulator
  (``--noise``, ``--rir``, ``--profile``).

Without ``--val-data`` a fixed 10 % of the files (by hash of their name) validates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from torch.utils.data import Dataset

from aural.errors import UsageError

PAIRED_SUBFOLDERS = (("phone", "studio"), ("noisy", "clean"), ("degraded", "reference"))
VAL_FRACTION = 0.1
VAL_ITEMS_ON_THE_FLY = 64
ITEMS_PER_FILE_ON_THE_FLY = 50
TRAIN_SPEED_PROBABILITY = 0.3  # training items sped up or slowed down (0.9-1.1) before degradation


@dataclass(frozen=True)
class DataOptions:
    sample_rate: int
    segment_samples: int
    val_segment_s: float | None = 8.0
    noise_dir: Path | None = None
    rir_dir: Path | None = None
    profiles: Sequence[str] = ("all",)
    seed: int = 0
    reference: str = "early"               # on-the-fly targets: see aural.degrade.reference
    early_reflections_ms: float = 50.0
    augment: bool = False                  # separation's mixtures: speed and EQ of voices and backgrounds
    known_band: bool = True                # freq_expansion: the loss only within each source's known band


def _kind(path: Path) -> tuple[str, dict[str, Any]]:
    if path.is_file() and path.suffix == ".jsonl":
        return "paired", {"manifest": path}
    if not path.is_dir():
        raise UsageError(f"{path}: data folder does not exist")
    if (path / "manifest.jsonl").is_file():
        return "paired", {"manifest": path / "manifest.jsonl"}
    for degraded, reference in PAIRED_SUBFOLDERS:
        if (path / degraded).is_dir() and (path / reference).is_dir():
            return "paired", {"degraded_dir": path / degraded, "reference_dir": path / reference}
    return "clean", {"clean_dirs": path}


def build_datasets(data: Path, val_data: Path | None, options: DataOptions) -> tuple[Dataset, Dataset, dict[str, Any]]:
    """Training and validation datasets, and a description for the run's records."""
    from aural.train.datasets import OnTheFlyDataset, PairedFolderDataset

    segment_s = options.segment_samples / options.sample_rate
    kind, where = _kind(Path(data))
    description: dict[str, Any] = {"training data": f"{data} ({kind})"}

    def paired(where: dict[str, Any], split: str, segment: float | None, seed: int) -> Dataset:
        return PairedFolderDataset(**where, segment_s=segment, sample_rate=options.sample_rate, num_channels=1,
                                   split=split, val_fraction=VAL_FRACTION if split != "all" else 0.1, seed=seed)

    def on_the_fly(where: dict[str, Any], split: str, num_items: int | None, segment: float, seed: int,
                   speed_probability: float = 0.0) -> Dataset:
        return OnTheFlyDataset(where["clean_dirs"], options.noise_dir, options.rir_dir, list(options.profiles),
                               segment_s=segment, sample_rate=options.sample_rate, seed=seed, num_items=num_items,
                               split=split, val_fraction=VAL_FRACTION if split != "all" else 0.0,
                               speed_probability=speed_probability, reference=options.reference,
                               early_reflections_ms=options.early_reflections_ms)

    own_split = "train" if val_data is None else "all"
    if kind == "paired":
        train = paired(where, own_split, segment_s, options.seed)
    else:
        probe = on_the_fly(where, own_split, None, segment_s, options.seed)
        train = on_the_fly(where, own_split, len(probe.files) * ITEMS_PER_FILE_ON_THE_FLY, segment_s, options.seed,
                           TRAIN_SPEED_PROBABILITY)
        description["degradation"] = (f"on the fly: profiles {', '.join(options.profiles)}, speed 0.9-1.1 "
                                      f"on {TRAIN_SPEED_PROBABILITY:.0%} of training items, noise "
                                      f"{options.noise_dir or 'synthetic'}, rooms {options.rir_dir or 'synthetic'}; "
                                      f"targets {_target_words(options)}")
    if val_data is None:
        val_kind, val_where = kind, where
        description["validation data"] = f"{data}: a fixed {VAL_FRACTION:.0%} of the files (by name hash)"
    else:
        val_kind, val_where = _kind(Path(val_data))
        description["validation data"] = f"{val_data} ({val_kind})"
    val_split = "val" if val_data is None else "all"
    val_segment = options.val_segment_s or segment_s
    try:
        if val_kind == "paired":
            val = paired(val_where, val_split, val_segment, options.seed + 1)
        else:
            val = on_the_fly(val_where, val_split, VAL_ITEMS_ON_THE_FLY, val_segment, options.seed + 1)
    except UsageError as exc:
        if val_data is not None:
            raise
        raise UsageError(f"{data}: no file falls in the {VAL_FRACTION:.0%} validation split ({exc}); "
                         "pass --val-data FOLDER") from None
    description["training items"] = len(train)
    description["validation items"] = len(val)
    return train, val, description


def _target_words(options: DataOptions) -> str:
    if options.reference == "dry":
        return "dry (the clean source)"
    return f"direct path + first {options.early_reflections_ms:g} ms of the room (reference early)"
