"""Training patches cut on the accelerator (`train.fit --device-patches`).

A GPU step of these small networks takes well under a millisecond, so a CPU generator cutting
patches for every step would be the limit. Here the training Y planes are uploaded once, and each
step draws its random aligned LR/HR crops, flips and 90° rotations inside the compiled step
(`train.crops`), from the same distribution as `DataGenerator.train_dataset`.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from train.crops import Packed, cut_batch, pack


def _device() -> str:
    return "/GPU:0" if tf.config.list_logical_devices("GPU") else "/CPU:0"


def _on_device(planes: list[np.ndarray]) -> Packed:
    with tf.device(_device()):
        return Packed(*(tf.identity(tf.constant(a)) for a in pack(planes)))


class DevicePatches:
    """Batches of (LR, HR) float32 Y patches, (b, p, p, 1) and (b, rp, rp, 1), cut on the device."""

    def __init__(
        self, images: list[tuple[np.ndarray, np.ndarray]], scale: int, patch_size: int,
        batch_size: int,
    ):  # fmt: skip
        self.scale, self.patch_size, self.batch_size = scale, patch_size, batch_size
        self.lr = _on_device([lr for lr, _ in images])
        self.hr = _on_device([hr for _, hr in images])
        with tf.device(_device()):
            self.rng = tf.random.Generator.from_non_deterministic_state()

    def batch(self) -> tuple[tf.Tensor, tf.Tensor]:
        u = self.rng.uniform((4, self.batch_size))  # image, row, column, orientation
        return cut_batch(self.lr, self.hr, u, self.scale, self.patch_size)


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
