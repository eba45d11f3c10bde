"""The frames users have, in the memory orders their libraries give them.

numpy and Pillow hold RGB as R,G,B; OpenCV as B,G,R. picamera2 names its formats after libcamera,
little-endian words read high byte first: `RGB888` is B,G,R in memory, `BGR888` R,G,B,
`XBGR8888` R,G,B,255 and `XRGB8888` B,G,R,255 (picamera2's own `make_image` reads them as
Pillow's "BGR", "RGB", "RGBA" and "BGRX"). Its `YUV420` array is (H·3/2)×stride: H rows of Y,
then U and V at half the size, two of their rows to each buffer row, every row padded to the
stride.
"""

from __future__ import annotations

import numpy as np

from .errors import UserError

# where R, G and B sit among a pixel's bytes
RGB_ORDER = {
    "RGB": (0, 1, 2),
    "BGR": (2, 1, 0),
    "RGB888": (2, 1, 0),
    "BGR888": (0, 1, 2),
    "XBGR8888": (0, 1, 2),
    "XRGB8888": (2, 1, 0),
}
PADDED = ("XBGR8888", "XRGB8888")  # a fourth byte, 255
FORMATS = (*RGB_ORDER, "YUV420", "GREY")


class FrameError(UserError, ValueError):
    """A frame that is not in the format given (or in none the upscaler knows)."""


def resolve(fmt: str | None, frame: np.ndarray) -> str:
    """The format of `frame`: `fmt` checked against its shape, or from the shape alone (H×W
    grey, H×W×3 RGB; H×W×4 is RGBA, which `resolve` leaves to the caller as None)."""
    if frame.dtype != np.uint8:
        raise FrameError(f"frames are uint8 arrays, not {frame.dtype}")
    channels = frame.shape[2] if frame.ndim == 3 else 1
    if fmt is None:
        fmt = {1: "GREY", 3: "RGB"}.get(channels, "")
        if frame.ndim not in (2, 3) or not fmt:
            raise FrameError(
                f"a {'×'.join(map(str, frame.shape))} array: give format= (one of "
                f"{', '.join(FORMATS)}), e.g. 'XBGR8888' for picamera2's default"
            )
        return fmt
    if fmt not in FORMATS:
        raise FrameError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    want = {"YUV420": (2, 1), "GREY": (2, 1)}.get(fmt) or (3, 4 if fmt in PADDED else 3)
    if frame.ndim != want[0] or channels != want[1] or (fmt == "YUV420" and frame.shape[0] % 3):
        raise FrameError(f"a {'×'.join(map(str, frame.shape))} array is not a {fmt} frame")
    return fmt


def to_rgb(frame: np.ndarray, fmt: str) -> np.ndarray:
    """H×W×3 R,G,B (contiguous; the frame itself when it is that already)."""
    order = RGB_ORDER[fmt]
    if order == (0, 1, 2) and frame.shape[2] == 3:
        return np.ascontiguousarray(frame)
    return np.ascontiguousarray(frame[..., list(order)])


def from_rgb(rgb: np.ndarray, fmt: str) -> np.ndarray:
    """An R,G,B image in `fmt`'s memory order (the padding byte 255)."""
    order = RGB_ORDER[fmt]
    out = np.empty((*rgb.shape[:2], 4 if fmt in PADDED else 3), np.uint8)
    for channel, position in enumerate(order):
        out[..., position] = rgb[..., channel]
    if fmt in PADDED:
        out[..., 3] = 255
    return out


def yuv420_planes(buf: np.ndarray, width: int, height: int, stride: int):
    """Copy Y (H×W), U and V (H/2×W/2) out of a YUV420 buffer with `stride` bytes per Y row:
    picamera2's (H·3/2)×stride array or the same bytes flat."""
    flat = buf.reshape(-1)
    cw, ch, cstride = width // 2, height // 2, stride // 2
    need = height * stride + 2 * ch * cstride
    if flat.size < need or width > stride:
        raise FrameError(
            f"YUV420 buffer of {flat.size} bytes is too small for {width}×{height} "
            f"with stride {stride} ({need} needed)"
        )
    u0 = height * stride
    v0 = u0 + ch * cstride
    y = flat[:u0].reshape(height, stride)[:, :width].copy()
    u = flat[u0:v0].reshape(ch, cstride)[:, :cw].copy()
    v = flat[v0:need].reshape(ch, cstride)[:, :cw].copy()
    return y, u, v


def yuv420_array(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The inverse: planes → a (H·3/2)×W YUV420 array laid out as picamera2's (stride W)."""
    h, w = y.shape
    out = np.empty(h * w * 3 // 2, np.uint8)
    out[: h * w] = y.reshape(-1)
    out[h * w : h * w + u.size] = u.reshape(-1)
    out[h * w + u.size :] = v.reshape(-1)
    return out.reshape(h * 3 // 2, w)
