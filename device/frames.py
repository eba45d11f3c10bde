"""What flows through the device pipeline: LR frames in, super-resolved frames out.

Frames carry full-range BT.601 planes (Y, Cb, Cr as uint8, the camera's YUV420 and JPEG's
colour space). Chroma may be at the luma size or subsampled (YUV420). RGB sources are split with
the core colour functions.

The SR frame's chroma is made only at the size its consumers need: a 4:2:0 JPEG or H.264 frame
carries Cb/Cr at half the SR size — at ×2 the LR size, which an RGB source's chroma already has —
and only RGB consumers (a window, PNG files) need them at the full SR size. Either is bicubic from
the LR chroma, started on a worker thread before the model runs (`color.chroma_beside`): Pillow's
resize releases the GIL and fills the gaps the interpreter's threads leave (benchmarks/glue.py).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from espcn_edge.color import (
    chroma_beside,
    resize_bicubic,
    resize_chroma,
    rgb_to_ycbcr,
    ycbcr_to_rgb,
)


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
        return ycbcr_to_rgb(self.y, self.cb, self.cr)


Size = tuple[int, int]  # (width, height)


def half_size(size: Size) -> Size:
    """The chroma size of a 4:2:0 frame of `size`: half, rounded up (odd sizes keep their edge)."""
    return (size[0] + 1) // 2, (size[1] + 1) // 2


@dataclass
class Result:
    """A super-resolved frame: Y at the SR size, chroma on demand (see module doc), and the LR
    frame it came from."""

    frame: Frame
    y: np.ndarray
    stage_ms: dict[str, float] = field(default_factory=dict)
    _chroma: dict[Size, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    _rgb: np.ndarray | None = None

    @property
    def size(self) -> Size:
        return self.y.shape[1], self.y.shape[0]

    def chroma(
        self, full: bool = False, made: Future | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Cb, Cr at half the SR size (4:2:0), or at the SR size when `full` (made once, or taken
        from `made`, a `chroma_beside` of this size)."""
        size = self.size if full else half_size(self.size)
        if size in self._chroma:
            return self._chroma[size]
        chroma = made.result() if made else _chroma_at(self.frame.cb, self.frame.cr, size)
        if chroma[0] is not self.frame.cb:  # kept only when resized
            self._chroma[size] = chroma
        return chroma

    def planes(self, full: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Y, Cb, Cr: 4:2:0 (for JPEG and H.264), or all at the SR size when `full`."""
        return (self.y, *self.chroma(full))

    def rgb(self) -> np.ndarray:
        """RGB uint8 at the SR size (computed once, on demand)."""
        if self._rgb is None:  # the full-size chroma if made, else straight from the LR chroma
            cb, cr = self._chroma.get(self.size, (self.frame.cb, self.frame.cr))
            self._rgb = ycbcr_to_rgb(self.y, cb, cr)
        return self._rgb

    def bicubic_planes(self, full: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The LR frame upscaled with plain bicubic, for side-by-side views: its chroma is the
        SR frame's own (the model changes only Y)."""
        return (resize_bicubic(self.frame.y, self.size), *self.chroma(full))


def _chroma_at(cb: np.ndarray, cr: np.ndarray, size: Size):
    if (cb.shape[1], cb.shape[0]) == size:
        return cb, cr
    return resize_chroma(cb, cr, size)


def super_resolve(
    frame: Frame, upscale_y, scale: int, full_chroma: Collection[bool] = (False,)
) -> Result:
    """Run one frame through `upscale_y` (the engine's Y → Y call, `scale`× larger), then make
    the chroma its consumers take: `full_chroma` has False for 4:2:0 consumers (JPEG, H.264),
    True for RGB ones (full SR size), made beside the model (`chroma_beside`)."""
    w, h = frame.size[0] * scale, frame.size[1] * scale
    made = {full: chroma_beside(frame.cb, frame.cr, (w, h) if full else half_size((w, h)))
            for full in set(full_chroma)}  # fmt: skip
    t0 = time.perf_counter()
    y_sr = upscale_y(frame.y)
    t1 = time.perf_counter()
    if y_sr.shape != (h, w):
        raise ValueError(f"upscale_y gave {y_sr.shape[1]}×{y_sr.shape[0]}, not ×{scale}")
    result = Result(frame, y_sr)
    for full, chroma in made.items():
        result.chroma(full, chroma)
    t2 = time.perf_counter()
    result.stage_ms = {
        "capture": frame.capture_ms,
        "invoke": (t1 - t0) * 1e3,
        "chroma": (t2 - t1) * 1e3,
    }
    return result
