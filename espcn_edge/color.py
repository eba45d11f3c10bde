"""The one definition of colour handling, shared by training, calibration, evaluation and runtime.

Two Y definitions exist on purpose:

* The model works on **full-range BT.601** YCbCr (what JPEG, Pillow's "YCbCr" and the Pi camera's
  full-range YUV420 use): Y, Cb, Cr in 0..255 as uint8. The model sees ``Y / 255`` as float32
  in [0, 1] and its output goes back with rounding and clipping.
* Metrics use MATLAB's ``rgb2ycbcr`` (studio swing, 16..235), the protocol of published SR tables.

All arrays are H×W (planes) or H×W×3 (RGB), uint8 unless stated.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
from PIL import Image

# Full-range BT.601 (JFIF) matrices, RGB in 0..255, in 1/16384ths (as libjpeg keeps them in
# fixed point): every product with a uint8 and every partial sum is then a multiple of 2^-14
# below 2^10, exact in float32, so the conversions give the same values on every CPU — with
# unrounded coefficients an aarch64 build of Pillow, whose compiler fuses multiply-adds, put 12
# of 65,536 Y values one level from x86's. Against the unrounded matrices they move values by
# at most 0.007 of a level (0.1–0.4 % of them to the other side of k + 0.5).
_FIXED = 1 << 14
_JFIF = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_RGB_TO_YCBCR = np.rint(_JFIF * _FIXED) / _FIXED  # rows sum to 1, 0, 0 exactly
_YCBCR_TO_RGB = np.rint(np.linalg.inv(_JFIF) * _FIXED) / _FIXED


Y_MAX = 255.0  # model input/output = Y / Y_MAX


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _pillow_matrix(matrix: np.ndarray, offsets) -> tuple[float, ...]:
    """`Image.convert(matrix=…)`'s 12-tuple: per output channel c, Σ_j matrix[c, j] · in_j +
    offsets[c]. Pillow computes it in float, adds 0.5, truncates and clips, all in C."""
    return tuple(float(v) for row, b in zip(matrix, offsets, strict=True) for v in (*row, b))


_TO_YCBCR = _pillow_matrix(_RGB_TO_YCBCR, (0.0, 128.0, 128.0))
# Cb, Cr enter as stored (offset 128): the offsets fold the −128 into each row's constant
_TO_RGB = _pillow_matrix(_YCBCR_TO_RGB, -128.0 * (_YCBCR_TO_RGB[:, 1] + _YCBCR_TO_RGB[:, 2]))


def _mix(image: Image.Image, matrix: tuple[float, ...]) -> Image.Image:
    """One 3-band uint8 image through a colour matrix in Pillow's C loop: 3-4× faster than
    numpy's float passes over the planes (0.97 against 3.47 ms for a 640×480 merge)."""
    return image.convert("RGB", matrix=matrix)


