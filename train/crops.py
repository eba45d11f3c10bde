"""Random aligned LR/HR patches cut inside a compiled training step, in `keras.ops`, so that
TensorFlow's step (`train.patches`) and the JAX trainer (`train.jax_fit`) cut the same patches.

All planes of one resolution lie in one flat uint8 tensor with each plane's start and (height,
width). A batch is drawn from uniform numbers `u` of shape (4, b): image, row, column and
orientation, each uniform, as `train.data.DataGenerator` draws them on the CPU.
"""

from __future__ import annotations

from typing import NamedTuple

import keras
import numpy as np
from keras import ops

from espcn_edge.color import y_to_float

# Indices into all of DIV2K's HR planes together exceed 2³¹ pixels: int64 in TensorFlow; JAX
# (without its 64-bit mode) has uint32, which reaches 2³² and every index here is ≥ 0.
INDEX = "int64" if keras.backend.backend() == "tensorflow" else "uint32"
# The core's Y → float of every level, looked up: a division by 255 in a compiled step may become
# a multiplication by its reciprocal (JAX's does), a level off in the last bit.
Y_TO_FLOAT = y_to_float(np.arange(256, dtype=np.uint8))


class Packed(NamedTuple):
    flat: np.ndarray  # every plane's pixels, one after another
    starts: np.ndarray  # where each plane begins in `flat`
    shapes: np.ndarray  # (height, width) of each plane


def pack(planes: list[np.ndarray]) -> Packed:
    shapes = np.array([p.shape for p in planes], np.int64)
    starts = np.concatenate([[0], np.cumsum(shapes[:, 0] * shapes[:, 1])[:-1]])
    if starts[-1] + shapes[-1].prod() > np.iinfo(INDEX).max:
        raise ValueError(f"{len(planes)} training planes exceed {np.iinfo(INDEX).max:,} pixels")
    return Packed(np.concatenate([p.ravel() for p in planes]), starts.astype(INDEX),
                  shapes.astype(INDEX))  # fmt: skip


def _pick(u, n):
    """A uniform integer in [0, n) (the minimum: float rounding can give n itself)."""
    return ops.minimum(ops.cast(u * ops.cast(n, "float32"), INDEX), n - 1)


def cut_batch(lr: Packed, hr: Packed, u, scale: int, patch_size: int):
    """(LR, HR) float32 Y in [0, 1] of shapes (b, p, p, 1) and (b, rp, rp, 1) for u (4, b)."""
    p, r = patch_size, scale
    image = _pick(u[0], ops.cast(ops.shape(lr.shapes)[0], INDEX))
    shape = ops.take(lr.shapes, image, axis=0)
    y, x = _pick(u[1], shape[:, 0] - p + 1), _pick(u[2], shape[:, 1] - p + 1)
    orientation = _pick(u[3], ops.cast(8, INDEX))
    return (_cut(lr, image, y, x, orientation, p),
            _cut(hr, image, y * r, x * r, orientation, r * p))  # fmt: skip


def _cut(planes: Packed, image, y, x, orientation, size: int):
    """The size×size windows at (y, x) of the chosen planes, each in one of the 8 orientations
    (bit 2: transpose, bit 0: flip rows, bit 1: flip columns). An HR window at r× the LR
    offset and side, in the same orientation, is exactly the LR window's HR counterpart."""

    def per_patch(v):
        return v[:, None, None]

    grid = ops.arange(size, dtype=INDEX)
    rows, cols = (g[None] for g in ops.meshgrid(grid, grid, indexing="ij"))
    o = per_patch(orientation)
    rows, cols = ops.where(o >= 4, cols, rows), ops.where(o >= 4, rows, cols)
    rows = ops.where(o % 2 == 1, size - 1 - rows, rows)
    cols = ops.where(o // 2 % 2 == 1, size - 1 - cols, cols)
    width = per_patch(ops.take(planes.shapes, image, axis=0)[:, 1])
    index = (
        per_patch(ops.take(planes.starts, image, axis=0))
        + (per_patch(y) + rows) * width
        + per_patch(x)
        + cols
    )
    return ops.take(Y_TO_FLOAT, ops.cast(ops.take(planes.flat, index), "int32"))[..., None]
