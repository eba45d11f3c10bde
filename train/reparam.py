"""Re-parameterized training: each convolution trained as an over-parameterized linear block
that collapses, exactly, into one plain kernel (SESR's collapsible linear blocks, Bhardwaj et
al., MLSys 2022).

A block is a k×k convolution to `expand` channels, a 1×1 projection back to the layer's width
and, where input and output widths match, a short identity path. All three are linear, so their
composition is one k×k kernel; `CollapsibleConv2D` builds that kernel from its factors at every
call (weight space, a few thousand MACs) and runs one convolution, so a training step costs what
the plain network costs while the optimizer sees the richer parameterization. The activation
stays outside the block. Checkpoints hold the collapsed plain network (`collapse_into`).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

REPARAMS = {"none": 0, "sesr": 256}  # name → expansion width of every block


class CollapsibleConv2D(keras.layers.Layer):
    """k×k conv (→ `expand` channels) · 1×1 conv (→ `filters`) [+ identity], then activation."""

    def __init__(
        self, filters: int, kernel_size: int, activation=None, expand: int = 256, **kwargs
    ):
        kwargs.pop("padding", None)  # always "same", like the plain layers it collapses into
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.expand = filters, kernel_size, expand
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        k, cin = self.kernel_size, int(input_shape[-1])
        self.expand_kernel = self.add_weight(
            shape=(k, k, cin, self.expand), initializer="glorot_uniform", name="expand_kernel"
        )
        self.expand_bias = self.add_weight(
            shape=(self.expand,), initializer="zeros", name="expand_bias"
        )
        self.project_kernel = self.add_weight(
            shape=(self.expand, self.filters), initializer="glorot_uniform", name="project_kernel"
        )
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")
        identity = np.zeros((k, k, cin, self.filters), np.float32)
        if cin == self.filters:
            identity[k // 2, k // 2] = np.eye(cin, dtype=np.float32)
        self.identity = identity

    def collapsed(self):
        """(kernel, bias) of the one plain k×k convolution this block computes."""
        kernel = ops.tensordot(self.expand_kernel, self.project_kernel, axes=1) + self.identity
        bias = ops.matmul(self.expand_bias, self.project_kernel) + self.bias
        return kernel, bias

    def call(self, inputs):
        kernel, bias = self.collapsed()
        return self.activation(ops.conv(inputs, kernel, padding="same") + bias)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "activation": keras.activations.serialize(self.activation),
            "expand": self.expand,
        }


def reparam_conv(name: str):
    """The `conv` layer factory `build_espcn` takes for re-parameterization `name`."""
    if name not in REPARAMS:
        raise ValueError(f"unknown re-parameterization {name!r}: use one of {', '.join(REPARAMS)}")
    if not REPARAMS[name]:
        return keras.layers.Conv2D

    def conv(filters, kernel_size, **kwargs):
        return CollapsibleConv2D(filters, kernel_size, expand=REPARAMS[name], **kwargs)

    return conv


def collapse_into(model: keras.Model, plain: keras.Model) -> keras.Model:
    """Write the collapsed kernels of `model`'s blocks into the same-named Conv2D of `plain`."""
    for layer in model.layers:
        if isinstance(layer, CollapsibleConv2D):
            kernel, bias = layer.collapsed()
            plain.get_layer(layer.name).set_weights(
                [ops.convert_to_numpy(kernel), ops.convert_to_numpy(bias)]
            )
    return plain


def expand_from(plain: keras.Model, model: keras.Model, seed: int = 0) -> list[str]:
    """Start `model`'s blocks at exactly the kernels of `plain`'s same-named, same-shaped Conv2D:
    a random projection P and expansion K = (W − I)·P⁺, so that K·P + I = W. Returns the names."""
    rng = np.random.default_rng(seed)
    started = []
    for layer in model.layers:
        if not isinstance(layer, CollapsibleConv2D):
            continue
        try:
            kernel, bias = plain.get_layer(layer.name).get_weights()
        except (ValueError, KeyError):
            continue
        if kernel.shape != tuple(layer.identity.shape):
            continue
        project = rng.normal(0, 1 / np.sqrt(layer.expand), (layer.expand, layer.filters))
        expand = np.tensordot(kernel - layer.identity, np.linalg.pinv(project), axes=1)
        layer.set_weights(
            [w.astype(np.float32) for w in (expand, np.zeros(layer.expand), project, bias)]
        )
        started.append(layer.name)
    return started
