"""TPDF dither and quantisation to integer PCM.

Quantising to ``bits`` puts samples on the grid ``k / 2**(bits - 1)``, which is exactly
what libsndfile maps to integer ``k`` when it writes PCM (it scales floats by
``2**(bits - 1)`` and clips). Plain rounding leaves an error that follows the signal:
quiet tones turn into harmonics, fades into buzz, and a tone below half an LSB vanishes.
Triangular (TPDF) dither of +/-1 LSB peak, the sum of two independent uniform variables,
added before rounding, makes the first and second moments of the total error independent
of the signal: zero mean, variance ``LSB**2 / 4`` (``LSB**2 / 6`` from the dither plus
``LSB**2 / 12`` from rounding), a steady white hiss instead of distortion.
"""

from __future__ import annotations

import torch


def lsb(bits: int) -> float:
    """Step of the ``bits``-bit PCM grid on the float scale [-1, 1)."""
    if not 2 <= bits <= 32:
        raise ValueError(f"bits must be in 2..32, got {bits}")
    return 2.0 ** (1 - bits)


def tpdf_noise(shape: tuple[int, ...], generator: torch.Generator | None = None,
               dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Triangular noise in LSB units: in (-1, 1), mean 0, variance 1/6."""
    first = torch.rand(shape, generator=generator, dtype=dtype)
    second = torch.rand(shape, generator=generator, dtype=dtype)
    return first - second


def quantize(audio: torch.Tensor, bits: int) -> torch.Tensor:
    """Round to the ``bits``-bit grid (no dither), clipped to [-1, 1 - LSB]."""
    step = lsb(bits)
    levels = torch.round(audio.to(torch.float64) / step)
    levels = torch.clamp(levels, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return (levels * step).to(audio.dtype)


def tpdf_dither(audio: torch.Tensor, bits: int,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Add +/-1 LSB TPDF dither and quantise to ``bits`` (a new tensor, same dtype).

    The result lies on the ``k / 2**(bits - 1)`` grid, so a PCM writer stores it exactly.
    Pass a seeded ``torch.Generator`` for reproducible output.
    """
    noise = tpdf_noise(tuple(audio.shape), generator) * lsb(bits)
    return quantize(audio.to(torch.float64) + noise, bits).to(audio.dtype)
