"""Representative data for int8 calibration: LR Y patches, some whole frames and a range anchor.

Every sample is float32 (1, h, w, 1) made with `espcn_edge.color.y_to_float`, the same input
preprocessing as training. Draws are reproducible from `seed`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import numpy as np

from espcn_edge.color import y_to_float
from espcn_edge.dataset import find_pairs, load_pairs

MAX_FRAME_SIDE = 320  # whole frames are centre-cropped to this, to keep calibration quick


def calibration_lr(data: str | os.PathLike, scale: int) -> list[np.ndarray]:
    """LR Y planes of the training split: a DIV2K root's ``DIV2K_train_LR_bicubic/X{scale}``
    files (or LR made from ``DIV2K_train_HR``), or any folder of HR images."""
    return [lr for lr, _ in load_pairs(find_pairs(data, scale, "train"), scale, root=data)]


def range_anchor(height: int = 64, width: int = 64) -> np.ndarray:
    """A synthetic Y plane with a 0…255 ramp and flat black and white areas.

    It pins the input range to exactly [0, 1] (so uint8 input is scale 1/255, zero point 0 and
    camera bytes go in untouched) and shows the calibrator full white, so the output range
    reaches 1.0 and white comes back as 255.
    """
    y = np.zeros((height, width), np.uint8)
    half = height // 2
    y[:half] = np.linspace(0, 255, width).round().astype(np.uint8)[None, :]
    y[half:, width // 2 :] = 255
    return y


def _crop(y: np.ndarray, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    if y.shape[0] < h or y.shape[1] < w:
        pad = ((0, max(0, h - y.shape[0])), (0, max(0, w - y.shape[1])))
        y = np.pad(y, pad, mode="edge")
    top = int(rng.integers(0, y.shape[0] - h + 1))
    left = int(rng.integers(0, y.shape[1] - w + 1))
    return y[top : top + h, left : left + w]


def _centre(y: np.ndarray, side: int) -> np.ndarray:
    top, left = max(0, (y.shape[0] - side) // 2), max(0, (y.shape[1] - side) // 2)
    return y[top : top + side, left : left + side]


def calibration_planes(
    lr_planes: Sequence[np.ndarray],
    patches: int = 300,
    frames: int = 8,
    patch_size: int = 48,
    seed: int = 0,
    input_size: tuple[int, int] | None = None,
) -> list[np.ndarray]:
    """uint8 Y planes to calibrate on: `patches` random crops, `frames` whole (centre-cropped)
    LR images, and the range anchor. With `input_size` = (w, h) every plane has that size."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(patches):
        y = lr_planes[int(rng.integers(len(lr_planes)))]
        h, w = (input_size[1], input_size[0]) if input_size else (patch_size, patch_size)
        out.append(_crop(y, h, w, rng))
    for i in rng.permutation(len(lr_planes))[:frames]:
        y = lr_planes[int(i)]
        out.append(
            _crop(y, input_size[1], input_size[0], rng)
            if input_size
            else _centre(y, MAX_FRAME_SIDE)
        )
    out.append(range_anchor(*(input_size[::-1] if input_size else (64, 64))))
    return out


def representative_dataset(planes: Sequence[np.ndarray], progress: bool = True):
    """A callable for ``TFLiteConverter.representative_dataset`` with a tqdm progress bar."""

    def gen() -> Iterator[list[np.ndarray]]:
        items = planes
        if progress:
            from tqdm import tqdm

            items = tqdm(planes, desc="calibrating", unit="sample", leave=False)
        for y in items:
            yield [y_to_float(y)[None, ..., None]]

    return gen
