"""Fixtures for the evaluation tests: a small PNG reader (8-bit grey, RGB, RGBA, palette; all filters)."""

from __future__ import annotations

import struct
from types import SimpleNamespace
import zlib

import numpy as np
import pytest

CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def read_png(data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """``(pixels (height, width, channels) uint8, palette or None)``; checks every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, palette, header = 8, b"", None, None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = np.frombuffer(body, dtype=np.uint8).reshape(-1, 3)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and interlace == 0, "only 8-bit, non-interlaced"
    bpp = CHANNELS[colour]
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, 1 + width * bpp)
    out = np.zeros((height, width * bpp), dtype=np.int32)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        prior = out[y - 1] if y else np.zeros(width * bpp, dtype=np.int32)
        if kind == 0:
            out[y] = line
        elif kind == 1:  # Sub: running sum per channel
            out[y] = (np.cumsum(line.reshape(width, bpp), axis=0) & 0xFF).reshape(-1)
        elif kind == 2:
            out[y] = (line + prior) & 0xFF
        else:
            out[y] = _sequential(kind, line, prior, bpp)
    return out.astype(np.uint8).reshape(height, width, bpp), palette


def _sequential(kind: int, line: np.ndarray, prior: np.ndarray, bpp: int) -> np.ndarray:
    row = np.zeros_like(line)
    for x in range(line.size):
        left = row[x - bpp] if x >= bpp else 0
        up = prior[x]
        upper_left = prior[x - bpp] if x >= bpp else 0
        if kind == 3:
            predictor = (left + up) // 2
        else:
            p = left + up - upper_left
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
            predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else upper_left)
        row[x] = (line[x] + predictor) & 0xFF
    return row


def read_image(path) -> np.ndarray:
    """RGB(A) pixels of a PNG file: Pillow when installed (fast), else :func:`read_png`."""
    try:
        from PIL import Image
    except ImportError:
        pixels, palette = read_png(open(path, "rb").read())
        return palette[pixels[..., 0]] if palette is not None else pixels
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@pytest.fixture
def png_reader():
    """``read_png(bytes) -> (pixels, palette)`` and ``read_image(path) -> RGB pixels``."""
    return SimpleNamespace(read_png=read_png, read_image=read_image)
