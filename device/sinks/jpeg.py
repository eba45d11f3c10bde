"""JPEG encoding straight from Y/Cb/Cr planes (JPEG's own colour space: no RGB step).

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
    """Full-range Y, Cb, Cr uint8 planes of one size → JPEG (JFIF) bytes."""
    if simplejpeg is not None:
        return simplejpeg.encode_jpeg_yuv_planes(
            np.ascontiguousarray(y),
            np.ascontiguousarray(cb),
            np.ascontiguousarray(cr),
            quality=quality,
        )
    im = Image.merge("YCbCr", [Image.fromarray(np.ascontiguousarray(p)) for p in (y, cb, cr)])
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def view_planes(result, compare: bool):
    """The planes to show: the SR frame, or bicubic | ESPCN side by side when `compare`."""
    if not compare:
        return result.y, result.cb, result.cr
    bicubic = result.bicubic_planes()
    espcn = (result.y, result.cb, result.cr)
    return tuple(np.hstack([b, s]) for b, s in zip(bicubic, espcn, strict=True))
