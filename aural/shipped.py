"""Where the shipped pipelines and weights are: inside an installed wheel, else in the checkout.

The repository keeps them at its top (``pipelines/``, ``models/``); building a wheel copies
them into the package as ``aural/_shipped/<name>/`` (``setup.py``), so an installed aural
runs from any folder with no checkout beside it. ``$AURAL_PIPELINES`` and ``$AURAL_MODELS``
override both (read by :func:`aural.config.pipelines_dir` and :func:`aural.weights.models_dir`).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED_FOLDERS = ("models", "pipelines")
INSTALLED_DIR = PACKAGE_DIR / "_shipped"


def shipped_dir(name: str) -> Path:
    """``models`` or ``pipelines``: the installed copy if there is one, else the checkout's folder."""
    if name not in SHIPPED_FOLDERS:
        raise ValueError(f"unknown shipped folder {name!r}; one of {', '.join(SHIPPED_FOLDERS)}")
    installed = INSTALLED_DIR / name
    return installed if installed.is_dir() else PACKAGE_DIR.parent / name
