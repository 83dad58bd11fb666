"""A small PNG reader (8-bit RGB/RGBA/grey, non-interlaced), so tests need no image library."""

from __future__ import annotations

import struct
import zlib

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(data: bytes) -> tuple[int, int, list[list[tuple[int, int, int]]]]:
    """Decode a PNG into (width, height, rows of RGB pixels)."""
    if data[:8] != _SIGNATURE:
        raise ValueError("not a PNG file")
    pos = 8
    idat = b""
    width = height = depth = ctype = interlace = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, ctype, _comp, _filt, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if depth != 8 or ctype not in _CHANNELS or interlace:
        raise ValueError(
            f"unsupported PNG: depth {depth}, colour type {ctype}, interlace {interlace}"
        )
    bpp = _CHANNELS[ctype]
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[list[tuple[int, int, int]]] = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        ftype = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + stride])
        if ftype == 2:
            line = bytearray((x + b) & 0xFF for x, b in zip(line, prev, strict=True))
        elif ftype in (1, 3, 4):
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                if ftype == 1:
                    line[i] = (line[i] + a) & 0xFF
                elif ftype == 3:
                    line[i] = (line[i] + ((a + prev[i]) >> 1)) & 0xFF
                else:
                    c = prev[i - bpp] if i >= bpp else 0
                    line[i] = (line[i] + _paeth(a, prev[i], c)) & 0xFF
        elif ftype != 0:
            raise ValueError(f"bad PNG filter type {ftype}")
        prev = line
        if bpp >= 3:
            rows.append([(line[i], line[i + 1], line[i + 2]) for i in range(0, stride, bpp)])
        else:
            rows.append([(line[i], line[i], line[i]) for i in range(0, stride, bpp)])
    return width, height, rows
