"""4:2:0 JPEG encoding straight from Y/Cb/Cr planes (JPEG's own colour space: no RGB step, and
the chroma already at half size, so no resampling either).

simplejpeg (libjpeg-turbo; picamera2 depends on it, so it is there on a Pi) when installed,
else Pillow, which also writes YCbCr JPEGs without converting.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

try:
    import simplejpeg
except ImportError:  # pragma: no cover - depends on the machine
    simplejpeg = None

QUALITY = 80
ENCODER = "simplejpeg" if simplejpeg is not None else "pillow"


def encode_planes(y: np.ndarray, cb: np.ndarray, cr: np.ndarray, quality: int = QUALITY) -> bytes:
    """Full-range Y (H×W) and Cb, Cr at half its size (⌈H/2⌉×⌈W/2⌉) → 4:2:0 JPEG (JFIF) bytes."""
    if simplejpeg is not None:
        return simplejpeg.encode_jpeg_yuv_planes(
            np.ascontiguousarray(y),
            np.ascontiguousarray(cb),
            np.ascontiguousarray(cr),
            quality=quality,
        )
    # Pillow takes planes of one size and averages 2×2 blocks itself: chroma doubled by
    # repetition (nearest neighbour at exactly 2×) comes back out of that average unchanged
    h, w = y.shape
    chroma = [_doubled(Image.fromarray(np.ascontiguousarray(c)), (w, h)) for c in (cb, cr)]
    im = Image.merge("YCbCr", [Image.fromarray(np.ascontiguousarray(y)), *chroma])
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality, subsampling="4:2:0")
    return buf.getvalue()


def _doubled(plane: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Each pixel of `plane` as a 2×2 block, cropped to `size` (odd sizes keep half a block)."""
    doubled = plane.resize((2 * plane.width, 2 * plane.height), Image.Resampling.NEAREST)
    return doubled if doubled.size == size else doubled.crop((0, 0, *size))


def view_planes(result, compare: bool, full: bool = False):
    """The planes to show: the SR frame, or bicubic | ESPCN side by side when `compare`;
    4:2:0, or chroma at the luma size when `full` (for RGB)."""
    espcn = result.planes(full)
    if not compare:
        return espcn
    y, cb, cr = (np.hstack(pair) for pair in zip(result.bicubic_planes(full), espcn, strict=True))
    width = y.shape[1] if full else (y.shape[1] + 1) // 2  # two odd halves: one column less
    return y, cb[:, :width], cr[:, :width]
