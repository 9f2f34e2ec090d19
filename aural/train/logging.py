"""Run logs: JSON lines always, TensorBoard when it is installed and asked for.

Keys are namespaced: ``loss/train``, ``loss/val``, ``snr/val``, ``grad_norm/encoder``, ``lr``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Mapping


class RunLogger:
    """Append ``{"step": n, "time": t, key: value, ...}`` lines to ``<run>/log.jsonl``."""

    def __init__(self, run_dir: Path, *, tensorboard: bool = False, enabled: bool = True):
        self.path = Path(run_dir) / "log.jsonl"
        self.enabled = enabled
        self.notes: list[str] = []
        self._writer = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                self.notes.append("tensorboard is not installed (pip install tensorboard): logging JSON lines only")
            else:
                self._writer = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))

    def log(self, step: int, values: Mapping[str, Any]) -> None:
        if not self.enabled:
            return
        row = {"step": int(step), "time": round(time.time(), 3)}
        for key, value in values.items():
            value = float(value)
            row[key] = value if math.isfinite(value) else None
            if self._writer is not None and math.isfinite(value):
                self._writer.add_scalar(key, value, step)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as handle:
            handle.write(json.dumps(row) + "\n")

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def read_log(run_dir: Path) -> list[dict[str, Any]]:
    """Every row of ``<run>/log.jsonl`` (missing file: none)."""
    path = Path(run_dir) / "log.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a crash
    return rows
