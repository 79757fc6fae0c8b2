"""Posters for the fake servers: small PNG pictures made here (no image library), different
for each title, so the page's artwork can be shown and tested end to end. Jellyfin serves them
at `/Items/{id}/Images/Primary`, Jellyseerr at `/imageproxy/tmdb/t/p/{size}/{file}`."""

from __future__ import annotations

import hashlib
import struct
import zlib

WIDTH, HEIGHT = 200, 300
PNG = "image/png"


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def _colour(seed: bytes, at: int) -> tuple[int, int, int]:
    r, g, b = seed[at], seed[at + 1], seed[at + 2]
    return 40 + r % 170, 40 + g % 170, 40 + b % 170


def poster(name: str, width: int = WIDTH) -> bytes:
    """A poster for `name`: a two-colour gradient with a band and a disc, `width` wide (at
    most 400) in the 2:3 shape of a film poster."""
    width = max(20, min(width, 400))
    height = width * 3 // 2
    seed = hashlib.sha256(name.encode()).digest()
    top, bottom, accent = _colour(seed, 0), _colour(seed, 3), _colour(seed, 6)
    cx, cy, radius = width // 2, height * 2 // 5, width // 4
    rows = []
    for y in range(height):
        f = y / max(height - 1, 1)
        base = bytes(round(t + (b - t) * f) for t, b in zip(top, bottom, strict=True))
        line = bytearray(b"\x00")  # filter: none
        band = height * 3 // 4 <= y < height * 3 // 4 + height // 12
        for x in range(width):
            inside = (x - cx) ** 2 + (y - cy) ** 2 <= radius * radius
            line += bytes(accent) if inside or band else base
        rows.append(bytes(line))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + _chunk(b"IEND", b""))
