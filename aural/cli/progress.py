"""Progress bars shared by the subcommands (on stderr, gone when done)."""

from __future__ import annotations

import sys
from typing import Callable


def file_progress_bar() -> Callable[[int, int], None]:
    """A ``(done, total)`` callback that draws a files bar, created on first call."""
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="file", file=sys.stderr, leave=False)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update
