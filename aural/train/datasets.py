"""Training datasets: paired folders (or a simulate manifest) and on-the-fly degradation.

Both return ``(degraded, clean)`` as ``(channels, samples)`` float32 tensors at the model's
``sample_rate``. Items are pure functions of ``(seed, epoch, index)``: each draws from its
own ``numpy.random.Generator`` and opens its files itself, so any number of DataLoader
workers give the same items as none. Call :meth:`set_epoch` before creating the epoch's
iterator (workers copy the dataset when the iterator starts); a sampler that never calls
it (aural's Trainer keeps one loader for the whole run) still sees fresh crops and
degradations for every distinct index, so give :class:`OnTheFlyDataset` a ``num_items``
larger than the number of files.

The validation split is fixed by hashing a group key (the relative path; with a manifest,
the clean source, so variants of one source never straddle the split), never by a random
draw, and validation crops do not change with the epoch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from aural import io
from aural.dsp.channels import convert_channels
from aural.dsp.resample import resample
from aural.errors import AudioReadError, UsageError

logger = logging.getLogger("aural.train")

SPLITS = ("train", "val", "all")
MARGIN_S = 0.02  # extra audio read either side of a crop, so resampling has no edge effects


_reported: set[str] = set()


def _skip_unreadable(count: int, first: int, load: Any, unreadable: set[int]) -> Any:
    """``load(first)``, or ``load`` of the next index whose files read: a file with NaN samples
    or a corrupt stretch is reported once and skipped instead of ending the training run."""
    for offset in range(count):
        index = (first + offset) % count
        if index in unreadable:
            continue
        try:
            return load(index)
        except AudioReadError as exc:
            unreadable.add(index)
            if str(exc) not in _reported:  # once per process, though train and val sets may share it
                _reported.add(str(exc))
                logger.warning("aural train: skipping unreadable training file: %s", exc)
    raise UsageError(f"none of the {count} training files is readable (see the messages above)")


def split_of(key: str, val_fraction: float) -> str:
    """``"val"`` or ``"train"`` for a group key, from its hash (stable across runs and machines)."""
    value = int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big") / 2.0 ** 64
    return "val" if value < val_fraction else "train"


def _check_split(split: str, val_fraction: float) -> None:
    if split not in SPLITS:
        raise UsageError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if not 0.0 <= val_fraction < 1.0:
        raise UsageError(f"val_fraction must be in [0, 1), got {val_fraction}")


def _segment_samples(segment_s: float | None, sample_rate: int) -> int | None:
    if segment_s is None:
        return None
    if segment_s <= 0:
        raise UsageError(f"segment_s must be positive, got {segment_s}")
    return max(1, int(round(segment_s * sample_rate)))


def _to_channels(audio: torch.Tensor, num_channels: int | None) -> torch.Tensor:
    return audio if num_channels is None else convert_channels(audio, num_channels)


def read_crop(path: Path, native_rate: int, native_frames: int, start: int, num_samples: int,
              sample_rate: int) -> torch.Tensor:
    """``num_samples`` at ``sample_rate`` from model-rate sample ``start`` of a file (zero-padded).

    ``start * native_rate / sample_rate`` must be a whole number (see :func:`crop_step`), so
    crops of files at different rates stay sample-aligned.
    """
    native_start = start * native_rate // sample_rate
    g = math.gcd(native_rate, sample_rate)
    step_native = native_rate // g
    margin = step_native * int(math.ceil(MARGIN_S * native_rate / step_native))
    lo = max(0, native_start - margin)
    frames = (native_start - lo) + int(math.ceil(num_samples * native_rate / sample_rate)) + margin
    frames = min(frames, native_frames - lo)
    if frames <= 0:
        return torch.zeros(io.info(path).num_channels, num_samples)
    audio = io.read(path, start=lo, frames=frames).audio
    if native_rate != sample_rate:
        audio = resample(audio, native_rate, sample_rate)
    skip = (native_start - lo) * sample_rate // native_rate
    audio = audio[:, skip:skip + num_samples]
    if audio.shape[1] < num_samples:
        audio = torch.nn.functional.pad(audio, (0, num_samples - audio.shape[1]))
    return audio.contiguous()


def crop_step(sample_rate: int, *rates: int) -> int:
    """The smallest model-rate step at which every rate in ``rates`` lands on a whole sample."""
    step = 1
    for rate in rates:
        need = sample_rate // math.gcd(sample_rate, rate)
        step = step * need // math.gcd(step, need)
    return step


class PairedFolderDataset(Dataset):
    """Degraded/reference pairs matched by relative path, or listed by a simulate manifest.

    ``PairedFolderDataset(degraded_dir, reference_dir, ...)`` pairs ``degraded_dir/<rel>``
    with ``reference_dir/<rel>`` (any audio extension); ``PairedFolderDataset(manifest=path)``
    reads the ``phone``/``studio`` pairs of ``aural data simulate``. Crops of ``segment_s``
    (``None``: whole files, for batch size 1) start at the same instant in both files and
    are resampled to ``sample_rate``; shorter files are zero-padded at the end.
    """

    def __init__(self, degraded_dir: str | os.PathLike | None = None,
                 reference_dir: str | os.PathLike | None = None, *, manifest: str | os.PathLike | None = None,
                 segment_s: float | None = 4.0, sample_rate: int = 48000, num_channels: int | None = 1,
                 split: str = "all", val_fraction: float = 0.1, seed: int = 0):
        _check_split(split, val_fraction)
        self.sample_rate = int(sample_rate)
        self.segment_samples = _segment_samples(segment_s, self.sample_rate)
        self.num_channels = num_channels
        self.split = split
        self.seed = int(seed)
        self.epoch = 0
        if manifest is not None:
            if degraded_dir is not None or reference_dir is not None:
                raise UsageError("give either degraded_dir and reference_dir, or manifest")
            pairs = _pairs_from_manifest(Path(manifest))
        elif degraded_dir is None or reference_dir is None:
            raise UsageError("PairedFolderDataset needs degraded_dir and reference_dir, or manifest")
        else:
            pairs = _pairs_from_folders(Path(degraded_dir), Path(reference_dir))
        if split != "all":
            pairs = [p for p in pairs if split_of(p[2], val_fraction) == split]
        if not pairs:
            raise UsageError(f"no {split} pairs found" if split != "all" else "no pairs found")
        self._unreadable: set[int] = set()
        self.items = []
        for degraded, reference, key in pairs:
            d, r = io.info(degraded), io.info(reference)
            duration_s = min(d.duration_s, r.duration_s)
            self.items.append({"degraded": degraded, "reference": reference, "key": key,
                               "degraded_info": (d.sample_rate, d.num_frames),
                               "reference_info": (r.sample_rate, r.num_frames),
                               "num_samples": max(1, int(math.floor(duration_s * self.sample_rate + 1e-6)))})

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _start(self, index: int, item: dict[str, Any], length: int) -> int:
        room = item["num_samples"] - length
        if room <= 0:
            return 0
        step = crop_step(self.sample_rate, item["degraded_info"][0], item["reference_info"][0])
        key = [self.seed, index] if self.split == "val" else [self.seed, self.epoch, index]
        rng = np.random.default_rng(key)
        return int(rng.integers(0, room // step + 1)) * step

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return _skip_unreadable(len(self.items), index, self._load, self._unreadable)

    def _load(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        item = self.items[index]
        length = self.segment_samples or item["num_samples"]
        start = self._start(index, item, length)
        degraded = read_crop(item["degraded"], *item["degraded_info"], start, length, self.sample_rate)
        reference = read_crop(item["reference"], *item["reference_info"], start, length, self.sample_rate)
        if self.num_channels is None and degraded.shape[0] != reference.shape[0]:
            raise UsageError(f"{item['degraded']}: {degraded.shape[0]} channels, but its reference "
                             f"{item['reference']} has {reference.shape[0]}; set num_channels")
        return (_to_channels(degraded, self.num_channels).float(),
                _to_channels(reference, self.num_channels).float())


def _pairs_from_folders(degraded_dir: Path, reference_dir: Path) -> list[tuple[Path, Path, str]]:
    for folder, what in ((degraded_dir, "degraded"), (reference_dir, "reference")):
        if not folder.is_dir():
            raise UsageError(f"{folder}: {what} folder does not exist")
    references: dict[str, Path] = {}
    for path in io.find_audio(reference_dir):
        references.setdefault(path.relative_to(reference_dir).with_suffix("").as_posix(), path)
    pairs, unmatched = [], []
    for path in io.find_audio(degraded_dir):
        key = path.relative_to(degraded_dir).with_suffix("").as_posix()
        if key in references:
            pairs.append((path, references[key], key))
        else:
            unmatched.append(key)
    if unmatched:
        logger.warning("%d degraded files have no reference in %s (first: %s)", len(unmatched),
                       reference_dir, unmatched[0])
    if not pairs:
        raise UsageError(f"{degraded_dir}: no file has a reference with the same relative path in {reference_dir}")
    return pairs


def _pairs_from_manifest(manifest: Path) -> list[tuple[Path, Path, str]]:
    if not manifest.is_file():
        raise UsageError(f"{manifest}: manifest not found")
    root = manifest.parent
    pairs = []
    with open(manifest, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                phone, studio = root / entry["phone"], root / entry["studio"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise UsageError(f"{manifest}:{number}: not a simulate manifest entry ({exc})") from None
            pairs.append((phone, studio, str(entry.get("source_rel") or entry["studio"])))
    return pairs


class OnTheFlyDataset(Dataset):
    """Clean crops degraded on the fly with the simulator's profiles.

    Item ``index`` of epoch ``epoch`` takes file ``permutation(seed, epoch + index // N)[index % N]``
    (``N`` clean files), a random crop of it, a random profile, and that profile's random
    chain: all drawn from ``numpy.random.default_rng([seed, epoch, index])``. Crops quieter
    than ``min_level_db`` are redrawn (up to three tries, the loudest kept). The clean target
    is level-normalised as in ``aural data simulate`` and, as there, keeps the room's direct
    path and first ``early_reflections_ms`` with ``reference="early"`` (the default) or is the
    dry crop with ``reference="dry"`` (:mod:`aural.degrade.reference`). With
    ``speed_probability`` the clean crop is first sped up or slowed down by a factor in
    ``speed_bounds`` (drawn from ``default_rng([seed, epoch, index, 2])``; see
    :mod:`aural.degrade.augment`): target and degraded side both come from the changed crop.
    """

    def __init__(self, clean_dirs: str | os.PathLike | Sequence[str | os.PathLike],
                 noise_dir: str | os.PathLike | None = None, rir_dir: str | os.PathLike | None = None,
                 profiles: str | Iterable[str] = "all", segment_s: float = 4.0, sample_rate: int = 48000,
                 seed: int = 0, *, num_items: int | None = None, num_channels: int = 1,
                 mic_ir_dir: str | os.PathLike | None = None, reference_level_db: float | None = -26.0,
                 min_level_db: float = -60.0, split: str = "all", val_fraction: float = 0.0,
                 speed_probability: float = 0.0, speed_bounds: tuple[float, float] = (0.9, 1.1),
                 reference: str = "early", early_reflections_ms: float = 50.0):
        from aural.degrade.codecs import warn_missing_ffmpeg
        from aural.degrade.profiles import resolve_profiles
        from aural.degrade.reference import check_reference
        from aural.degrade.simulate import make_resources

        _check_split(split, val_fraction)
        check_reference(reference, early_reflections_ms)
        self.reference = reference
        self.early_reflections_ms = float(early_reflections_ms)
        self.profiles = [p.name for p in resolve_profiles([profiles] if isinstance(profiles, str) else profiles)]
        self.sample_rate = int(sample_rate)
        if segment_s is None:
            raise UsageError("OnTheFlyDataset needs a segment_s")
        self.segment_samples = _segment_samples(segment_s, self.sample_rate)
        self.seed = int(seed)
        self.epoch = 0
        self.num_channels = num_channels
        self.reference_level_db = reference_level_db
        self.min_level_db = min_level_db
        self.speed_probability = float(speed_probability)
        self.speed_bounds = tuple(speed_bounds)
        dirs = [clean_dirs] if isinstance(clean_dirs, (str, os.PathLike)) else list(clean_dirs)
        files: list[Path] = []
        for folder in map(Path, dirs):
            if not folder.is_dir():
                raise UsageError(f"{folder}: clean folder does not exist")
            found = [p for p in io.find_audio(folder)
                     if split == "all" or split_of(p.relative_to(folder).as_posix(), val_fraction) == split]
            files.extend(found)
        if not files:
            raise UsageError(f"no clean audio files ({split}) in {', '.join(map(str, dirs))}")
        self.files = files
        self._unreadable: set[int] = set()
        self.num_items = int(num_items) if num_items is not None else len(files)
        self.resources = make_resources(noise_dir, rir_dir, mic_ir_dir)
        if self.resources.ffmpeg is None:
            warn_missing_ffmpeg()

    def __len__(self) -> int:
        return self.num_items

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _file_index(self, index: int) -> int:
        n = len(self.files)
        order = np.random.default_rng([self.seed, self.epoch + index // n, 1]).permutation(n)
        return int(order[index % n])

    def _crop(self, path: Path, rng: np.random.Generator, length: int) -> torch.Tensor:
        facts = io.info(path)
        total = int(math.floor(facts.num_frames * self.sample_rate / facts.sample_rate))
        best, best_level = None, -math.inf
        for _ in range(3):
            start = int(rng.integers(0, max(0, total - length) + 1))
            native_start = start * facts.sample_rate // self.sample_rate
            audio = read_crop_at(path, facts, native_start, length, self.sample_rate)
            level = _level_db(audio)
            if best is None or level > best_level:
                best, best_level = audio, level
            if level >= self.min_level_db:
                break
        return _to_channels(best, self.num_channels)

    def item(self, index: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        """``(degraded, clean, record)``: the record holds the file, crop and drawn chain."""
        from aural.degrade.simulate import simulate_pair
        from aural.signal import Signal

        if not 0 <= index < self.num_items:
            raise IndexError(index)
        from aural.degrade.augment import change_speed, draw_speed, source_samples
        from aural.degrade.base import fit_length

        rng = np.random.default_rng([self.seed, self.epoch, index])
        speed = draw_speed(np.random.default_rng([self.seed, self.epoch, index, 2]), self.speed_probability,
                           self.speed_bounds)
        length = self.segment_samples if speed == 1.0 else source_samples(self.segment_samples, speed)
        path, clean = _skip_unreadable(len(self.files), self._file_index(index),
                                       lambda i: (self.files[i], self._crop(self.files[i], rng, length)),
                                       self._unreadable)
        if speed != 1.0:
            clean = fit_length(change_speed(clean, self.sample_rate, speed), self.segment_samples)
        profile = self.profiles[int(rng.integers(len(self.profiles)))]
        studio, phone, record = simulate_pair(Signal(clean, self.sample_rate), profile, rng, self.resources,
                                              reference_level_db=self.reference_level_db, reference=self.reference,
                                              early_reflections_ms=self.early_reflections_ms)
        record["source"] = str(path)
        record["speed"] = speed
        return phone.audio.float(), studio.audio.float(), record

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        degraded, clean, _ = self.item(index)
        return degraded, clean


def loudest_channel_crop(path: Path, facts: io.AudioInfo, rng: np.random.Generator, num_samples: int,
                         sample_rate: int, min_level_db: float, *, loop_short: bool = False) -> tuple[np.ndarray, float]:
    """``(crop, level_db)``: the loudest of up to three random crops of ``num_samples`` at
    ``sample_rate`` (one randomly drawn channel each), stopping at the first at or above
    ``min_level_db``. With ``loop_short`` a file shorter than a crop is repeated, not zero-padded."""
    total = int(math.floor(facts.num_frames * sample_rate / facts.sample_rate))
    best, best_level = None, -math.inf
    for _ in range(3):
        start = int(rng.integers(0, max(0, total - num_samples) + 1))
        crop = read_crop_at(path, facts, start * facts.sample_rate // sample_rate, num_samples, sample_rate)
        crop = crop[int(rng.integers(crop.shape[0]))].numpy()
        if loop_short and 0 < total < num_samples:
            crop = np.resize(crop[:total], num_samples)
        level = 10.0 * math.log10(float(np.mean(crop.astype(np.float64) ** 2)) + 1e-20)
        if best is None or level > best_level:
            best, best_level = crop, level
        if level >= min_level_db:
            break
    return best, best_level


def read_crop_at(path: Path, facts: io.AudioInfo, native_start: int, num_samples: int,
                 sample_rate: int) -> torch.Tensor:
    """``num_samples`` at ``sample_rate`` from native frame ``native_start`` (zero-padded)."""
    frames = int(math.ceil(num_samples * facts.sample_rate / sample_rate)) + 1
    frames = min(frames, facts.num_frames - native_start)
    audio = io.read(path, start=native_start, frames=frames).audio
    if facts.sample_rate != sample_rate:
        audio = resample(audio, facts.sample_rate, sample_rate)
    audio = audio[:, :num_samples]
    if audio.shape[1] < num_samples:
        audio = torch.nn.functional.pad(audio, (0, num_samples - audio.shape[1]))
    return audio.contiguous()


def _level_db(audio: torch.Tensor) -> float:
    power = float(audio.double().pow(2).mean()) if audio.numel() else 0.0
    return 10.0 * math.log10(power) if power > 0 else -math.inf
