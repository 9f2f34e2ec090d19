"""aural: phone-quality recordings in, studio-quality audio out."""

__version__ = "0.1.0"
__all__ = ["Signal", "__version__"]


def __getattr__(name: str):
    # Signal imports torch: loaded on first use, so commands that fail early (a bad YAML) stay light
    if name == "Signal":
        from aural.signal import Signal

        return Signal
    raise AttributeError(f"module 'aural' has no attribute {name!r}")
