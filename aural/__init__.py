"""aural: phone-quality recordings in, studio-quality audio out."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Signal", "__version__"]


def __getattr__(name: str) -> Any:
    """``aural.Signal`` loads torch on first use, so ``aural --help`` starts fast."""
    if name == "Signal":
        from aural.signal import Signal

        return Signal
    raise AttributeError(f"module 'aural' has no attribute {name!r}")
