"""Match reference and degraded (or input) files by relative path without extension.

``speech/a.flac`` in the reference folder pairs with ``speech/a.wav`` in the degraded
folder; the pair's name (``file`` in ``scores.csv``) is ``speech/a``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aural.errors import UsageError
from aural.io import find_audio

PAIR_LAYOUTS = (("phone", "studio"), ("degraded", "reference"))
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

    def unmatched_message(self, degraded_label: str = "degraded") -> str | None:
        """One line listing files without a partner, or None when all matched."""
        if not self.reference_only and not self.degraded_only:
            return None
        parts = []
        if self.reference_only:
            parts.append(f"only in reference: {_listing(self.reference_only)}")
        if self.degraded_only:
            parts.append(f"only in {degraded_label}: {_listing(self.degraded_only)}")
        count = len(self.reference_only) + len(self.degraded_only)
        return f"{count} file{'s' if count != 1 else ''} without a partner ({'; '.join(parts)})"


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
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
    pairs_dir = Path(pairs_dir)
    if not pairs_dir.is_dir():
        raise UsageError(f"{pairs_dir}: pairs folder does not exist")
    for input_name, reference_name in PAIR_LAYOUTS:
        if (pairs_dir / input_name).is_dir() and (pairs_dir / reference_name).is_dir():
            return pairs_dir / input_name, pairs_dir / reference_name
    layouts = " or ".join(f"{a}/ and {b}/" for a, b in PAIR_LAYOUTS)
    raise UsageError(f"{pairs_dir}: expected sub-folders {layouts}")
