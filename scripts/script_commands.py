"""Running a command from the training scripts: its failure is one line and its status, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Sequence


def exit_status(returncode: int) -> int:
    """A child's return code as a shell reports it (killed by signal N: 128 + N)."""
    return returncode if returncode >= 0 else 128 - returncode


def run_or_exit(command: Sequence[str], cwd: Path) -> None:
    """Run ``command``; when it fails (or a signal stops it), leave with its status and one line."""
    returncode = subprocess.run(list(command), cwd=cwd).returncode
    if returncode:
        status = exit_status(returncode)
        print(f"{Path(sys.argv[0]).name}: stopped: `{' '.join(map(str, command[:4]))} ...` ended with "
              f"status {status}; run the script again to resume", file=sys.stderr)
        sys.exit(status)


def run_aural(args: Sequence[str], cwd: Path) -> None:
    """``python -m aural ARGS...`` in ``cwd``, echoed first; a failure leaves as :func:`run_or_exit` does."""
    print("+ aural", " ".join(args), flush=True)
    run_or_exit([sys.executable, "-m", "aural", *args], cwd)
