"""DataGenerator: batches of (LR, HR) Y pairs on tf.data, from a DIV2K root or an HR folder.

Images are decoded once (in parallel threads, by `espcn_edge.dataset`) and cached in memory;
training draws random aligned crops with flips and 90° rotations, validation uses whole images.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from espcn_edge.color import Y_MAX
from train.pairs import training_planes


def _to_float(y: tf.Tensor) -> tf.Tensor:
    """`espcn_edge.color.y_to_float` in graph form (tests check that the two agree)."""
    return tf.cast(y, tf.float32) / Y_MAX


class DataGenerator:
    """(LR, HR) float32 Y in [0, 1], shapes (p, p, 1) and (r·p, r·p, 1) for training."""

    def __init__(
        self,
        root: str | os.PathLike,
        scale: int,
        patch_size: int = 48,
        batch_size: int = 16,
        multiscale: bool = False,
        max_valid_images: int = 16,
    ):
        self.root, self.scale = root, scale
        self.patch_size, self.batch_size = patch_size, batch_size
        self.train_images, self.valid_images = training_planes(
            root, scale, patch_size, multiscale, max_valid_images
        )

    def _crop(self, lr: tf.Tensor, hr: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        p, r = self.patch_size, self.scale
        shape = tf.shape(lr)
        y = tf.random.uniform((), 0, shape[0] - p + 1, tf.int32)
        x = tf.random.uniform((), 0, shape[1] - p + 1, tf.int32)
        lr = lr[y : y + p, x : x + p]
        hr = hr[y * r : (y + p) * r, x * r : (x + p) * r]
        k = tf.random.uniform((), 0, 4, tf.int32)
        lr, hr = tf.image.rot90(lr, k), tf.image.rot90(hr, k)
        if tf.random.uniform(()) < 0.5:
            lr, hr = tf.image.flip_left_right(lr), tf.image.flip_left_right(hr)
        return _to_float(lr), _to_float(hr)

    def _images(self, images: list[tuple[np.ndarray, np.ndarray]]) -> tf.data.Dataset:
        spec = tf.TensorSpec((None, None, 1), tf.uint8)
        return tf.data.Dataset.from_generator(
            lambda: ((lr[..., None], hr[..., None]) for lr, hr in images),
            output_signature=(spec, spec),
        ).cache()

    def train_dataset(self) -> tf.data.Dataset:
        """Endless shuffled batches of random aligned patches."""
        return (
            self._images(self.train_images)
            .repeat()
            .shuffle(len(self.train_images))
            .map(self._crop, num_parallel_calls=tf.data.AUTOTUNE)
            .batch(self.batch_size, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE)
        )

    def valid_dataset(self) -> tf.data.Dataset:
        """Whole (modcropped) validation images, one per batch."""
        return (
            self._images(self.valid_images)
            .map(lambda lr, hr: (_to_float(lr), _to_float(hr)))
            .batch(1)
        )
