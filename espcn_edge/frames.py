"""The colour glue around the model, and the one thread pool for it: frames in, frames out.

Frames carry full-range BT.601 planes (Y, Cb, Cr as uint8, the camera's YUV420 and JPEG's
colour space). Chroma may be at the luma size or subsampled (YUV420). RGB is split with the core
colour functions (`espcn_edge.color`, which computes; this module schedules).

The SR frame's chroma is made only at the size its consumers need: a 4:2:0 JPEG or H.264 frame
carries Cb/Cr at half the SR size — at ×2 the LR size, which an RGB source's chroma already has —
and only RGB consumers (a window, PNG files, `upscale_rgb`) need them at the full SR size. Either
is bicubic from the LR chroma, started on a worker thread before the model runs (`chroma_beside`):
Pillow's resize releases the GIL and fills the gaps the interpreter's threads leave
(benchmarks/glue.py).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .color import bicubic_band, merged, resize_bicubic, rgb_to_ycbcr, ycbcr_to_rgb

UpscaleY = Callable[[np.ndarray], np.ndarray]  # uint8 H×W Y → uint8 rH×rW Y


@functools.cache
def executor() -> ThreadPoolExecutor:
    """The process's one pool for the glue (a job never waits on another job, so it cannot
    deadlock): chroma beside the model, merge bands, the next band's colour work."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="espcn-glue")


_MIN_BAND_ROWS = 64  # below this, a band's thread costs more than it saves


def in_bands(work: Callable[[int, int], None], rows: int, step: int) -> None:
    """`work(top, bottom)` over horizontal bands of `rows` (cut at multiples of `step`), one per
    core: Pillow's resize and convert release the GIL, so the bands run in parallel."""
    n = max(1, min(os.cpu_count() or 1, rows // _MIN_BAND_ROWS))
    cuts = [0, *(round(rows * i / n / step) * step for i in range(1, n)), rows]
    jobs = [executor().submit(work, a, b) for a, b in zip(cuts[1:-1], cuts[2:], strict=True)]
    work(cuts[0], cuts[1])
    for job in jobs:
        job.result()


def merge(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """`color.ycbcr_to_rgb`, bit for bit: where Y is a whole factor larger than the chroma, the
    chroma is upscaled band by band beside the merge, one band per core."""
    h, w = y.shape
    chroma = [Image.fromarray(np.asarray(c, np.uint8)) for c in (cb, cr)]
    factor = h // chroma[0].height
    if factor == 1 or (chroma[0].width * factor, chroma[0].height * factor) != (w, h):
        return ycbcr_to_rgb(y, cb, cr)
    out = np.empty((h, w, 3), np.uint8)

    def band(top: int, bottom: int) -> None:
        planes = [bicubic_band(c, top // factor, bottom // factor, factor) for c in chroma]
        out[top:bottom] = merged(Image.fromarray(y[top:bottom]), *planes)

    in_bands(band, h, factor)
    return out


def resize_chroma(
    cb: np.ndarray, cr: np.ndarray, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """`resize_bicubic` of both chroma planes to `size`, Cr on another core while Cb is made."""
    job = executor().submit(resize_bicubic, cr, size)
    return resize_bicubic(cb, size), job.result()


def chroma_beside(cb: np.ndarray, cr: np.ndarray, size: tuple[int, int]) -> Future:
    """Both chroma planes at `size` (`resize_bicubic`), made on a worker thread from now on, so
    that they are ready when the model's Y is: Pillow's resize releases the GIL, and beside the
    interpreter's invoke it fills the gaps its threads leave (benchmarks/glue.py). The planes
    themselves when they are that size already."""
    if (cb.shape[1], cb.shape[0]) == size:
        done: Future = Future()
        done.set_result((cb, cr))
        return done
    return executor().submit(lambda: (resize_bicubic(cb, size), resize_bicubic(cr, size)))


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
        return merge(self.y, self.cb, self.cr)


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
            self._rgb = merge(self.y, cb, cr)
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
    frame: Frame, upscale_y: UpscaleY, scale: int, full_chroma: Collection[bool] = (False,)
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


def upscale_rgb(rgb: np.ndarray, scale: int, upscale_y: UpscaleY) -> np.ndarray:
    """Super-resolve an RGB uint8 image: Y by `upscale_y`, chroma bicubic beside it, merged."""
    return super_resolve(Frame.from_rgb(rgb), upscale_y, scale, full_chroma=(True,)).rgb()
