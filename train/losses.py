"""Training losses: pixel losses on Y, and distillation from a teacher network.

With a teacher, the data pipeline stacks the HR target and the teacher's output on the channel
axis (`with_teacher`), and the loss mixes the two terms; without one, y_true is the HR target.
"""

from __future__ import annotations

import keras
from keras import ops

CHARBONNIER_EPS = 1e-3


def charbonnier(y_true, y_pred):
    """A smooth L1 (Lai et al., LapSRN): √(d² + ε²), robust like L1, differentiable at 0."""
    return ops.mean(ops.sqrt(ops.square(y_pred - y_true) + CHARBONNIER_EPS**2), axis=(1, 2, 3))


def _l1(y_true, y_pred):
    return ops.mean(ops.abs(y_pred - y_true), axis=(1, 2, 3))


def _mse(y_true, y_pred):
    return ops.mean(ops.square(y_pred - y_true), axis=(1, 2, 3))


LOSSES = {"mse": _mse, "l1": _l1, "charbonnier": charbonnier}


def make_loss(name: str, teacher_weight: float | None = None):
    """The per-example loss `name`; with `teacher_weight` w, (1 − w)·loss(HR) + w·loss(teacher)
    on a y_true that stacks HR and the teacher's output (channels 0 and 1)."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}: use one of {', '.join(LOSSES)}")
    pixel = LOSSES[name]
    if teacher_weight is None:
        return pixel

    def distilled(y_true, y_pred):
        hr, teacher = y_true[..., :1], y_true[..., 1:]
        return (1 - teacher_weight) * pixel(hr, y_pred) + teacher_weight * pixel(teacher, y_pred)

    distilled.__name__ = f"distilled_{name}"
    return distilled


def with_teacher(dataset, teacher: keras.Model):
    """Batches (LR, HR) → (LR, HR ‖ teacher(LR)) for the distillation loss."""
    import tensorflow as tf

    def add(lr, hr):
        return lr, tf.concat([hr, tf.stop_gradient(teacher(lr, training=False))], axis=-1)

    return dataset.map(add, num_parallel_calls=1)