def rgb_to_ycbcr(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split an RGB uint8 image into full-range Y, Cb, Cr uint8 planes."""
    ycc = _mix(Image.fromarray(np.asarray(rgb, np.uint8)), _TO_YCBCR)
    return tuple(np.asarray(band) for band in ycc.split())


def ycbcr_to_rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """Merge full-range Y, Cb, Cr uint8 planes into an RGB uint8 image of Y's size. Smaller
    chroma (the LR chroma beside SR luma) is upscaled to it on the way, as `resize_bicubic`
    would: where Y is a whole factor larger, in bands beside the merge, one per core."""
    h, w = y.shape
    chroma = [Image.fromarray(np.asarray(c, np.uint8)) for c in (cb, cr)]
    factor = h // chroma[0].height
    if (chroma[0].width * factor, chroma[0].height * factor) != (w, h):
        chroma, factor = [c.resize((w, h), Image.Resampling.BICUBIC) for c in chroma], 1
    if factor == 1:
        return _merged(Image.fromarray(np.asarray(y, np.uint8)), *chroma)
    out = np.empty((h, w, 3), np.uint8)

    def band(top: int, bottom: int) -> None:
        planes = [_bicubic_band(c, top // factor, bottom // factor, factor) for c in chroma]
        out[top:bottom] = _merged(Image.fromarray(y[top:bottom]), *planes)

    _in_bands(band, h, factor)
    return out


def _merged(y: Image.Image, cb: Image.Image, cr: Image.Image) -> np.ndarray:
    return np.asarray(_mix(Image.merge("RGB", [y, cb, cr]), _TO_RGB))


_BICUBIC_MARGIN = 4  # rows beyond a band that its bicubic output reads (the kernel's reach: 2)


def _bicubic_band(plane: Image.Image, first: int, last: int, factor: int) -> Image.Image:
    """Rows [first, last) of `plane` upscaled `factor`× with bicubic, equal to those rows of the
    whole resize: the band is resized with a margin, which is then cut off (Pillow's `box=`
    gives other values)."""
    top, bottom = max(first - _BICUBIC_MARGIN, 0), min(last + _BICUBIC_MARGIN, plane.height)
    part = plane.crop((0, top, plane.width, bottom))
    up = part.resize((part.width * factor, part.height * factor), Image.Resampling.BICUBIC)
    return up.crop((0, (first - top) * factor, up.width, (last - top) * factor))


def bicubic_rows(plane: np.ndarray, first: int, last: int, factor: int) -> np.ndarray:
    """Rows [first, last) of `resize_bicubic(plane, factor × its size)`, computing only those."""
    return np.asarray(_bicubic_band(Image.fromarray(plane), first, last, factor))


_MIN_BAND_ROWS = 64  # below this, a band's thread costs more than it saves


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 1) - 1))


def _in_bands(work, rows: int, step: int) -> None:
    """`work(top, bottom)` over horizontal bands of `rows` (cut at multiples of `step`), one per
    core: Pillow's resize and convert release the GIL, so the bands run in parallel."""
    n = max(1, min(os.cpu_count() or 1, rows // _MIN_BAND_ROWS))
    cuts = [0, *(round(rows * i / n / step) * step for i in range(1, n)), rows]
    jobs = [_pool().submit(work, a, b) for a, b in zip(cuts[1:-1], cuts[2:], strict=True)]
    work(cuts[0], cuts[1])
    for job in jobs:
        job.result()


def luma(rgb: np.ndarray) -> np.ndarray:
    """Full-range Y plane (uint8) of an RGB uint8 image: what the camera delivers as its Y plane."""
    return np.asarray(Image.fromarray(np.asarray(rgb, np.uint8)).convert("L", matrix=_TO_YCBCR[:4]))


def y_to_float(y: np.ndarray) -> np.ndarray:
    """Y uint8 (0..255) → float32 in [0, 1], the model's input."""
    return y.astype(np.float32) / Y_MAX


def float_to_y(x: np.ndarray) -> np.ndarray:
    """Model output float in [0, 1] → Y uint8, rounded and clipped."""
    return _to_uint8(np.asarray(x, dtype=np.float32) * Y_MAX)


def resize_bicubic(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a uint8 plane or RGB image to `size` = (width, height) with Pillow's bicubic.

    Downscaling is antialiased (the kernel widens with the factor), like MATLAB's ``imresize``:
    this is how LR training images are made and how chroma is upscaled.
    """
    return np.asarray(Image.fromarray(img).resize(size, Image.Resampling.BICUBIC))


def resize_chroma(
    cb: np.ndarray, cr: np.ndarray, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """`resize_bicubic` of both chroma planes to `size`, Cr on another core while Cb is made."""
    job = _pool().submit(resize_bicubic, cr, size)
    return resize_bicubic(cb, size), job.result()


@functools.cache
def _beside() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="chroma")


def chroma_beside(cb: np.ndarray, cr: np.ndarray, size: tuple[int, int]) -> Future:
    """Both chroma planes at `size` (`resize_bicubic`), made on a worker thread from now on, so
    that they are ready when the model's Y is: Pillow's resize releases the GIL, and beside the
    interpreter's invoke it fills the gaps its threads leave (benchmarks/glue.py). The planes
    themselves when they are that size already."""
    if (cb.shape[1], cb.shape[0]) == size:
        done: Future = Future()
        done.set_result((cb, cr))
        return done
    return _beside().submit(lambda: (resize_bicubic(cb, size), resize_bicubic(cr, size)))


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right so both sides are multiples of `scale`."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    """The project's bicubic degradation: HR (modcropped) → LR of exactly 1/scale the size."""
    hr = modcrop(hr, scale)
    h, w = hr.shape[:2]
    return resize_bicubic(hr, (w // scale, h // scale))


def upscale_rgb(rgb: np.ndarray, scale: int, upscale_y) -> np.ndarray:
    """Super-resolve an RGB image: `upscale_y` maps the Y plane (uint8 H×W) to Y (uint8 rH×rW);
    chroma is upscaled with bicubic beside it (`chroma_beside`) and merged back."""
    y, cb, cr = rgb_to_ycbcr(rgb)
    chroma = chroma_beside(cb, cr, (y.shape[1] * scale, y.shape[0] * scale))
    return ycbcr_to_rgb(upscale_y(y), *chroma.result())


def matlab_y(rgb: np.ndarray) -> np.ndarray:
    """Y of MATLAB ``rgb2ycbcr`` (BT.601 studio swing, 16..235) as float64, for metrics only."""
    r, g, b = (rgb[..., i].astype(np.float64) / 255.0 for i in range(3))
    return 16.0 + 65.481 * r + 128.553 * g + 24.966 * b
