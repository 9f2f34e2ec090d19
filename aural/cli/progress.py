"""Progress of the subcommands on stderr: a bar on a terminal, a plain line every few
seconds in a log (see :mod:`aural.progress`)."""

from __future__ import annotations

from aural.progress import Progress


def file_progress(command: str, desc: str = "", *, enabled: bool = True) -> Progress:
    """Files done of the files to do, for ``aural COMMAND``; also a ``(done, total)`` callback.
    In a log, a task shorter than a few seconds prints nothing."""
    return Progress(desc, unit="file", prefix=f"aural {command}: ", enabled=enabled, quiet_start=True)
