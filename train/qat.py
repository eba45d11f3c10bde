"""Quantization-aware fine-tuning without tensorflow-model-optimization (no Keras 3 support).

`QuantConv2D` simulates, in float, what the int8 TFLite graph computes for each convolution:
per-channel symmetric int8 weights, the conv output (pre-activation) quantized to int8 over a
range tracked during training (as calibration will measure it, at most ±PRE_TANH_RANGE before a
tanh, as the converter clamps it), and tanh / sigmoid outputs on
TFLite's fixed int8 grids (1/128 and 1/256). Rounding passes gradients straight through.
The fine-tuned weights go back into the plain model (same layer names), which the converter
quantizes as usual, so nothing custom reaches the .tflite file.
"""

from __future__ import annotations

import keras
from keras import ops

from espcn_edge.spec import PRE_TANH_RANGE

# TFLite's fixed int8 output quantization of the two activations: (scale, zero point).
FIXED_OUTPUT_GRID = {"tanh": (1 / 128, 0), "sigmoid": (1 / 256, -128)}


def _round_ste(x):
    return x + ops.stop_gradient(ops.round(x) - x)


def fake_quant(x, scale, zero_point):
    """Quantize to int8 on the grid (scale, zero_point) and back, as TFLite does."""
    q = ops.clip(_round_ste(x / scale) + zero_point, -128.0, 127.0)
    return (q - zero_point) * scale


def fake_quant_range(x, lo, hi):
    """Asymmetric int8 over [lo, hi] (widened to contain 0, as the converter does)."""
    lo, hi = ops.minimum(lo, 0.0), ops.maximum(hi, 0.0)
    scale = ops.maximum((hi - lo) / 255.0, 1e-8)
    zero_point = ops.round(-128.0 - lo / scale)
    return fake_quant(x, scale, zero_point)


def fake_quant_kernel(kernel):
    """Per-output-channel symmetric int8 weights."""
    scale = ops.maximum(ops.max(ops.abs(kernel), axis=(0, 1, 2)) / 127.0, 1e-8)
    return _round_ste(kernel / scale) * scale


class QuantConv2D(keras.layers.Conv2D):
    """Conv2D + activation with int8 TFLite arithmetic simulated in the forward pass."""

    def __init__(self, *args, activation=None, momentum: float = 0.99, **kwargs):
        super().__init__(*args, activation=None, **kwargs)
        self.act_name, self.momentum = activation, momentum

    def build(self, input_shape):
        super().build(input_shape)
        self.lo = self.add_weight(shape=(), initializer="zeros", trainable=False, name="lo")
        self.hi = self.add_weight(shape=(), initializer="zeros", trainable=False, name="hi")
        self.seen = self.add_weight(shape=(), initializer="zeros", trainable=False, name="seen")

    def call(self, inputs, training=None):
        y = ops.conv(inputs, fake_quant_kernel(self.kernel), padding="same") + self.bias
        if training:
            m = ops.where(self.seen > 0, self.momentum, 0.0)
            self.lo.assign(m * self.lo + (1 - m) * ops.stop_gradient(ops.min(y)))
            self.hi.assign(m * self.hi + (1 - m) * ops.stop_gradient(ops.max(y)))
            self.seen.assign(1.0)
        lo, hi = self.lo, self.hi
        if self.act_name == "tanh":
            lo, hi = ops.maximum(lo, -PRE_TANH_RANGE), ops.minimum(hi, PRE_TANH_RANGE)
        y = fake_quant_range(y, lo, hi)
        y = keras.activations.get(self.act_name)(y)
        return fake_quant(y, *FIXED_OUTPUT_GRID[self.act_name])
