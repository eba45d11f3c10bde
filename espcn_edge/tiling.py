"""Cutting an image into overlapping tiles whose stitched outputs equal whole-image inference.

A convolution with "same" padding sees `radius` LR pixels around each output pixel (the sum of
its layers' kernel radii: 8 for the shipped ``5:32,3:32,3:16×4,3``). A tile's output is exact
wherever all of that neighbourhood lies inside the tile, or the tile edge is the image edge (the
zero padding is then the same). So tiles overlap by 2·radius, each keeps only its exact part, and
the stitched result is bit for bit the whole-image result, in any amount of memory.

Along one axis an image of `length` pixels is run whole when it fits in `tile`; otherwise it is
cut into the fewest tiles of at most `tile` pixels, all of one length (so the interpreter is
allocated once per image size) and spread evenly, which keeps the overlap small.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .spec import parse_spec


@dataclass(frozen=True)
class Span:
    """One tile along an axis: it reads [start, start + length) and keeps [keep_from, keep_to)."""

    start: int
    keep_from: int
    keep_to: int


def axis_tiles(length: int, tile: int, radius: int, multiple: int = 1) -> tuple[int, list[Span]]:
    """(tile length, spans) covering [0, length) exactly once with kept parts.

    `tile` ≤ 0 or ≥ `length` means one span. Otherwise `tile` must exceed 2·radius. The tile
    length is rounded up to a `multiple` where the image allows (a blocked graph's 2×2 block:
    a tile of odd side would run in the plain graph).
    """
    if tile <= 0 or length <= tile:
        return length, [Span(0, 0, length)]
    if tile <= 2 * radius:
        raise ValueError(f"tile {tile} is too small for a receptive-field radius of {radius}")
    n = math.ceil((length - 2 * radius) / (tile - 2 * radius))
    size = math.ceil((length - 2 * radius) / n) + 2 * radius
    size = min(-(-size // multiple) * multiple, length)
    n = math.ceil((length - 2 * radius) / (size - 2 * radius))  # fewer, if rounding up made room
    spans, kept = [], 0
    for k in range(n):
        start = min(k * (size - 2 * radius), length - size)
        end = length if k == n - 1 else start + size - radius
        spans.append(Span(start, kept, end))
        kept = end
    return size, spans


def spec_radius(spec: str) -> int:
    """Receptive-field radius (LR pixels) of a spec (``f1:n1,…,f6:n6,f7[+skip]`` or a name):
    the sum of (kernel − 1) / 2 over the layers. Depth-to-space and the identity path add none."""
    return sum((k - 1) // 2 for k in parse_spec(spec).kernels)
