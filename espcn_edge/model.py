"""The ESPCN Keras model. Imports Keras, so only training, conversion and `.keras` evaluation
import this module; the core package and the device runtime do not."""

from __future__ import annotations

import re

import keras

from .spec import ModelSpec
from .tiers import DEFAULT_SPEC


def build_espcn(
    scale: int, spec: ModelSpec = DEFAULT_SPEC, conv=keras.layers.Conv2D, head_dtype=None
) -> keras.Model:
    """Y in [0, 1] of shape (H, W, 1) → Y in [0, 1] of shape (scale·H, scale·W, 1).

    Only built-in layers and ``keras.ops`` are used, so ``keras.models.load_model`` needs no
    custom objects and the converter emits TFLite's DEPTH_TO_SPACE. `conv` lets
    quantization-aware training swap in a fake-quantizing Conv2D with the same arguments.
    `head_dtype` ("float32") keeps conv7 and what follows out of a mixed-precision policy, so
    the output and the loss stay float32.
    """
    if scale not in (2, 3, 4):
        raise ValueError(f"scale must be 2, 3 or 4, not {scale}")
    lr = keras.Input((None, None, 1), name="lr_y")
    x = lr
    for i, (k, n) in enumerate(zip(spec.kernels, spec.widths, strict=False), start=1):
        x = conv(n, k, padding="same", activation="tanh", name=f"conv{i}")(x)
    head = {"dtype": head_dtype} if head_dtype else {}
    x = conv(
        scale * scale, spec.kernels[6], padding="same", activation="sigmoid", name="conv7", **head
    )(x)
    if spec.skip:
        anchor = keras.layers.Concatenate(name="anchor", **head)([lr] * (scale * scale))
        x = keras.layers.Add(name="residual", **head)([x - 0.5, anchor])
        x = keras.ops.clip(x, 0.0, 1.0)
    sr = keras.ops.depth_to_space(x, scale)
    return keras.Model(lr, sr, name=re.sub(r"[^A-Za-z0-9_.-]", "_", f"espcn_x{scale}_{spec.name}"))


def copy_weights(source: keras.Model, target: keras.Model) -> list[str]:
    """Copy the trainable weights of same-named layers whose shapes match (conv1–conv6 across
    scales; a fake-quantizing training model to and from the plain one). Returns the names."""
    copied = []
    for layer in target.layers:
        try:
            other = source.get_layer(layer.name)
        except ValueError:
            continue
        theirs = {v.name: v for v in other.trainable_weights}
        mine = layer.trainable_weights
        if mine and all(v.name in theirs and theirs[v.name].shape == v.shape for v in mine):
            for v in mine:
                v.assign(theirs[v.name])
            copied.append(layer.name)
    return copied


def model_scale(model: keras.Model) -> int:
    """The upscaling factor of a single-channel ESPCN-like model, found by running it once."""
    import numpy as np

    if len(model.inputs) != 1 or model.inputs[0].shape[-1] != 1:
        raise ValueError("not a single-channel super-resolution model (expects input (H, W, 1))")
    out = model(np.zeros((1, 8, 8, 1), np.float32))
    if out.shape[-1] != 1 or out.shape[1] % 8 or out.shape[1] != out.shape[2]:
        raise ValueError(f"not a single-channel super-resolution model (output {tuple(out.shape)})")
    return int(out.shape[1]) // 8
