"""Training material of :class:`~aural.stages.separation.fusion.VoiceFusion`.

The fusion learns from what the two estimators really give, so its material is made once, up
front (DeepFilterNet3 is far too slow to run inside a training step on a CPU): mixtures drawn as
``separation`` draws its training mixtures (:class:`~aural.stages.separation.data.MixtureDataset`),
each run through the ``separation`` network (shipped weights, alone) and through DeepFilterNet3,
as the stage runs them. One ``.npz`` per mixture holds ``mixture``, ``voice`` (the target),
``network`` and ``deepfilter`` (float32, 16 kHz, aligned); ``fusion.json`` says how it was made.
:class:`FusionMaterial` serves random crops of it to the trainer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from aural.errors import UsageError
from aural.train.datasets import split_of

SAMPLE_RATE = 16000
MARKER = "fusion.json"
ESTIMATES = ("mixture", "network", "deepfilter")


def is_material(folder: Path) -> bool:
    return (Path(folder) / MARKER).is_file()


def write_material(voices: Sequence[Path], backgrounds: Sequence[Path], out: Path, *, items: int, seed: int,
                   segment_s: float = 4.0, weights: str = "default", augment: bool = True,
                   part: tuple[int, int] = (0, 1)) -> Iterator[Path]:
    """Write ``items`` mixtures with both estimates into ``out`` (files already there are kept,
    so an interrupted run resumes); yields each file written. ``part`` ``(k, n)``: only every
    n-th mixture from the k-th (n processes share the work)."""
    from aural.signal import Signal
    from aural.stages.separation.data import MixtureDataset
    from aural.stages.separation.stage import separate

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    mixtures = MixtureDataset(voices, backgrounds, segment_samples=int(segment_s * SAMPLE_RATE), seed=seed,
                              num_items=items, augment=augment)
    record = {"items": items, "seed": seed, "segment_s": segment_s, "separation_weights": weights,
              "augment": augment, "voices": len(voices), "backgrounds": len(backgrounds)}
    (out / MARKER).write_text(json.dumps(record, indent=2) + "\n")
    for index in range(part[0], items, part[1]):
        path = out / f"{index:06d}.npz"
        if path.exists():
            continue
        mixture, voice, _ = mixtures.item(index)
        signal = Signal(mixture, SAMPLE_RATE)
        network = separate(signal, weights=weights)["voice"].audio
        deepfilter = separate(signal, weights=weights, deepfilter_share=1.0)["voice"].audio
        partial = path.with_suffix(".partial.npz")
        np.savez(partial, mixture=mixture[0].numpy(), voice=voice[0].numpy(), network=network[0].numpy(),
                 deepfilter=deepfilter[0].numpy())
        partial.replace(path)
        yield path


class FusionMaterial(Dataset):
    """``(estimates (3, segment), voice (1, segment))`` crops of material files: item ``i`` is a
    crop of file ``i % len(files)`` at an offset drawn from ``(seed, epoch, i)``; with
    ``fixed_offset`` every item is its file's start (validation). A file shorter than the crop
    comes whole, zero-padded at its end."""

    def __init__(self, files: Sequence[Path], *, segment_samples: int, seed: int = 0,
                 num_items: int | None = None, fixed_offset: bool = False):
        if not files:
            raise UsageError("no fusion material files")
        self.files = list(files)
        self.segment_samples = segment_samples
        self.seed = seed
        self.num_items = num_items or len(self.files)
        self.fixed_offset = fixed_offset
        self.epoch = 0

    def __len__(self) -> int:
        return self.num_items

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        path = self.files[index % len(self.files)]
        with np.load(path) as arrays:  # plain arrays: np.load refuses pickled objects by default
            signals = {name: arrays[name] for name in (*ESTIMATES, "voice")}
        length = len(signals["voice"])
        if length < self.segment_samples:
            signals = {name: np.pad(audio, (0, self.segment_samples - length)) for name, audio in signals.items()}
            length = self.segment_samples
        start = 0
        if not self.fixed_offset:
            start = int(np.random.default_rng([self.seed, self.epoch, index]).integers(
                length - self.segment_samples + 1))
        crop = {name: torch.from_numpy(np.ascontiguousarray(audio[start:start + self.segment_samples],
                                                            dtype=np.float32)) for name, audio in signals.items()}
        return torch.stack([crop[name] for name in ESTIMATES]), crop["voice"].unsqueeze(0)


def material_split(folder: Path, val_fraction: float) -> tuple[list[Path], list[Path]]:
    """The folder's files, split by a hash of their names: (training, validation)."""
    files = sorted(Path(folder).glob("*.npz"))
    files = [f for f in files if not f.name.endswith(".partial.npz")]
    if not files:
        raise UsageError(f"{folder}: no fusion material (*.npz); make it with "
                         "`python scripts/train_separation.py fusion_material`")
    split = {f: split_of(f.name, val_fraction) for f in files}
    return [f for f in files if split[f] == "train"], [f for f in files if split[f] == "val"]


def describe(folder: Path) -> dict[str, Any]:
    return json.loads((Path(folder) / MARKER).read_text())
