"""Match reference and degraded (or input) files.

Two folders: ``speech/a.flac`` in the reference folder pairs with ``speech/a.wav`` in the
degraded folder, by relative path without extension; the pair's name (``file`` in
``scores.csv``) is ``speech/a``.

A pairs folder (:func:`match_pairs`) holds either ``phone/`` + ``studio/`` (or ``degraded/`` +
``reference/``) matched as above, or one folder per pair: ``x/clean.flac`` with
``x/noisy.flac`` (and more degraded files, e.g. ``x/noisy_car_4dB.flac``), each degraded
file one pair named ``x/<its stem>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aural.errors import UsageError
from aural.io import AUDIO_EXTENSIONS, find_audio

PAIR_LAYOUTS = (("phone", "studio"), ("degraded", "reference"))
REFERENCE_STEMS = ("clean", "reference", "studio")      # also clean_*, reference_*, studio_*
DEGRADED_PREFIXES = ("noisy", "degraded", "device", "phone")
LAYOUTS = ("phone/ and studio/ (or degraded/ and reference/) matched by relative path, or one "
           "folder per pair with one clean/reference/studio file and noisy*/degraded*/device*/phone* files")
MAX_LISTED = 10


@dataclass(frozen=True)
class Pair:
    file: str
    reference: Path
    degraded: Path


@dataclass
class Matching:
    pairs: list[Pair] = field(default_factory=list)
    reference_only: list[str] = field(default_factory=list)
    degraded_only: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "folder: why" (one folder per pair)

    @property
    def num_unmatched(self) -> int:
        return len(self.reference_only) + len(self.degraded_only) + len(self.skipped)

    def unmatched_message(self, degraded_label: str = "degraded") -> str | None:
        """One line listing files without a partner and skipped folders, or None when all matched."""
        messages = []
        if self.reference_only or self.degraded_only:
            parts = []
            if self.reference_only:
                parts.append(f"only in reference: {_listing(self.reference_only)}")
            if self.degraded_only:
                parts.append(f"only in {degraded_label}: {_listing(self.degraded_only)}")
            count = len(self.reference_only) + len(self.degraded_only)
            messages.append(f"{count} file{'s' if count != 1 else ''} without a partner "
                            f"({'; '.join(parts)})")
        if self.skipped:
            count = len(self.skipped)
            messages.append(f"{count} folder{'s' if count != 1 else ''} skipped "
                            f"({_listing(self.skipped, '; ')})")
        return "; ".join(messages) or None


def _listing(names: list[str], separator: str = ", ") -> str:
    shown = separator.join(names[:MAX_LISTED])
    return shown + (f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "")


def stems(folder: Path, label: str) -> dict[str, Path]:
    """``{relative path without extension: file}``; two files with one stem are an error."""
    if not folder.is_dir():
        raise UsageError(f"{folder}: {label} folder does not exist")
    found: dict[str, Path] = {}
    for path in find_audio(folder):
        stem = path.relative_to(folder).with_suffix("").as_posix()
        if stem in found:
            raise UsageError(f"{folder}: {found[stem].name} and {path.name} have the same name "
                             f"{stem!r}; keep one")
        found[stem] = path
    if not found:
        raise UsageError(f"{folder}: no audio files in the {label} folder")
    return found


def match_folders(reference_dir: str | Path, degraded_dir: str | Path,
                  degraded_label: str = "degraded") -> Matching:
    """Pairs present in both folders, sorted by name, and the names present in only one."""
    references = stems(Path(reference_dir), "reference")
    degraded = stems(Path(degraded_dir), degraded_label)
    matching = Matching(
        pairs=[Pair(name, references[name], degraded[name]) for name in sorted(references)
               if name in degraded],
        reference_only=sorted(set(references) - set(degraded)),
        degraded_only=sorted(set(degraded) - set(references)))
    if not matching.pairs:
        raise UsageError(f"{reference_dir} and {degraded_dir}: no file names in common "
                         f"({matching.unmatched_message(degraded_label)})")
    return matching


def pairs_folders(pairs_dir: str | Path) -> tuple[Path, Path]:
    """``(input folder, reference folder)`` of a pairs folder: phone/ + studio/, or
    degraded/ + reference/."""
    if folders := _sub_folders(pairs_dir):
        return folders
    layouts = " or ".join(f"{a}/ and {b}/" for a, b in PAIR_LAYOUTS)
    raise UsageError(f"{pairs_dir}: expected sub-folders {layouts}")


def _sub_folders(pairs_dir: str | Path) -> tuple[Path, Path] | None:
    pairs_dir = Path(pairs_dir)
    if not pairs_dir.is_dir():
        raise UsageError(f"{pairs_dir}: pairs folder does not exist")
    for input_name, reference_name in PAIR_LAYOUTS:
        if (pairs_dir / input_name).is_dir() and (pairs_dir / reference_name).is_dir():
            return pairs_dir / input_name, pairs_dir / reference_name
    return None


def match_pairs(pairs_dir: str | Path) -> tuple[Matching, str]:
    """``(matching, input label)`` of a pairs folder in either layout (see the module doc).

    The label names the input side in messages: ``phone`` or ``degraded``. A per-pair
    folder that is not one is listed in ``Matching.skipped``; no pair at all is a
    :class:`UsageError`.
    """
    pairs_dir = Path(pairs_dir)
    if folders := _sub_folders(pairs_dir):
        input_dir, reference_dir = folders
        return match_folders(reference_dir, input_dir, degraded_label=input_dir.name), input_dir.name
    matching = Matching()
    for folder in sorted(p for p in pairs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            matching.pairs += _folder_pairs(folder)
        except UsageError as exc:
            matching.skipped.append(f"{folder.name}: {exc}")
    if not matching.pairs:
        found = f" ({matching.unmatched_message()})" if matching.skipped else ""
        raise UsageError(f"{pairs_dir}: no pairs found; expected {LAYOUTS}{found}")
    matching.pairs.sort(key=lambda pair: pair.file)
    return matching, "degraded"


def _folder_pairs(folder: Path) -> list[Pair]:
    """The pairs of one per-pair folder; a UsageError says why it is not one."""
    references, degraded, other = [], {}, []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS
                       and p.is_file() and not p.name.startswith(".")):
        stem = path.stem.lower()
        if stem in REFERENCE_STEMS or stem.startswith(tuple(f"{s}_" for s in REFERENCE_STEMS)):
            references.append(path)
        elif stem.startswith(DEGRADED_PREFIXES):
            if path.stem in degraded:
                raise UsageError(f"{degraded[path.stem].name} and {path.name} have the same name")
            degraded[path.stem] = path
        else:
            other.append(path.name)
    if other:
        raise UsageError(f"{', '.join(other)}: neither a reference (clean*, reference*, studio*) "
                         "nor a degraded file (noisy*, degraded*, device*, phone*)")
    if not references:
        raise UsageError("no reference file (clean, reference or studio)")
    if len(references) > 1:
        raise UsageError(f"{len(references)} reference files ({', '.join(p.name for p in references)})")
    if not degraded:
        raise UsageError("no degraded file (noisy*, degraded*, device*, phone*)")
    return [Pair(f"{folder.name}/{stem}", references[0], path) for stem, path in sorted(degraded.items())]
