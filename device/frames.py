"""What flows through the device pipeline: LR frames in, super-resolved frames out.

Frames carry full-range BT.601 planes (Y, Cb, Cr as uint8, the camera's YUV420 and JPEG's
colour space). Chroma may be at the luma size or subsampled (YUV420): it is upscaled to the SR
size with bicubic either way. RGB sources are split with the core colour functions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from espcn_edge.color import resize_bicubic, rgb_to_ycbcr, ycbcr_to_rgb


@dataclass
class Frame:
    """One low-resolution frame: Y (H×W) and Cb, Cr (H×W or H/2×W/2), all uint8."""

    y: np.ndarray
    cb: np.ndarray
    cr: np.ndarray
    index: int = 0
    t_capture: float = field(default_factory=time.perf_counter)  # when it was captured
    capture_ms: float = 0.0  # time spent reading and converting it

    @classmethod
    def from_rgb(cls, rgb: np.ndarray, index: int = 0, t_start: float | None = None) -> Frame:
        """Split an RGB uint8 image; `t_start` (perf_counter) is when its capture began."""
        t0 = time.perf_counter() if t_start is None else t_start
        y, cb, cr = rgb_to_ycbcr(rgb)
        now = time.perf_counter()
        return cls(y, cb, cr, index=index, t_capture=now, capture_ms=(now - t0) * 1e3)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the luma plane."""
        return self.y.shape[1], self.y.shape[0]

    def rgb(self) -> np.ndarray:
        """The frame as RGB uint8 at the luma size."""
        return ycbcr_to_rgb(self.y, *_chroma_at(self.cb, self.cr, self.size))


@dataclass
class Result:
    """A super-resolved frame: Y, Cb, Cr planes at the SR size, plus the LR frame it came from."""

    frame: Frame
    y: np.ndarray
    cb: np.ndarray
    cr: np.ndarray
    stage_ms: dict[str, float] = field(default_factory=dict)
    _rgb: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.y.shape[1], self.y.shape[0]

    def rgb(self) -> np.ndarray:
        """RGB uint8 at the SR size (computed once, on demand)."""
        if self._rgb is None:
            self._rgb = ycbcr_to_rgb(self.y, self.cb, self.cr)
        return self._rgb

    def bicubic_planes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The LR frame upscaled with plain bicubic to the SR size, for side-by-side views."""
        y = resize_bicubic(self.frame.y, self.size)
        return (y, *_chroma_at(self.frame.cb, self.frame.cr, self.size))


def _chroma_at(cb: np.ndarray, cr: np.ndarray, size: tuple[int, int]):
    if (cb.shape[1], cb.shape[0]) == size:
        return cb, cr
    return resize_bicubic(cb, size), resize_bicubic(cr, size)


def super_resolve(frame: Frame, upscale_y) -> Result:
    """Run one frame through `upscale_y` (the engine's Y → Y call) and bicubic chroma."""
    t0 = time.perf_counter()
    y_sr = upscale_y(frame.y)
    t1 = time.perf_counter()
    size = (y_sr.shape[1], y_sr.shape[0])
    cb, cr = _chroma_at(frame.cb, frame.cr, size)
    t2 = time.perf_counter()
    stages = {"capture": frame.capture_ms, "invoke": (t1 - t0) * 1e3, "chroma": (t2 - t1) * 1e3}
    return Result(frame, y_sr, cb, cr, stage_ms=stages)
