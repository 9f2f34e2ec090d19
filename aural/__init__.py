"""aural: phone-quality recordings in, studio-quality audio out."""

from aural.signal import Signal

__version__ = "0.1.0"
__all__ = ["Signal", "__version__"]
