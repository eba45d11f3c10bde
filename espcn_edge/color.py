"""The one definition of colour handling, shared by training, calibration, evaluation and runtime.

Two Y definitions exist on purpose:

* The model works on **full-range BT.601** YCbCr (what JPEG, Pillow's "YCbCr" and the Pi camera's
  full-range YUV420 use): Y, Cb, Cr in 0..255 as uint8. The model sees ``Y / 255`` as float32
  in [0, 1] and its output goes back with rounding and clipping.
* Metrics use MATLAB's ``rgb2ycbcr`` (studio swing, 16..235), the protocol of published SR tables.

All arrays are H×W (planes) or H×W×3 (RGB), uint8 unless stated.
"""

from __future__ import annotations

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
    """Merge full-range Y, Cb, Cr uint8 planes into an RGB uint8 image of Y's size; smaller
    chroma (the LR chroma beside SR luma) is upscaled to it first with `resize_bicubic`
    (`frames.merge` gives the same values faster, in bands on every core)."""
    h, w = y.shape
    if cb.shape != (h, w):
        cb, cr = (resize_bicubic(np.asarray(c, np.uint8), (w, h)) for c in (cb, cr))
    return merged(*(Image.fromarray(np.asarray(p, np.uint8)) for p in (y, cb, cr)))


def merged(y: Image.Image, cb: Image.Image, cr: Image.Image) -> np.ndarray:
    """Y, Cb, Cr bands of one size → RGB uint8, in Pillow's C loop."""
    return np.asarray(_mix(Image.merge("RGB", [y, cb, cr]), _TO_RGB))


_BICUBIC_MARGIN = 4  # rows beyond a band that its bicubic output reads (the kernel's reach: 2)


def bicubic_band(plane: Image.Image, first: int, last: int, factor: int) -> Image.Image:
    """Rows [first, last) of `plane` upscaled `factor`× with bicubic, equal to those rows of the
    whole resize: the band is resized with a margin, which is then cut off (Pillow's `box=`
    gives other values)."""
    top, bottom = max(first - _BICUBIC_MARGIN, 0), min(last + _BICUBIC_MARGIN, plane.height)
    part = plane.crop((0, top, plane.width, bottom))
    up = part.resize((part.width * factor, part.height * factor), Image.Resampling.BICUBIC)
    return up.crop((0, (first - top) * factor, up.width, (last - top) * factor))


def bicubic_rows(plane: np.ndarray, first: int, last: int, factor: int) -> np.ndarray:
    """Rows [first, last) of `resize_bicubic(plane, factor × its size)`, computing only those."""
    return np.asarray(bicubic_band(Image.fromarray(plane), first, last, factor))


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


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right so both sides are multiples of `scale`."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    """The project's bicubic degradation: HR (modcropped) → LR of exactly 1/scale the size."""
    hr = modcrop(hr, scale)
    h, w = hr.shape[:2]
    return resize_bicubic(hr, (w // scale, h // scale))


def matlab_y(rgb: np.ndarray) -> np.ndarray:
    """Y of MATLAB ``rgb2ycbcr`` (BT.601 studio swing, 16..235) as float64, for metrics only."""
    r, g, b = (rgb[..., i].astype(np.float64) / 255.0 for i in range(3))
    return 16.0 + 65.481 * r + 128.553 * g + 24.966 * b
