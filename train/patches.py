"""Training patches cut on the accelerator (`train.fit --device-patches`).

A GPU step of these small networks takes well under a millisecond, so a CPU generator cutting
patches for every step would be the limit. Here the training Y planes are uploaded once, and each
step draws its random aligned LR/HR crops, flips and 90° rotations inside the compiled step, from
the same distribution as `DataGenerator.train_dataset` (image, offset and orientation uniform).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from train.data import _to_float


def _device() -> str:
    return "/GPU:0" if tf.config.list_logical_devices("GPU") else "/CPU:0"


def _pack(planes: list[np.ndarray]) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """One flat uint8 tensor of all planes, with each plane's start and (height, width), int64
    (all of DIV2K's HR planes together exceed 2³¹ pixels)."""
    shapes = np.array([p.shape for p in planes], np.int64)
    starts = np.concatenate([[0], np.cumsum(shapes[:, 0] * shapes[:, 1])[:-1]])
    flat = np.concatenate([p.ravel() for p in planes])
    with tf.device(_device()):
        return tuple(tf.identity(tf.constant(a)) for a in (flat, starts, shapes))


class DevicePatches:
    """Batches of (LR, HR) float32 Y patches, (b, p, p, 1) and (b, rp, rp, 1), cut on the device."""

    def __init__(
        self, images: list[tuple[np.ndarray, np.ndarray]], scale: int, patch_size: int,
        batch_size: int,
    ):  # fmt: skip
        self.scale, self.patch_size, self.batch_size = scale, patch_size, batch_size
        self.count = len(images)
        self.lr, self.lr_starts, self.lr_shapes = _pack([lr for lr, _ in images])
        self.hr, self.hr_starts, self.hr_shapes = _pack([hr for _, hr in images])
        with tf.device(_device()):
            self.rng = tf.random.Generator.from_non_deterministic_state()

    def batch(self) -> tuple[tf.Tensor, tf.Tensor]:
        b, p, r = self.batch_size, self.patch_size, self.scale
        u = self.rng.uniform((4, b))  # image, row, column, orientation

        def pick(u: tf.Tensor, n: tf.Tensor) -> tf.Tensor:
            """A uniform integer in [0, n) (the minimum: float rounding can give n itself)."""
            return tf.minimum(tf.cast(u * tf.cast(n, tf.float32), tf.int64), n - 1)

        image = pick(u[0], tf.constant(self.count, tf.int64))
        shape = tf.gather(self.lr_shapes, image)
        y, x = pick(u[1], shape[:, 0] - p + 1), pick(u[2], shape[:, 1] - p + 1)
        orientation = pick(u[3], tf.constant(8, tf.int64))
        lr = self._cut(self.lr, self.lr_starts, self.lr_shapes, image, y, x, orientation, p)
        hr = self._cut(self.hr, self.hr_starts, self.hr_shapes, image, y * r, x * r, orientation,
                       r * p)  # fmt: skip
        return lr, hr

    @staticmethod
    def _cut(flat, starts, shapes, image, y, x, orientation, size: int) -> tf.Tensor:
        """The size×size windows at (y, x) of the chosen planes, each in one of the 8 orientations
        (bit 2: transpose, bit 0: flip rows, bit 1: flip columns). An HR window at r× the LR
        offset and side, in the same orientation, is exactly the LR window's HR counterpart."""

        def per_patch(v: tf.Tensor) -> tf.Tensor:
            return v[:, None, None]

        grid = tf.range(size, dtype=tf.int64)
        rows, cols = (g[None] for g in tf.meshgrid(grid, grid, indexing="ij"))
        o = per_patch(orientation)
        rows, cols = tf.where(o >= 4, cols, rows), tf.where(o >= 4, rows, cols)
        rows = tf.where(o % 2 == 1, size - 1 - rows, rows)
        cols = tf.where(o // 2 % 2 == 1, size - 1 - cols, cols)
        width = per_patch(tf.gather(shapes, image)[:, 1])
        index = (
            per_patch(tf.gather(starts, image))
            + (per_patch(y) + rows) * width
            + per_patch(x)
            + cols
        )
        return _to_float(tf.gather(flat, index)[..., None])


class DevicePatchModel(keras.Model):
    """The network (the same layers), trained on `DevicePatches` drawn in its own train_step:
    the dataset `fit` is given is only a placeholder of the right structure."""

    def __init__(self, network: keras.Model, patches: DevicePatches):
        super().__init__(network.input, network.output, name=network.name)
        self.patches = patches

    def train_step(self, data):
        return super().train_step(self.patches.batch())

    def placeholder(self) -> tf.data.Dataset:
        r = self.patches.scale
        return tf.data.Dataset.from_tensors(
            (tf.zeros((1, 1, 1, 1)), tf.zeros((1, r, r, 1)))
        ).repeat()
