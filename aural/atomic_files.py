"""Temporary files that a later run can recognise, and renames that never replace a file.

aural writes every output (audio, checkpoints, manifests) to a hidden temporary file beside
its target and renames it into place when complete. The temporary name carries the writing
process's id, ``.<target>.aural<pid>-<random><suffix>``, so that whatever a killed process
left behind (``kill -9``, a power cut) is recognised and removed by the next run that writes
into the same folder, while files of a process still running are left alone. Spool folders
in ``$TMPDIR`` follow the same rule (``aural-spool-<pid>-<random>``).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable

_TEMP_NAME = re.compile(r"^\..+\.aural(?P<pid>\d+)-[A-Za-z0-9_]+\.(?:part|tmp)$")
_SPOOL_NAME = re.compile(r"^aural-spool-(?P<pid>\d+)-[A-Za-z0-9_]+$")


def temp_prefix(target_name: str) -> str:
    """``mkstemp`` prefix of a temporary file for ``target_name``, tagged with this process."""
    return f".{target_name}.aural{os.getpid()}-"


def spool_prefix() -> str:
    """``TemporaryDirectory`` prefix of a spool folder, tagged with this process."""
    return f"aural-spool-{os.getpid()}-"


def _is_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove aural's temporary files in ``folder`` whose writing process is gone."""
    return _remove_stale(folder, _TEMP_NAME, lambda entry: entry.is_file(follow_symlinks=False), os.unlink)


def remove_stale_spools(parent: str | None = None) -> list[Path]:
    """Remove spool folders in ``parent`` (default ``$TMPDIR``) whose process is gone."""
    return _remove_stale(parent or tempfile.gettempdir(), _SPOOL_NAME,
                         lambda entry: entry.is_dir(follow_symlinks=False), shutil.rmtree)


def _remove_stale(folder: str | Path, pattern: re.Pattern, is_kind: Callable[[os.DirEntry], bool],
                  remove: Callable[[str], None]) -> list[Path]:
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if match and not _is_running(int(match["pid"])) and is_kind(entry):
            try:
                remove(entry.path)
            except OSError:
                continue  # another process cleaned it up first, or it is not ours to remove
            removed.append(Path(entry.path))
    return removed


def rename_no_replace(source: Path, target: Path) -> None:
    """Move ``source`` to ``target`` unless ``target`` exists (``FileExistsError``), atomically.

    A hard link claims the name in one step, so of two processes racing for one name exactly
    one wins; where the file system has no hard links, an exclusive create claims the name and
    the finished file replaces the empty placeholder.
    """
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
            raise
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.replace(source, target)
        return
    os.unlink(source)
