"""The studio reference of a simulated pair (the training target): dry, or with early reflections.

``early`` (the default): the clean source convolved with the first ``early_reflections_ms``
(50 ms) of the very room kernel the chain's reverb step used, faded out over a further
``FADE_MS`` (half Hann). The kernel's direct path sits at sample 0, so this reference stays
sample-aligned with the dry source. A model trained on it removes late reverberation but
keeps the direct sound and the early reflections, which listeners hear as part of the voice
rather than as the room (the 50 ms split of the clarity index C50 / definition D50), and
which no model can remove without distorting the voice.

``dry``: the clean source itself. A chain without a reverb step gives the dry reference
either way. With several reverb steps their early parts are applied in order.

Level: the reference takes the same gains as the dry one would. The kernels have unit
energy, so the early reference is quieter than the dry source by the energy of the late
reverberation it leaves out (the phone file keeps it).
"""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from aural.degrade.base import Params, Resources
from aural.degrade.impulse import convolve_aligned
from aural.errors import UsageError

REFERENCES = ("early", "dry")
DEFAULT_REFERENCE = "early"
DEFAULT_EARLY_REFLECTIONS_MS = 50.0
MAX_EARLY_REFLECTIONS_MS = 500.0
FADE_MS = 5.0


def check_reference(reference: str, early_reflections_ms: float, where: str = "reference") -> None:
    """Raise :class:`UsageError` for an unknown reference kind or an out-of-range window."""
    if reference not in REFERENCES:
        raise UsageError(f"{where}: expected one of {', '.join(REFERENCES)}, got {reference!r}")
    if isinstance(early_reflections_ms, bool) or not isinstance(early_reflections_ms, (int, float)) \
            or not 0.0 <= float(early_reflections_ms) <= MAX_EARLY_REFLECTIONS_MS:
        raise UsageError(f"{where}: early_reflections_ms must be a number from 0 to "
                         f"{MAX_EARLY_REFLECTIONS_MS:g}, got {early_reflections_ms!r}")


def early_part(kernel: np.ndarray, sample_rate: int, early_reflections_ms: float) -> np.ndarray:
    """The first ``early_reflections_ms`` of ``kernel``, then a ``FADE_MS`` half-Hann fade-out."""
    keep = max(1, int(round(early_reflections_ms * sample_rate / 1000.0)))  # the direct path at least
    fade = max(1, int(round(FADE_MS * sample_rate / 1000.0)))
    early = np.array(kernel[:keep + fade], dtype=np.float64)
    falling = np.hanning(2 * fade + 1)[fade + 1:]  # just under 1 down to 0 (excluded)
    tail = early[keep:]
    tail *= falling[:len(tail)]
    return early


def reference_kernels(steps: Sequence[Params], sample_rate: int, resources: Resources | None,
                      reference: str, early_reflections_ms: float) -> list[np.ndarray]:
    """The kernels the clean source is convolved with to make the reference (none: dry)."""
    if reference == "dry":
        return []
    from aural.degrade.reverb import Reverb

    return [early_part(Reverb.kernel(record["params"], sample_rate, resources), sample_rate, early_reflections_ms)
            for record in steps if record["transform"] == "reverb"]


def render_reference(read: Callable[[int, int], torch.Tensor], num_samples: int, kernels: Sequence[np.ndarray],
                     block_samples: int) -> Iterator[torch.Tensor]:
    """The reference in consecutive blocks: ``read(start, frames)`` convolved with ``kernels``.

    Each block is convolved with the ``len(kernel) - 1`` samples before it (the kernels are
    causal), so the blocks join into exactly the whole-signal convolution.
    """
    context = sum(len(kernel) - 1 for kernel in kernels)
    for start in range(0, max(1, num_samples), block_samples):
        stop = min(num_samples, start + block_samples)
        if not kernels or stop == start:
            yield read(start, stop - start)
            continue
        lo = max(0, start - context)
        audio = read(lo, stop - lo)
        for kernel in kernels:
            audio = convolve_aligned(audio, kernel, 0)
        yield audio[:, start - lo:]
