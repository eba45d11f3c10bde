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

# Full-range BT.601 (JFIF) matrices, RGB in 0..255.
_RGB_TO_YCBCR = np.array(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]
)
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR)


Y_MAX = 255.0  # model input/output = Y / Y_MAX


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _mix(planes: list[np.ndarray], matrix: np.ndarray, bias: tuple[float, ...]) -> np.ndarray:
    """uint8 H×W×3 with channel c = Σ_j matrix[c, j] · planes[j] + bias[c], rounded and clipped.

    Plane by plane in float32 with in-place arithmetic: several times faster than one H×W×3
    matrix product, which matters at camera frame rates.
    """
    out = np.empty((*planes[0].shape, 3), np.uint8)
    acc = np.empty(planes[0].shape, np.float32)
    for c, (row, b) in enumerate(zip(matrix.astype(np.float32), bias, strict=True)):
        np.multiply(planes[0], row[0], out=acc)
        acc += row[1] * planes[1]
        acc += row[2] * planes[2]
        acc += b
        np.rint(acc, out=acc)
        out[..., c] = np.clip(acc, 0, 255, out=acc)
    return out


def rgb_to_ycbcr(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split an RGB uint8 image into full-range Y, Cb, Cr uint8 planes."""
    planes = [rgb[..., i].astype(np.float32) for i in range(3)]
    ycc = _mix(planes, _RGB_TO_YCBCR, (0.0, 128.0, 128.0))
    return ycc[..., 0], ycc[..., 1], ycc[..., 2]


def ycbcr_to_rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """Merge full-range Y, Cb, Cr uint8 planes of one size into an RGB uint8 image."""
    planes = [y.astype(np.float32), cb.astype(np.float32) - 128.0, cr.astype(np.float32) - 128.0]
    return _mix(planes, _YCBCR_TO_RGB, (0.0, 0.0, 0.0))


def luma(rgb: np.ndarray) -> np.ndarray:
    """Full-range Y plane (uint8) of an RGB uint8 image: what the camera delivers as its Y plane."""
    return rgb_to_ycbcr(rgb)[0]


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


def upscale_rgb(rgb: np.ndarray, scale: int, upscale_y) -> np.ndarray:
    """Super-resolve an RGB image: `upscale_y` maps the Y plane (uint8 H×W) to Y (uint8 rH×rW);
    chroma is upscaled with bicubic and merged back. After `upscale_y`, not beside it on a
    worker: the interpreter's threads already fill the cores (benchmarks/glue.py)."""
    y, cb, cr = rgb_to_ycbcr(rgb)
    y_sr = upscale_y(y)
    size = (y.shape[1] * scale, y.shape[0] * scale)
    return ycbcr_to_rgb(y_sr, resize_bicubic(cb, size), resize_bicubic(cr, size))


def matlab_y(rgb: np.ndarray) -> np.ndarray:
    """Y of MATLAB ``rgb2ycbcr`` (BT.601 studio swing, 16..235) as float64, for metrics only."""
    r, g, b = (rgb[..., i].astype(np.float64) / 255.0 for i in range(3))
    return 16.0 + 65.481 * r + 128.553 * g + 24.966 * b
